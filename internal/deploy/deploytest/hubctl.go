// Package deploytest helps the tests of internal/deploy and of the
// Terraform provider: it builds hubctl once per test process, renders
// bundles from a copy of the repository's regions, probes hubs, and starts
// an SSH test host (a real sshd in a network namespace).
//
// It is a helper package for tests only, like internal/testenv.
package deploytest

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubkit/hubkit/internal/bundle"
	"github.com/hubkit/hubkit/internal/config"
	"github.com/hubkit/hubkit/internal/region"
	"github.com/hubkit/hubkit/internal/testenv"
)

var build struct {
	once      sync.Once
	dir, path string
	err       error
}

// Hubctl returns the path of a hubctl built from this repository, built
// once per test process (CGO_ENABLED=0, as `make build`). Call Cleanup
// from TestMain to remove it.
func Hubctl(t testing.TB) string {
	t.Helper()
	root := testenv.RepoRoot(t)
	build.once.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "hubkit-hubctl-")
		if build.err != nil {
			return
		}
		out := filepath.Join(build.dir, "hubctl")
		cmd := exec.Command("go", "build", "-o", out, "./cmd/hubctl")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build ./cmd/hubctl: %v\n%s", err, msg)
			return
		}
		build.path = out
	})
	if build.err != nil {
		t.Fatalf("deploytest: %v", build.err)
	}
	return build.path
}

// Cleanup removes what the package left in the temporary directory.
func Cleanup() {
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
}

// FreePort returns a TCP port that is free on 127.0.0.1 right now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// CopyRegions copies the repository's region files into a temporary
// directory that a test may edit.
func CopyRegions(t testing.TB) string {
	t.Helper()
	src := filepath.Join(testenv.RepoRoot(t), "regions")
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// EditRegion rewrites a region file of dir, replacing old by new (which
// must occur in it).
func EditRegion(t testing.TB, dir, id, old, new string) {
	t.Helper()
	f := filepath.Join(dir, id+".yaml")
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("deploytest: %s does not contain %q", f, old)
	}
	if err := os.WriteFile(f, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRegions copies the repository's regions and turns Nordjylland into
// a test region served on domain (dev: true, so Caddy's internal CA
// serves it and it may listen anywhere) whose one identity provider is
// issuer, e.g. a test OpenID Provider on the test host's loopback. Its
// client secret comes from HUBKIT_OIDC_AALBORG_SECRET.
func TestRegions(t testing.TB, issuer, domain string) string {
	t.Helper()
	dir := CopyRegions(t)
	f := filepath.Join(dir, "nordjylland.yaml")
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	start, end := strings.Index(s, "identity_providers:"), strings.Index(s, "resource_persons:")
	if start < 0 || end < start {
		t.Fatalf("deploytest: %s has no identity_providers before resource_persons", f)
	}
	s = s[:start] + fmt.Sprintf(`identity_providers:
  - kommune: Aalborg
    kind: os2faktor
    issuer: %s
    client_id: hub-test
    client_secret: { env: HUBKIT_OIDC_AALBORG_SECRET }
    roles:
      consultant: [sikkerhedskonsulent]

`, issuer) + s[end:]
	s = strings.Replace(s, "domain: nordjylland.hub.example", "domain: "+domain+"\ndev: true", 1)
	if err := os.WriteFile(f, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// ConfigFile is the repository's global configuration file.
func ConfigFile(t testing.TB) string {
	return filepath.Join(testenv.RepoRoot(t), config.DefaultFile)
}

// Render renders region id from the region files in dir.
func Render(t testing.TB, dir, id string, opt bundle.Options) *bundle.Bundle {
	t.Helper()
	cfg, err := config.Load(ConfigFile(t), true)
	if err != nil {
		t.Fatal(err)
	}
	set, err := region.LoadDir(dir, cfg.Defaults)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Errors) > 0 {
		t.Fatalf("deploytest: regions in %s are invalid:\n%v", dir, set.Errors)
	}
	b, err := bundle.Render(set, id, cfg, opt)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Readyz asks a hub's /readyz at addr (host:port) with domain as SNI and
// Host, and returns nil when it answers 200.
func Readyz(addr, domain string) error {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{Timeout: 3 * time.Second}).DialContext(ctx, network, addr)
		},
		// Test hubs use Caddy's internal CA; the probe only checks readiness.
		TLSClientConfig: &tls.Config{ServerName: domain, InsecureSkipVerify: true},
	}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	_, port, _ := net.SplitHostPort(addr)
	resp, err := c.Get("https://" + net.JoinHostPort(domain, port) + "/readyz")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /readyz: %d %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}

// Listen returns "127.0.0.1:<port>".
func Listen(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }
