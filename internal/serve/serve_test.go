package serve

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hubkit/hubkit/internal/bundle"
	"github.com/hubkit/hubkit/internal/config"
	"github.com/hubkit/hubkit/internal/region"
)

func renderAll(t *testing.T, dev bool, ids ...string) []string {
	t.Helper()
	cfg, err := config.Load("", false)
	if err != nil {
		t.Fatal(err)
	}
	set, err := region.LoadDir("../../regions", cfg.Defaults)
	if err != nil || len(set.Errors) > 0 {
		t.Fatal(err, set.Errors)
	}
	dir := t.TempDir()
	var dirs []string
	for _, id := range ids {
		b, err := bundle.Render(set, id, cfg, bundle.Options{Dev: dev})
		if err != nil {
			t.Fatal(err)
		}
		d := filepath.Join(dir, id)
		if err := b.Write(d); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, d)
	}
	return dirs
}

func TestConfigMergesBundles(t *testing.T) {
	dirs := renderAll(t, true, "nordjylland", "syddanmark")
	data := t.TempDir()
	raw, hubs, err := Config(Options{Bundles: dirs, DataDir: data, Listen: "127.0.0.1:9443"})
	if err != nil {
		t.Fatal(err)
	}
	if len(hubs) != 2 || hubs[0].URL != "https://nordjylland.hub.localhost:9443/" || !hubs[1].Dev || len(hubs[0].Providers) != 2 {
		t.Fatalf("hubs %+v", hubs)
	}
	var cfg struct {
		Storage struct{ Root string }
		Apps    struct {
			Hubkit struct {
				Sites map[string]struct {
					SiteFile string `json:"site_file"`
					DataDir  string `json:"data_dir"`
				}
			}
			HTTP struct {
				Servers map[string]struct {
					Listen []string
					Routes []json.RawMessage
				}
			}
		}
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	if s := cfg.Apps.Hubkit.Sites["syddanmark"]; s.DataDir != filepath.Join(data, "syddanmark") || !strings.HasSuffix(s.SiteFile, "syddanmark/site.json") {
		t.Errorf("syddanmark site %+v", s)
	}
	hub := cfg.Apps.HTTP.Servers["hub"]
	// Two hubs, the dev IdP, and once, last, the 421 for unknown hosts.
	if hub.Listen[0] != "127.0.0.1:9443" || len(hub.Routes) != 4 {
		t.Errorf("server listen %v with %d routes", hub.Listen, len(hub.Routes))
	}
	if !strings.Contains(string(hub.Routes[2]), `"hubkit_devidp"`) {
		t.Error("dev identity provider route missing")
	}
	for i, r := range hub.Routes {
		var v any
		json.Unmarshal(r, &v)
		if bundle.IsMisdirectedRoute(v) != (i == len(hub.Routes)-1) {
			t.Errorf("route %d: the 421 route for unknown hosts must be the last and only one", i)
		}
	}
	if cfg.Storage.Root != filepath.Join(data, "caddy") {
		t.Errorf("storage %q", cfg.Storage.Root)
	}
}

func TestConfigRefusals(t *testing.T) {
	dev := renderAll(t, true, "nordjylland")
	for _, c := range []struct {
		opt  Options
		want string
	}{
		{Options{Bundles: dev, Listen: "0.0.0.0:8443"}, "loopback only"},
		{Options{Bundles: dev, Listen: "192.0.2.1:8443"}, "loopback only"},
		{Options{Bundles: dev, Listen: "8443"}, "want host:port"},
		{Options{Bundles: append(dev, dev[0])}, "served twice"},
		{Options{}, "no bundle"},
		{Options{Bundles: []string{t.TempDir()}}, "manifest.json"},
	} {
		if _, _, err := Config(c.opt); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.opt, err, c.want)
		}
	}
	prod := renderAll(t, false, "nordjylland")
	if _, _, err := Config(Options{Bundles: prod, Listen: "0.0.0.0:443"}); err != nil {
		t.Errorf("a production bundle may listen anywhere: %v", err)
	}
}
