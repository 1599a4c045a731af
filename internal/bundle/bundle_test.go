package bundle

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hubkit/hubkit/internal/config"
	"github.com/hubkit/hubkit/internal/region"
	"github.com/hubkit/hubkit/internal/site"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func load(t *testing.T) (*region.Set, *config.Config) {
	t.Helper()
	cfg, err := config.Load("", false)
	if err != nil {
		t.Fatal(err)
	}
	set, err := region.LoadDir("../../regions", cfg.Defaults)
	if err != nil || len(set.Errors) > 0 {
		t.Fatal(err, set.Errors)
	}
	return set, cfg
}

func TestGolden(t *testing.T) {
	set, cfg := load(t)
	for _, tc := range []struct {
		name string
		opt  Options
	}{
		{"nordjylland", Options{Version: "test"}},
		{"nordjylland-dev", Options{Dev: true, Version: "test"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Render(set, "nordjylland", cfg, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{CaddyFile, SiteFile, ManifestFile} {
				golden := filepath.Join("testdata", tc.name+"."+f+".golden")
				if *update {
					if err := os.WriteFile(golden, b.Files[f], 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./internal/bundle -update)", err)
				}
				if !bytes.Equal(want, b.Files[f]) {
					t.Errorf("%s differs from %s; if the change is intended run go test ./internal/bundle -update", f, golden)
				}
			}
		})
	}
}

func TestDeterministicAndSecretFree(t *testing.T) {
	t.Setenv("HUBKIT_OIDC_AALBORG_SECRET", "s3cret-value-that-must-not-leak")
	set, cfg := load(t)
	for _, r := range set.Regions {
		a, err := Render(set, r.ID, cfg, Options{Version: "v"})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := Render(set, r.ID, cfg, Options{Version: "v"})
		for name, data := range a.Files {
			if !bytes.Equal(data, b.Files[name]) {
				t.Errorf("%s/%s: two renders differ", r.ID, name)
			}
			if bytes.Contains(data, []byte("s3cret-value")) {
				t.Errorf("%s/%s contains a secret value", r.ID, name)
			}
		}
		st := map[string]any{}
		json.Unmarshal(a.Files[SiteFile], &st)
		if strings.Contains(string(a.Files[SiteFile]), `"client_secret": "`) {
			t.Errorf("%s: client_secret written as a value", r.ID)
		}
	}
}

func TestWriteVerifyAndTamper(t *testing.T) {
	set, cfg := load(t)
	b, err := Render(set, "syddanmark", cfg, Options{Version: "v"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := b.Write(dir); err != nil {
		t.Fatal(err)
	}
	m, err := Verify(dir)
	if err != nil || m.BundleHash != b.Manifest.BundleHash {
		t.Fatalf("verify: %v", err)
	}
	st, err := site.Load(filepath.Join(dir, SiteFile))
	if err != nil || st.Region.ID != "syddanmark" || len(st.Regions) != 5 {
		t.Fatalf("site.json: %v %+v", err, st)
	}
	if len(st.National.Persons) == 0 {
		t.Error("national directory is empty; each region marks at least one person national")
	}
	os.WriteFile(filepath.Join(dir, SiteFile), append(b.Files[SiteFile], ' '), 0o644)
	if _, err := Verify(dir); err == nil || !strings.Contains(err.Error(), "does not match manifest.json") {
		t.Fatalf("tampered bundle verified: %v", err)
	}
}

func TestHardenedFront(t *testing.T) {
	set, cfg := load(t)
	b, err := Render(set, "hovedstaden", cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Admin struct{ Disabled bool }
		Apps  struct {
			HTTP struct {
				Servers map[string]struct {
					Listen            []string
					ReadHeaderTimeout string `json:"read_header_timeout"`
					IdleTimeout       string `json:"idle_timeout"`
					MaxHeaderBytes    int    `json:"max_header_bytes"`
				}
			}
		}
	}
	if err := json.Unmarshal(b.Files[CaddyFile], &c); err != nil {
		t.Fatal(err)
	}
	if !c.Admin.Disabled {
		t.Error("admin API must be off")
	}
	s := c.Apps.HTTP.Servers["hub"]
	if s.ReadHeaderTimeout == "" || s.IdleTimeout == "" || s.MaxHeaderBytes == 0 || s.Listen[0] != ":443" {
		t.Errorf("server limits missing: %+v", s)
	}
	csp := SecurityHeaders(&site.Site{Region: *set.Region("hovedstaden")})["Content-Security-Policy"][0]
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "form-action 'self' https://"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP lacks %q: %s", want, csp)
		}
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Error("CSP allows inline code")
	}
}

func TestFileDropServices(t *testing.T) {
	set, cfg := load(t)
	cfg.FileDrop = config.FileDrop{Clamd: "unix:/run/clamav/clamd.ctl", SMTPAddr: "smtp.aalborg.example:25", SMTPFrom: "sikkerfil@aalborg.example"}
	b, err := Render(set, "nordjylland", cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Apps struct {
			Hubkit struct {
				Sites map[string]struct {
					Clamd string
					SMTP  struct{ Addr, From string }
				}
			}
		}
	}
	if err := json.Unmarshal(b.Files[CaddyFile], &c); err != nil {
		t.Fatal(err)
	}
	s := c.Apps.Hubkit.Sites["nordjylland"]
	if s.Clamd != cfg.FileDrop.Clamd || s.SMTP.Addr != "smtp.aalborg.example:25" || s.SMTP.From != "sikkerfil@aalborg.example" {
		t.Errorf("site config %+v", s)
	}
}
