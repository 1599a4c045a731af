package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubkit/hubkit/internal/devidp"
	"github.com/hubkit/hubkit/internal/testenv"
)

var (
	buildOnce sync.Once
	hubctlBin string
	buildErr  error
)

// buildHubctl builds cmd/hubctl once per test process.
func buildHubctl(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hubctl-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		hubctlBin = filepath.Join(dir, "hubctl")
		cmd := exec.Command("go", "build", "-o", hubctlBin, "./cmd/hubctl")
		cmd.Dir = testenv.RepoRoot(t)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return hubctlBin
}

// project is a scratch copy of the repository's configuration for hubctl
// runs: its own regions, state, local target directory and ports.
type project struct {
	t        *testing.T
	dir      string
	cfg      string
	basePort int
}

func newProject(t *testing.T) *project {
	root := testenv.RepoRoot(t)
	p := &project{t: t, dir: t.TempDir()}
	os.MkdirAll(filepath.Join(p.dir, "regions"), 0o755)
	for _, id := range []string{"nordjylland", "midtjylland", "syddanmark", "hovedstaden", "sjaelland"} {
		b, err := os.ReadFile(filepath.Join(root, "regions", id+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(p.dir, "regions", id+".yaml"), b, 0o644)
	}
	p.basePort = freePortRange(t, 5)
	p.cfg = filepath.Join(p.dir, "hubkit.yaml")
	cfg := fmt.Sprintf(`regions_dir: %s
state_dir: %s
modules_dir: %s
targets:
  local:
    dir: %s
    base_port: %d
    dev: true
login:
  client_burst: 1000
  client_per_minute: 1000
`, filepath.Join(p.dir, "regions"), filepath.Join(p.dir, "state"), filepath.Join(root, "modules"), filepath.Join(p.dir, "hubs"), p.basePort)
	if err := os.WriteFile(p.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Stop the hubs whatever happened; their data goes with the temp dir.
		p.hubctl("destroy", "--all", "--auto-approve")
	})
	return p
}

// freePortRange finds n consecutive free loopback ports.
func freePortRange(t *testing.T, n int) int {
	for try := 0; try < 50; try++ {
		base := freePort(t)
		if base+n > 65535 {
			continue
		}
		ok := true
		for i := 1; i < n && ok; i++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+i))
			if err != nil {
				ok = false
				continue
			}
			l.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free port range")
	return 0
}

// hubctl runs the built hubctl in the project and returns its exit code,
// stdout and stderr.
func (p *project) hubctl(args ...string) (int, string, string) {
	bin := buildHubctl(p.t)
	cmd := exec.Command(bin, append(args, "--config", p.cfg)...)
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), devidp.SecretEnv+"=e2e-dev-secret")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		p.t.Fatalf("hubctl %v: %v", args, err)
	}
	return code, out.String(), errb.String()
}

type planJSON struct {
	ExitCode int `json:"exit_code"`
	Regions  []struct {
		Region   string `json:"region"`
		ExitCode int    `json:"exit_code"`
		Summary  struct {
			Change int                            `json:"change"`
			Hub    map[string]map[string][]string `json:"hub"`
		} `json:"summary"`
	} `json:"regions"`
}

// TestProvisionLocal is the operator's loop on the local target: apply all
// five regions, add a resource person to one region file, see exactly that
// in the plan (exit 2), apply it, find the person in the served directory,
// and plan again with nothing to do (exit 0).
func TestProvisionLocal(t *testing.T) {
	p := newProject(t)
	if code, out, errOut := p.hubctl("apply", "--all", "--auto-approve"); code != 0 {
		t.Fatalf("first apply: exit %d\n%s\n%s", code, out, tail(errOut, 40))
	}
	if code, out, errOut := p.hubctl("plan", "--all"); code != 0 {
		t.Fatalf("plan after apply: exit %d, want 0\n%s\n%s", code, out, tail(errOut, 40))
	}

	file := filepath.Join(p.dir, "regions", "syddanmark.yaml")
	src, _ := os.ReadFile(file)
	person := `  - name: Nynne Nyansat
    title: SSP-konsulent
    organisation: Odense Kommune
    kommune: Odense
    email: nynne.nyansat@odense.example
    tags: [ssp]

partners:`
	os.WriteFile(file, bytes.Replace(src, []byte("partners:"), []byte(person), 1), 0o644)

	code, out, errOut := p.hubctl("plan", "--all", "-o", "json")
	if code != 2 {
		t.Fatalf("plan after the edit: exit %d, want 2\n%s\n%s", code, out, tail(errOut, 40))
	}
	var plan planJSON
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatalf("plan -o json: %v\n%s", err, out)
	}
	for _, r := range plan.Regions {
		switch {
		case r.Region == "syddanmark":
			added := r.Summary.Hub["resource_persons"]["added"]
			if r.ExitCode != 2 || r.Summary.Change != 1 || len(added) != 1 || added[0] != "Nynne Nyansat <nynne.nyansat@odense.example>" || len(r.Summary.Hub) != 1 {
				t.Errorf("syddanmark plan: %+v", r)
			}
		case r.ExitCode != 0:
			t.Errorf("%s changed though its file did not: %+v", r.Region, r)
		}
	}

	if code, out, errOut := p.hubctl("apply", "--region", "syddanmark", "--auto-approve"); code != 0 {
		t.Fatalf("apply of the edit: exit %d\n%s\n%s", code, out, tail(errOut, 40))
	}
	body := p.devLoginAndGet(t, "syddanmark", 461, "odense-konsulent", "/directory?q=nynne")
	if !strings.Contains(body, "Nynne Nyansat") {
		t.Errorf("the served directory does not show the new person:\n%s", tail(body, 30))
	}
	if code, out, errOut := p.hubctl("plan", "--all"); code != 0 {
		t.Fatalf("re-plan: exit %d, want 0\n%s\n%s", code, out, tail(errOut, 40))
	}
	code, out, _ = p.hubctl("status", "--all")
	if code != 0 || strings.Count(out, " ready ") != 5 {
		t.Errorf("status: exit %d\n%s", code, out)
	}

	// A drop from Aalborg to Odense crosses from one hub process to
	// another, each with its own port, data, keys and certificate authority.
	c, base, page := p.devLogin(t, "nordjylland", 851, "aalborg-konsulent", "/drops/new")
	m := csrfRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the new-drop page\n%s", tail(page, 20))
	}
	payload := randomBytes(200_000)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, body := postMultipart(t, c, base+"/drops", mfield("csrf", html.UnescapeString(m[1])),
		mfield("recipients", "fagperson.demo@"+devidp.EmailDomain(461)), mfield("case_ref", "SAG-PROV-1"),
		mfield("purpose", "consent"), mfile("plan.pdf", payload))
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("send from Aalborg: %s\n%s", resp.Status, tail(body, 20))
	}
	odense, southBase, _ := p.devLogin(t, "syddanmark", 461, "odense-fagperson", "/drops")
	var inbox string
	waitFor(t, 60*time.Second, "the drop in Odense's inbox on Syddanmark's hub", func() bool {
		_, inbox = get(t, odense, southBase+"/drops")
		return strings.Contains(inbox, "SAG-PROV-1")
	})
	d := regexp.MustCompile(`href="(/drops/[0-9a-f]{32})"`).FindStringSubmatch(inbox)
	if d == nil {
		t.Fatalf("no drop link in the inbox\n%s", tail(inbox, 30))
	}
	_, dp := get(t, odense, southBase+d[1])
	f := fileLinkRe.FindStringSubmatch(dp)
	if f == nil || !strings.Contains(dp, sum(payload)) {
		t.Fatalf("drop page on Syddanmark's hub\n%s", tail(dp, 30))
	}
	if resp, got := get(t, odense, southBase+f[1]); resp.StatusCode != 200 || got != string(payload) {
		t.Errorf("download in Odense: %s, %d bytes, same %v", resp.Status, len(got), got == string(payload))
	}
}

// devLoginAndGet logs in to a local hub through its development identity
// provider and fetches path.
func (p *project) devLoginAndGet(t *testing.T, region string, kommune int, user, path string) string {
	t.Helper()
	_, _, body := p.devLogin(t, region, kommune, user, path)
	return body
}

// devLogin logs in to a local hub and returns the logged-in client, the
// hub's base URL and the page at path.
func (p *project) devLogin(t *testing.T, region string, kommune int, user, path string) (*http.Client, string, string) {
	t.Helper()
	port := p.basePort + map[string]int{"nordjylland": 0, "midtjylland": 1, "syddanmark": 2, "hovedstaden": 3, "sjaelland": 4}[region]
	base := fmt.Sprintf("https://%s.hub.localhost:%d", region, port)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 20 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, port, _ := net.SplitHostPort(addr)
			return (&net.Dialer{}).DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
		},
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // the hub's CA is the deployed hub's own
	}}
	resp, body := get(t, c, fmt.Sprintf("%s/login?kommune=%d&return=%s", base, kommune, url.QueryEscape(path)))
	m := regexp.MustCompile(`<form method="post" action="([^"]+)" class="login">\s*<input type="hidden" name="id" value="([^"]+)">`).FindStringSubmatch(body)
	if resp.StatusCode != 200 || m == nil {
		t.Fatalf("no dev login form at %s: %s\n%s", resp.Request.URL, resp.Status, tail(body, 20))
	}
	action := resolve(resp.Request.URL, html.UnescapeString(m[1]))
	resp, body = postForm(t, c, action, url.Values{"id": {html.UnescapeString(m[2])}, "username": {user}, "password": {devidp.Password}, "action": {"login"}})
	if resp.StatusCode != 200 || resp.Request.URL.Path != strings.SplitN(path, "?", 2)[0] {
		t.Fatalf("dev login as %s ended at %s: %s\n%s", user, resp.Request.URL, resp.Status, tail(body, 20))
	}
	return c, base, body
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
