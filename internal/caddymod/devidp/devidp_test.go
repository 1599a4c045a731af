package devidp

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/filestorage"

	"github.com/hubkit/hubkit/internal/caddymod/hubapp"
	idp "github.com/hubkit/hubkit/internal/devidp"
	"github.com/hubkit/hubkit/internal/region"
	"github.com/hubkit/hubkit/internal/site"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

const devIdPURL = "https://" + idp.Host + ":8443"

// devSite is a development hub of a region whose users come from the
// given demo municipalities.
func devSite(id, idpURL string, codes ...int) *site.Site {
	r := region.Region{ID: id, Domain: id + ".hub.localhost", Dev: true}
	for _, c := range codes {
		r.IdentityProviders = append(r.IdentityProviders, region.IdentityProvider{
			KommuneCode: c, Issuer: idp.Issuer(idpURL, c), ClientID: idp.ClientID(id),
		})
	}
	return &site.Site{Format: site.Format, Region: r, Dev: &site.DevSettings{IdPURL: idpURL}}
}

func hubSites(ss ...*site.Site) []*hubapp.Site {
	out := make([]*hubapp.Site, len(ss))
	for i, s := range ss {
		out[i] = &hubapp.Site{Site: s}
	}
	return out
}

func TestConfigFor(t *testing.T) {
	prod := devSite("hovedstaden", devIdPURL, 101)
	prod.Dev = nil
	cfg, err := configFor(hubSites(
		devSite("nordjylland", devIdPURL, 851, 773),
		devSite("midtjylland", devIdPURL, 751, 706, 851),
		prod,
	), "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BaseURL != devIdPURL {
		t.Errorf("BaseURL %q", cfg.BaseURL)
	}
	if want := []int{706, 751, 773, 851}; !slices.Equal(cfg.Kommuner, want) {
		t.Errorf("Kommuner %v, want %v (union of the dev sites only)", cfg.Kommuner, want)
	}
	want := []idp.Client{
		{ID: "hub-midtjylland", Secret: "s3cret",
			RedirectURIs:           []string{"https://midtjylland.hub.localhost:8443/auth/callback"},
			PostLogoutRedirectURIs: []string{"https://midtjylland.hub.localhost:8443/auth/signed-out"}},
		{ID: "hub-nordjylland", Secret: "s3cret",
			RedirectURIs:           []string{"https://nordjylland.hub.localhost:8443/auth/callback"},
			PostLogoutRedirectURIs: []string{"https://nordjylland.hub.localhost:8443/auth/signed-out"}},
	}
	if got, _ := json.Marshal(cfg.Clients); !bytes.Equal(got, must(json.Marshal(want))) {
		t.Errorf("clients\n got %s\nwant %s", got, must(json.Marshal(want)))
	}
	if _, err := idp.New(cfg); err != nil {
		t.Errorf("the derived config does not build a provider: %v", err)
	}

	// On the default port the URLs have none.
	cfg, err = configFor(hubSites(devSite("sjaelland", "https://"+idp.Host, 259)), "s")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Clients[0].RedirectURIs[0]; got != "https://sjaelland.hub.localhost/auth/callback" {
		t.Errorf("redirect URI %q", got)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestConfigForRefuses(t *testing.T) {
	public := devSite("nordjylland", devIdPURL, 851)
	public.Region.Domain = "hub.nordjylland.dk"
	prod := devSite("nordjylland", devIdPURL, 851)
	prod.Dev = nil
	for _, tt := range []struct {
		name   string
		sites  []*site.Site
		secret string
		want   string
	}{
		{"public IdP URL", []*site.Site{devSite("nordjylland", "https://idp.example.dk", 851)}, "s", "dev identity provider only serves localhost"},
		{"LAN IdP URL", []*site.Site{devSite("nordjylland", "https://10.0.0.5:8443", 851)}, "s", "dev identity provider only serves localhost"},
		{"public hub domain", []*site.Site{public}, "s", "dev identity provider only serves localhost"},
		{"missing secret", []*site.Site{devSite("nordjylland", devIdPURL, 851)}, "", idp.SecretEnv + " is empty"},
		{"no dev site", []*site.Site{prod}, "s", "no development site"},
		{"no sites", nil, "s", "no development site"},
		{"sites disagree", []*site.Site{devSite("nordjylland", devIdPURL, 851), devSite("midtjylland", "https://localhost:9443", 751)}, "s", "disagree"},
		{"no kommuner", []*site.Site{devSite("nordjylland", devIdPURL)}, "s", "no identity providers"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := configFor(hubSites(tt.sites...), tt.secret)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestUnmarshalCaddyfile(t *testing.T) {
	for _, tt := range []struct {
		in      string
		wantErr string
	}{
		{"hubkit_devidp", ""},
		{"hubkit_devidp nordjylland", "takes no arguments"},
		{"hubkit_devidp {\n\tissuer x\n}", "takes no block"},
	} {
		var h Handler
		err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.in))
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%q: err = %v, want %q", tt.in, err, tt.wantErr)
		}
	}
}

// TestAdapt checks the Caddyfile directive against the JSON it adapts to.
func TestAdapt(t *testing.T) {
	in, err := os.ReadFile("testdata/Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	out, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt(in, map[string]any{"filename": "Caddyfile"})
	if err != nil {
		t.Fatalf("adapt: %v", err)
	}
	if len(warnings) > 0 {
		t.Errorf("warnings: %v", warnings)
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, out, "", "\t"); err != nil {
		t.Fatal(err)
	}
	buf.WriteByte('\n')
	golden := filepath.Join("testdata", "adapt.golden")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("adapted config differs from %s (go test -update to accept):\n%s", golden, buf.Bytes())
	}
}

// TestServeThroughCaddy loads a Caddy config with the hubkit app and the
// handler, and fetches a municipality's discovery document through it.
func TestServeThroughCaddy(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	base := "http://" + addr

	dir := t.TempDir()
	siteFile := filepath.Join(dir, "site.json")
	st := devSite("nordjylland", base, 851, 773)
	st.Session = site.SessionPolicy{IdleTimeout: site.Duration(time.Hour), AbsoluteTimeout: site.Duration(8 * time.Hour)}
	if err := os.WriteFile(siteFile, must(json.Marshal(st)), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(idp.SecretEnv, "test-secret")
	config := func(dataDir string) []byte {
		return must(json.Marshal(map[string]any{
			"admin":   map[string]any{"disabled": true, "config": map[string]any{"persist": false}},
			"logging": map[string]any{"logs": map[string]any{"default": map[string]any{"level": "ERROR"}}},
			"storage": map[string]any{"module": "file_system", "root": filepath.Join(dir, "caddy")},
			"apps": map[string]any{
				// Never touch the machine's trust stores from a test.
				"pki": map[string]any{"certificate_authorities": map[string]any{"local": map[string]any{"install_trust": false}}},
				"hubkit": map[string]any{"sites": map[string]any{
					"nordjylland": map[string]any{"site_file": siteFile, "data_dir": dataDir},
				}},
				"http": map[string]any{"servers": map[string]any{"idp": map[string]any{
					"listen":          []string{addr},
					"automatic_https": map[string]any{"disable": true},
					"routes":          []any{map[string]any{"handle": []any{map[string]any{"handler": "hubkit_devidp"}}}},
					"protocols":       []string{"h1"},
				}}},
			},
		}))
	}
	if err := caddy.Load(config(filepath.Join(dir, "data")), true); err != nil {
		t.Fatalf("caddy.Load: %v", err)
	}
	t.Cleanup(func() { _ = caddy.Stop() })

	resp, err := http.Get(idp.Issuer(base, 773) + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var disc struct {
		Issuer string `json:"issuer"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &disc) != nil || disc.Issuer != idp.Issuer(base, 773) {
		t.Fatalf("discovery through Caddy: %s\n%s", resp.Status, body)
	}

	// Without the secret the module refuses to provision.
	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Setenv(idp.SecretEnv, "")
	if err := caddy.Load(config(filepath.Join(dir, "data2")), true); err == nil || !strings.Contains(err.Error(), idp.SecretEnv) {
		t.Errorf("load without %s: err = %v", idp.SecretEnv, err)
	}
}
