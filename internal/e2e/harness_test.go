// Package e2e runs the hub end to end: a rendered bundle served by Caddy
// with hubkit's modules, two real OpenID providers (npm oidc-provider, one
// Entra-like, one OS2faktor-like) and, where a browser matters, headless
// Chromium.
package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/hubkit/hubkit/internal/audit"
	"github.com/hubkit/hubkit/internal/bundle"
	"github.com/hubkit/hubkit/internal/config"
	"github.com/hubkit/hubkit/internal/region"
	"github.com/hubkit/hubkit/internal/serve"
	"github.com/hubkit/hubkit/internal/testenv"
)

const (
	tenant      = "3d6c8a0e-9f3b-4f21-8d55-0c2a1b7e4f90"
	otherTenant = "99999999-9f3b-4f21-8d55-0c2a1b7e4f90"
	domain      = "nordjylland.hub.localhost"
	southDomain = "syddanmark.hub.localhost"
)

// hub is a running test hub.
type hub struct {
	t       testing.TB
	port    int
	base    string                // https://nordjylland.hub.localhost:<port>
	data    string                // the hub's data directory
	entra   *testenv.OIDCProvider // Aalborg (851)
	os2     *testenv.OIDCProvider // Hjørring (860)
	caRoots *x509.CertPool
	storage string // Caddy's storage, when it is not under data

	// south is Region Syddanmark's hub in the same Caddy (hubOptions.south),
	// with Odense (461) logging in through odense.
	south  *hub
	odense *testenv.OIDCProvider
}

// hubOptions vary the hub under test.
type hubOptions struct {
	idle, absolute time.Duration
	strictLimits   bool // keep the default login rate limits (tests log in often)
	south          bool // serve Region Syddanmark's hub too, for drops across regions
	configure      func(*config.Config)
	logFile        string // when set, Caddy's logs (all of them) go to this file
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startHub starts both providers and a Nordjylland hub using them.
// Caddy runs in this process; tests using it must not run in parallel.
func startHub(t testing.TB, opt hubOptions) *hub {
	t.Helper()
	testenv.RequireNode(t)
	h := &hub{t: t, port: freePort(t)}
	h.base = fmt.Sprintf("https://%s:%d", domain, h.port)
	client := func(id string) testenv.OIDCClient {
		return testenv.OIDCClient{
			ClientID: id, ClientSecret: "secret-" + id,
			RedirectURIs:           []string{h.base + "/auth/callback"},
			PostLogoutRedirectURIs: []string{h.base + "/auth/signed-out"},
			BackchannelLogoutURI:   h.base + "/auth/backchannel-logout",
		}
	}
	entra := testenv.EntraLikeConfig(tenant, client("hub-entra"),
		account("anna", map[string]any{"tid": tenant, "oid": "oid-anna", "preferred_username": "anna@aalborg.example",
			"name": "Anna Konsulent", "roles": []string{"Hub.Consultant"}}),
		account("bo", map[string]any{"tid": tenant, "oid": "oid-bo", "preferred_username": "bo@aalborg.example",
			"name": "Bo Uden Rolle", "roles": []string{"Kantine"}}),
		account("eve", map[string]any{"tid": otherTenant, "oid": "oid-eve", "preferred_username": "eve@other.example",
			"name": "Eve Fremmed", "roles": []string{"Hub.Consultant"}}),
	)
	entra.OutboundTLS = &testenv.OIDCOutboundTLS{InsecureSkipVerify: true}
	os2 := testenv.OS2faktorLikeConfig(client("hub-os2"),
		account("carl", map[string]any{"sub": "carl", "email": "carl@hjoerring.example", "name": "Carl Sagsbehandler",
			"roles": []string{"sagsbehandler"}, testenv.NSISLoAClaim: "Substantial"}),
		account("dora", map[string]any{"sub": "dora", "email": "dora@hjoerring.example", "name": "Dora Lav",
			"roles": []string{"sagsbehandler"}, testenv.NSISLoAClaim: "Low"}),
	)
	os2.OutboundTLS = &testenv.OIDCOutboundTLS{InsecureSkipVerify: true}
	h.entra = testenv.StartOIDCProvider(t, entra)
	h.os2 = testenv.StartOIDCProvider(t, os2)
	if opt.south {
		h.south = &hub{t: t, port: h.port, base: fmt.Sprintf("https://%s:%d", southDomain, h.port)}
		odense := testenv.OS2faktorLikeConfig(testenv.OIDCClient{
			ClientID: "hub-odense", ClientSecret: "secret-hub-odense",
			RedirectURIs:           []string{h.south.base + "/auth/callback"},
			PostLogoutRedirectURIs: []string{h.south.base + "/auth/signed-out"},
			BackchannelLogoutURI:   h.south.base + "/auth/backchannel-logout",
		}, account("olga", map[string]any{"sub": "olga", "email": "olga@odense.example", "name": "Olga Odense",
			"roles": []string{"sagsbehandler"}, testenv.NSISLoAClaim: "Substantial"}))
		odense.OutboundTLS = &testenv.OIDCOutboundTLS{InsecureSkipVerify: true}
		h.odense = testenv.StartOIDCProvider(t, odense)
		t.Setenv("E2E_ODENSE_SECRET", "secret-hub-odense")
	}
	t.Setenv("E2E_ENTRA_SECRET", "secret-hub-entra")
	t.Setenv("E2E_OS2_SECRET", "secret-hub-os2")

	regions := writeRegions(t, h)
	cfg, err := config.Load("", false)
	if err != nil {
		t.Fatal(err)
	}
	if opt.idle != 0 {
		cfg.Session.IdleTimeout, cfg.Session.AbsoluteTimeout = opt.idle, opt.absolute
	}
	if !opt.strictLimits {
		cfg.Login.ClientBurst, cfg.Login.ClientPerMinute = 10000, 10000
	}
	if opt.configure != nil {
		opt.configure(cfg)
	}
	set, err := region.LoadDir(regions, cfg.Defaults)
	if err != nil || len(set.Errors) > 0 {
		t.Fatalf("test regions invalid: %v %v", err, set.Errors)
	}
	dir := t.TempDir()
	var bundles []string
	for _, id := range []string{"nordjylland", "syddanmark"} {
		if id == "syddanmark" && !opt.south {
			continue
		}
		b, err := bundle.Render(set, id, cfg, bundle.Options{Version: "e2e", Port: h.port})
		if err != nil {
			t.Fatal(err)
		}
		bdir := filepath.Join(dir, "bundle-"+id)
		if err := b.Write(bdir); err != nil {
			t.Fatal(err)
		}
		bundles = append(bundles, bdir)
	}
	h.data = filepath.Join(dir, "data")
	dataOpt := h.data
	if opt.south {
		// Two hubs: each its own data directory, one Caddy storage.
		h.storage = h.data
		h.data = filepath.Join(dataOpt, "nordjylland")
		h.south.data, h.south.storage = filepath.Join(dataOpt, "syddanmark"), dataOpt
	}
	cfgJSON, _, err := serve.Config(serve.Options{Bundles: bundles, DataDir: dataOpt,
		Listen: fmt.Sprintf("127.0.0.1:%d", h.port)})
	if err != nil {
		t.Fatal(err)
	}
	if opt.logFile != "" {
		cfgJSON = logToFile(t, cfgJSON, opt.logFile)
	}
	lastConfig = cfgJSON
	if err := caddy.Load(cfgJSON, true); err != nil {
		t.Fatalf("caddy: %v", err)
	}
	t.Cleanup(func() { _ = caddy.Stop() })
	h.waitReady()
	if h.south != nil {
		h.south.waitReady()
	}
	return h
}

func account(id string, claims map[string]any) testenv.OIDCAccount {
	return testenv.OIDCAccount{AccountID: id, Claims: claims}
}

// writeRegions copies the repository's regions and points Nordjylland at
// the test providers and the local host name.
func writeRegions(t testing.TB, h *hub) string {
	dir := t.TempDir()
	root := testenv.RepoRoot(t)
	for _, id := range []string{"midtjylland", "syddanmark", "hovedstaden", "sjaelland"} {
		b, err := os.ReadFile(filepath.Join(root, "regions", id+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, id+".yaml"), b, 0o644)
	}
	src, err := os.ReadFile(filepath.Join(root, "regions", "nordjylland.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	start, end := strings.Index(s, "identity_providers:"), strings.Index(s, "resource_persons:")
	idps := fmt.Sprintf(`identity_providers:
  - kommune: Aalborg
    kind: entra
    issuer: %s
    client_id: hub-entra
    client_secret: { env: E2E_ENTRA_SECRET }
    allowed_tenants: [%s]
    roles:
      consultant: [Hub.Consultant]
    nsis: { minimum: substantial, assume: substantial }
  - kommune: Hjørring
    kind: os2faktor
    issuer: %s
    client_id: hub-os2
    client_secret: { env: E2E_OS2_SECRET }
    roles:
      professional: [sagsbehandler]
    nsis: { minimum: substantial }

`, h.entra.Issuer, tenant, h.os2.Issuer)
	s = s[:start] + idps + s[end:]
	s = strings.Replace(s, "domain: nordjylland.hub.example", "domain: "+domain+"\ndev: true", 1)
	if err := os.WriteFile(filepath.Join(dir, "nordjylland.yaml"), []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	if h.odense != nil {
		src, err := os.ReadFile(filepath.Join(root, "regions", "syddanmark.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		s := string(src)
		start, end := strings.Index(s, "identity_providers:"), strings.Index(s, "resource_persons:")
		s = s[:start] + fmt.Sprintf(`identity_providers:
  - kommune: Odense
    kind: os2faktor
    issuer: %s
    client_id: hub-odense
    client_secret: { env: E2E_ODENSE_SECRET }
    email_domains: [odense.example]
    roles:
      professional: [sagsbehandler]
    nsis: { minimum: substantial }

`, h.odense.Issuer) + s[end:]
		s = strings.Replace(s, "domain: syddanmark.hub.example", "domain: "+southDomain+"\ndev: true", 1)
		if err := os.WriteFile(filepath.Join(dir, "syddanmark.yaml"), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// client is a browser-like HTTP client: a cookie jar, *.localhost dialled
// on loopback, the hub's certificate checked against Caddy's local CA, and
// redirects not followed (tests follow them step by step).
func (h *hub) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Jar:     jar,
		Timeout: 20 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				host, port, _ := net.SplitHostPort(addr)
				if strings.HasSuffix(host, ".localhost") {
					addr = net.JoinHostPort("127.0.0.1", port)
				}
				return dialer.DialContext(ctx, network, addr)
			},
			TLSClientConfig: &tls.Config{RootCAs: h.roots()},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func (h *hub) roots() *x509.CertPool {
	if h.caRoots != nil {
		return h.caRoots
	}
	storage := h.storage
	if storage == "" {
		storage = h.data
	}
	pem, err := os.ReadFile(filepath.Join(storage, "caddy", "pki", "authorities", "local", "root.crt"))
	if err != nil {
		h.t.Fatalf("Caddy's local CA root: %v", err)
	}
	h.caRoots = x509.NewCertPool()
	h.caRoots.AppendCertsFromPEM(pem)
	return h.caRoots
}

func (h *hub) waitReady() {
	c := h.client()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := c.Get(h.base + "/readyz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
			err = fmt.Errorf("%s: %s", resp.Status, body)
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("hub not ready: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// get fetches a URL with c and returns the response with its body read.
func get(t testing.TB, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func postForm(t testing.TB, c *http.Client, u string, v url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := c.PostForm(u, v)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// login runs a whole login with an HTTP client up to the hub's callback:
// start at the hub, log in at the provider as user, and return the
// callback URL the provider sent the browser to (not yet followed).
func (h *hub) loginToCallback(t testing.TB, c *http.Client, kommune int, user, returnTo string) string {
	t.Helper()
	u := fmt.Sprintf("%s/login?kommune=%d&return=%s", h.base, kommune, url.QueryEscape(returnTo))
	resp, body := get(t, c, u)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login start: %s\n%s", resp.Status, body)
	}
	next := resp.Header.Get("Location")
	for i := 0; i < 10; i++ {
		if strings.HasPrefix(next, h.base+"/auth/callback") {
			return next
		}
		resp, body = get(t, c, next)
		switch {
		case resp.StatusCode >= 300 && resp.StatusCode < 400:
			next = resolve(resp.Request.URL, resp.Header.Get("Location"))
		case strings.Contains(body, `name="username"`):
			resp, body = postForm(t, c, resp.Request.URL.String()+"/login", url.Values{"username": {user}})
			if resp.StatusCode < 300 || resp.StatusCode >= 400 {
				t.Fatalf("provider login as %s: %s\n%s", user, resp.Status, body)
			}
			next = resolve(resp.Request.URL, resp.Header.Get("Location"))
		default:
			t.Fatalf("unexpected page at %s: %s\n%s", next, resp.Status, body)
		}
	}
	t.Fatalf("login did not reach the callback; last %s", next)
	return ""
}

func resolve(base *url.URL, loc string) string {
	u, err := base.Parse(loc)
	if err != nil {
		return loc
	}
	return u.String()
}

// lastAudit returns the audit records of the hub.
func (h *hub) auditRecords(t testing.TB) []audit.Record {
	t.Helper()
	var recs []audit.Record
	// The hub holds the log open; Export on the file reads what is written.
	if _, err := audit.Export(filepath.Join(h.data, audit.FileName), func(r audit.Record) bool {
		recs = append(recs, r)
		return false
	}, io.Discard); err != nil {
		t.Fatalf("audit log: %v", err)
	}
	return recs
}

func (h *hub) lastAudit(t testing.TB) audit.Record {
	recs := h.auditRecords(t)
	if len(recs) == 0 {
		t.Fatal("audit log is empty")
	}
	return recs[len(recs)-1]
}

// hotline is Nordjylland's hotline as the hub shows it.
func (h *hub) hotline() string { return "99 31 00 00" }

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the CSRF token from the logged-in home page's logout form.
func (h *hub) csrf(t testing.TB, c *http.Client) string {
	t.Helper()
	resp, body := get(t, c, h.base+"/")
	m := csrfRe.FindStringSubmatch(body)
	if resp.StatusCode != 200 || m == nil {
		t.Fatalf("no CSRF token on the home page (%s)", resp.Status)
	}
	return html.UnescapeString(m[1])
}

// logToFile points the default Caddy log of a configuration at a file,
// keeping its encoder, so a test can read what the hub logged.
func logToFile(t testing.TB, cfgJSON []byte, path string) []byte {
	var cfg map[string]any
	if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
		t.Fatal(err)
	}
	def := cfg["logging"].(map[string]any)["logs"].(map[string]any)["default"].(map[string]any)
	def["writer"] = map[string]any{"output": "file", "filename": path, "roll": false}
	def["level"] = "DEBUG"
	out, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
