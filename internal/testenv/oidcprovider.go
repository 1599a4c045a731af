package testenv

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// NSISLoAClaim is the claim in which OS2faktor (and other Danish NSIS brokers)
// state the assurance level of a login: "Low", "Substantial" or "High".
const NSISLoAClaim = "https://data.gov.dk/concept/core/nsis/loa"

// OIDCConfig is the configuration of one test OpenID Provider. It is written
// as JSON for testdata/oidcprovider/server.mjs; testdata/oidcprovider/README.md
// documents every field. Zero values mean the provider's defaults.
type OIDCConfig struct {
	// Host to listen on; default 127.0.0.1.
	Host string `json:"host,omitempty"`
	// Port to listen on; 0 (the default) picks a free port.
	Port int `json:"port,omitempty"`
	// Issuer is the full issuer URL. Leave it empty to get
	// http://<host>:<port><IssuerPath>; set it only together with Port.
	Issuer string `json:"issuer,omitempty"`
	// IssuerPath is the path of the issuer, e.g. "/<tenant-id>/v2.0" for an
	// Entra-like provider. The provider's endpoints live below it.
	IssuerPath string `json:"issuerPath,omitempty"`
	// Client is the one registered client (relying party).
	Client OIDCClient `json:"client"`
	// Accounts are the users that can log in; the login form asks for the
	// AccountID.
	Accounts []OIDCAccount `json:"accounts"`
	// ClaimsByScope maps a scope to the claims it releases. Empty means that
	// the scope openid releases every claim of any account, which puts them
	// all in the ID token.
	ClaimsByScope map[string][]string `json:"claimsByScope,omitempty"`
	// Scopes the provider advertises; default openid, offline_access,
	// profile, email.
	Scopes []string `json:"scopes,omitempty"`
	// IDTokenSigningAlg is RS256 (default), PS256, ES256 or EdDSA.
	IDTokenSigningAlg string `json:"idTokenSigningAlg,omitempty"`
	// IDTokenTTL, AccessTokenTTL and SessionTTL are lifetimes in seconds
	// (defaults 3600, 3600 and 28800).
	IDTokenTTL     int `json:"idTokenTTL,omitempty"`
	AccessTokenTTL int `json:"accessTokenTTL,omitempty"`
	SessionTTL     int `json:"sessionTTL,omitempty"`
	// PKCERequired defaults to true; set false to allow code flow without PKCE.
	PKCERequired *bool `json:"pkceRequired,omitempty"`
	// LoginTitle is shown on the login page, e.g. "OS2faktor (test)".
	LoginTitle string `json:"loginTitle,omitempty"`
	// OutboundTLS configures the provider's calls to the client's
	// back-channel logout URI when that is https (e.g. the hub behind Caddy's
	// internal CA). Names *.localhost resolve to 127.0.0.1 for these calls.
	OutboundTLS *OIDCOutboundTLS `json:"outboundTLS,omitempty"`
}

// OIDCClient is the registered client of a test OpenID Provider.
type OIDCClient struct {
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
	ClientName   string `json:"clientName,omitempty"`
	// RedirectURIs may be http or https, loopback or *.localhost.
	RedirectURIs           []string `json:"redirectUris"`
	PostLogoutRedirectURIs []string `json:"postLogoutRedirectUris,omitempty"`
	// TokenEndpointAuthMethod is client_secret_basic (default) or client_secret_post.
	TokenEndpointAuthMethod string `json:"tokenEndpointAuthMethod,omitempty"`
	// BackchannelLogoutURI receives logout tokens (POST, form field logout_token).
	BackchannelLogoutURI string `json:"backchannelLogoutUri,omitempty"`
	// BackchannelLogoutSessionRequired defaults to true: logout tokens and ID
	// tokens then carry sid.
	BackchannelLogoutSessionRequired *bool `json:"backchannelLogoutSessionRequired,omitempty"`
}

// OIDCAccount is a user of a test OpenID Provider. Its AccountID is the
// subject (sub) and the user name on the login form; Claims go into the ID
// token as they are (any JSON values).
type OIDCAccount struct {
	AccountID string         `json:"accountId"`
	Claims    map[string]any `json:"claims,omitempty"`
	// ACR and AMR, when set, are the acr and amr of the login.
	ACR string   `json:"acr,omitempty"`
	AMR []string `json:"amr,omitempty"`
}

// OIDCOutboundTLS configures TLS for the provider's outbound calls.
type OIDCOutboundTLS struct {
	// CAFile is a PEM file of the CA to trust (e.g. Caddy's local root.crt).
	CAFile string `json:"caFile,omitempty"`
	// InsecureSkipVerify trusts any certificate.
	InsecureSkipVerify bool `json:"insecureSkipVerify,omitempty"`
}

// EntraLikeConfig returns the configuration of a provider that looks like
// Microsoft Entra ID for one tenant: issuer http://127.0.0.1:<port>/<tenantID>/v2.0.
// Give the accounts the claims Entra puts in its ID tokens: tid, oid,
// preferred_username, name, roles.
func EntraLikeConfig(tenantID string, client OIDCClient, accounts ...OIDCAccount) OIDCConfig {
	return OIDCConfig{
		IssuerPath: "/" + tenantID + "/v2.0",
		Client:     client,
		Accounts:   accounts,
		LoginTitle: "Microsoft Entra ID (test tenant " + tenantID + ")",
	}
}

// OS2faktorLikeConfig returns the configuration of a provider that looks like
// an OS2faktor IdP of a municipality. Give the accounts the claims
// NSISLoAClaim ("Low", "Substantial" or "High"), roles and email.
func OS2faktorLikeConfig(client OIDCClient, accounts ...OIDCAccount) OIDCConfig {
	return OIDCConfig{
		IssuerPath: "/oauth2",
		Client:     client,
		Accounts:   accounts,
		LoginTitle: "OS2faktor (test)",
	}
}

// OIDCProvider is a running test OpenID Provider.
type OIDCProvider struct {
	// Issuer is the issuer URL; discovery is at Issuer + "/.well-known/openid-configuration".
	Issuer string
	// BaseURL is http://<host>:<port>, where the /__test/ endpoints live.
	BaseURL string
	// Config is the configuration the provider was started with.
	Config OIDCConfig

	stop func()
}

// Stop ends the provider before the test does (to test a provider that
// goes down); StartOIDCProvider with Config, Port and Issuer set starts
// it again at the same address.
func (p *OIDCProvider) Stop() { p.stop() }

// DiscoveryURL returns the URL of the provider's discovery document.
func (p *OIDCProvider) DiscoveryURL() string {
	return strings.TrimSuffix(p.Issuer, "/") + "/.well-known/openid-configuration"
}

// OIDCSession is a login session at the provider.
type OIDCSession struct {
	Sub string `json:"sub"`
	// Sid is the session id the client sees (sid claim); empty if the client
	// has not been authorised in the session yet.
	Sid string `json:"sid"`
}

// TriggerBackchannelLogout makes the provider send an OpenID Connect
// Back-Channel Logout token to the client's BackchannelLogoutURI, as it would
// when the user logs out at the provider, and ends the matching provider
// sessions. Give sub, sid or both; with sub alone every session of that user
// is logged out. It returns an error when no session matches or the client
// did not answer 200/204.
func (p *OIDCProvider) TriggerBackchannelLogout(sub, sid string) error {
	body, err := json.Marshal(map[string]string{"sub": sub, "sid": sid})
	if err != nil {
		return err
	}
	resp, err := http.Post(p.BaseURL+"/__test/backchannel-logout", "application/json", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("trigger back-channel logout: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("trigger back-channel logout for sub=%q sid=%q: %s: %s", sub, sid, resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}

// Sessions lists the provider's current login sessions.
func (p *OIDCProvider) Sessions() ([]OIDCSession, error) {
	resp, err := http.Get(p.BaseURL + "/__test/sessions")
	if err != nil {
		return nil, fmt.Errorf("list provider sessions: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("list provider sessions: %s", resp.Status)
	}
	var out struct {
		Sessions []OIDCSession `json:"sessions"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("list provider sessions: %w", err)
	}
	return out.Sessions, nil
}

// oidcStartTimeout bounds the wait for the READY line.
const oidcStartTimeout = 30 * time.Second

// StartOIDCProvider starts testdata/oidcprovider/server.mjs with cfg and
// returns once it listens. The provider is stopped when the test ends. Its
// output goes to the test log.
func StartOIDCProvider(t testing.TB, cfg OIDCConfig) *OIDCProvider {
	t.Helper()
	node := RequireNode(t)
	dir := filepath.Join(RepoRoot(t), OIDCProviderDir)

	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatalf("testenv: encode OIDC provider config: %v", err)
	}
	cfgPath := filepath.Join(t.TempDir(), "oidcprovider.json")
	if err := os.WriteFile(cfgPath, data, 0o600); err != nil {
		t.Fatalf("testenv: write OIDC provider config: %v", err)
	}

	log := newLockedLogger(t, "oidcprovider: ")
	cmd := exec.Command(node, "server.mjs", cfgPath)
	cmd.Dir = dir
	// The provider exits when its stdin closes, so it dies with a test
	// process that crashes before its cleanup runs.
	cmd.Env = append(os.Environ(), "OIDC_TEST_EXIT_ON_STDIN_EOF=1", "NODE_ENV=test")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	stderr := &tailWriter{log: log, max: 8 << 10}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("testenv: start %s server.mjs: %v", node, err)
	}

	ready := make(chan string, 1)
	stdoutDone := make(chan struct{})
	go func() {
		defer close(stdoutDone)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if issuer, ok := strings.CutPrefix(line, "READY "); ok {
				select {
				case ready <- issuer:
				default:
				}
				continue
			}
			log.Logf("%s", line)
		}
	}()
	exited := make(chan error, 1)
	go func() {
		<-stdoutDone
		exited <- cmd.Wait()
	}()

	var stopOnce sync.Once
	stop := func() {
		stopOnce.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
			}
			stdin.Close()
			log.Close()
		})
	}
	t.Cleanup(stop)

	select {
	case issuer := <-ready:
		u, err := url.Parse(issuer)
		if err != nil {
			t.Fatalf("testenv: the OIDC provider printed a bad issuer %q: %v", issuer, err)
		}
		base := u.Scheme + "://" + u.Host
		if cfg.Issuer != "" && cfg.Port != 0 {
			base = "http://" + net.JoinHostPort(hostOr(cfg.Host), strconv.Itoa(cfg.Port))
		}
		return &OIDCProvider{Issuer: issuer, BaseURL: base, Config: cfg, stop: stop}
	case err := <-exited:
		exited <- err // let stop see the exit
		t.Fatalf("testenv: the OIDC provider exited before it was ready (%v); config %s:\n%s\nstderr:\n%s", err, cfgPath, data, stderr.String())
	case <-time.After(oidcStartTimeout):
		stop()
		t.Fatalf("testenv: the OIDC provider did not print READY within %v; stderr:\n%s", oidcStartTimeout, stderr.String())
	}
	return nil
}

func hostOr(host string) string {
	if host == "" {
		return "127.0.0.1"
	}
	return host
}

// tailWriter logs each line written to it and keeps the last max bytes for
// error messages.
type tailWriter struct {
	mu   sync.Mutex
	log  *lockedLogger
	max  int
	buf  []byte
	part []byte
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if len(w.buf) > w.max {
		w.buf = w.buf[len(w.buf)-w.max:]
	}
	w.part = append(w.part, p...)
	for {
		i := bytes.IndexByte(w.part, '\n')
		if i < 0 {
			break
		}
		w.log.Logf("%s", w.part[:i])
		w.part = w.part[i+1:]
	}
	return len(p), nil
}

func (w *tailWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.buf)
}
