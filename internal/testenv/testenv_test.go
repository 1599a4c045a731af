package testenv

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// relyingParty is a minimal client of the test provider: a loopback HTTP
// server with the redirect URI /cb, the back-channel logout URI /backchannel
// and a page with a known accessibility fault, /inaccessible.
type relyingParty struct {
	srv       *httptest.Server
	callbacks chan url.Values
	logouts   chan string
}

func newRelyingParty(t *testing.T) *relyingParty {
	t.Helper()
	rp := &relyingParty{callbacks: make(chan url.Values, 4), logouts: make(chan string, 4)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /cb", func(w http.ResponseWriter, r *http.Request) {
		rp.callbacks <- r.URL.Query()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!DOCTYPE html><html lang="en"><head><title>Callback</title></head><body><main><h1 id="callback-ok">Signed in</h1></main></body></html>`)
	})
	mux.HandleFunc("POST /backchannel", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rp.logouts <- r.PostForm.Get("logout_token")
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("GET /logged-out", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!DOCTYPE html><html lang="en"><head><title>Logged out</title></head><body><main><h1 id="logged-out">Logged out</h1></main></body></html>`)
	})
	mux.HandleFunc("GET /inaccessible", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!DOCTYPE html><html><head><title>x</title></head><body><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="></body></html>`)
	})
	rp.srv = httptest.NewServer(mux)
	t.Cleanup(rp.srv.Close)
	return rp
}

// nextLogout waits for the next logout token posted to /backchannel.
func (rp *relyingParty) nextLogout(ctx context.Context, t *testing.T) string {
	t.Helper()
	select {
	case token := <-rp.logouts:
		return token
	case <-ctx.Done():
		t.Fatal("no back-channel logout arrived")
		return ""
	}
}

// checkLogoutToken verifies a back-channel logout token (RFC: OpenID Connect
// Back-Channel Logout 1.0, section 2.4) and its sub and sid.
func checkLogoutToken(ctx context.Context, t *testing.T, provider *oidc.Provider, clientID, token, sub, sid string) {
	t.Helper()
	lt, err := provider.Verifier(&oidc.Config{ClientID: clientID}).Verify(ctx, token)
	if err != nil {
		t.Fatalf("verify the logout token: %v", err)
	}
	var c struct {
		Sid    string                     `json:"sid"`
		Events map[string]json.RawMessage `json:"events"`
		Nonce  *string                    `json:"nonce"`
	}
	if err := lt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	if lt.Subject != sub || c.Sid != sid {
		t.Errorf("logout token sub, sid = %q, %q; want %q, %q", lt.Subject, c.Sid, sub, sid)
	}
	if _, ok := c.Events["http://schemas.openid.net/event/backchannel-logout"]; !ok || c.Nonce != nil {
		t.Errorf("logout token events = %v, nonce = %v; want the back-channel logout event and no nonce", c.Events, c.Nonce)
	}
}

func randomString(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func os2faktorConfig(rp *relyingParty) OIDCConfig {
	return OS2faktorLikeConfig(OIDCClient{
		ClientID:               "hub-nordjylland",
		ClientSecret:           "test-secret-os2faktor",
		RedirectURIs:           []string{rp.srv.URL + "/cb", "https://nordjylland.hub.localhost:8443/auth/callback"},
		PostLogoutRedirectURIs: []string{rp.srv.URL + "/logged-out", "https://nordjylland.hub.localhost:8443/"},
		BackchannelLogoutURI:   rp.srv.URL + "/backchannel",
	},
		OIDCAccount{AccountID: "anna.konsulent", Claims: map[string]any{
			"email":      "anna@aalborg.dk",
			"name":       "Anna Konsulent",
			"roles":      []string{"koordinerende-sikkerhedskonsulent"},
			NSISLoAClaim: "Substantial",
		}},
		OIDCAccount{AccountID: "lars.lav", Claims: map[string]any{
			"email":      "lars@aalborg.dk",
			"roles":      []string{"fagperson"},
			NSISLoAClaim: "Low",
		}},
	)
}

func TestOIDCProviderDiscovery(t *testing.T) {
	rp := newRelyingParty(t)
	p := StartOIDCProvider(t, os2faktorConfig(rp))
	if !strings.HasPrefix(p.Issuer, "http://127.0.0.1:") || !strings.HasSuffix(p.Issuer, "/oauth2") {
		t.Fatalf("issuer = %q, want http://127.0.0.1:<port>/oauth2", p.Issuer)
	}

	resp, err := http.Get(p.DiscoveryURL())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", p.DiscoveryURL(), resp.Status)
	}
	var doc struct {
		Issuer                     string   `json:"issuer"`
		JWKSURI                    string   `json:"jwks_uri"`
		EndSessionEndpoint         string   `json:"end_session_endpoint"`
		BackchannelLogoutSupported bool     `json:"backchannel_logout_supported"`
		BackchannelLogoutSession   bool     `json:"backchannel_logout_session_supported"`
		CodeChallengeMethods       []string `json:"code_challenge_methods_supported"`
		ClaimsSupported            []string `json:"claims_supported"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.Issuer != p.Issuer {
		t.Errorf("issuer = %q, want %q", doc.Issuer, p.Issuer)
	}
	if doc.JWKSURI != p.Issuer+"/jwks" {
		t.Errorf("jwks_uri = %q, want %q", doc.JWKSURI, p.Issuer+"/jwks")
	}
	if doc.EndSessionEndpoint != p.Issuer+"/session/end" {
		t.Errorf("end_session_endpoint = %q, want %q", doc.EndSessionEndpoint, p.Issuer+"/session/end")
	}
	if !doc.BackchannelLogoutSupported || !doc.BackchannelLogoutSession {
		t.Errorf("backchannel_logout_supported = %v, backchannel_logout_session_supported = %v, want both true",
			doc.BackchannelLogoutSupported, doc.BackchannelLogoutSession)
	}
	if !slices.Equal(doc.CodeChallengeMethods, []string{"S256"}) {
		t.Errorf("code_challenge_methods_supported = %v, want [S256]", doc.CodeChallengeMethods)
	}
	for _, c := range []string{NSISLoAClaim, "roles", "email"} {
		if !slices.Contains(doc.ClaimsSupported, c) {
			t.Errorf("claims_supported %v lacks %q", doc.ClaimsSupported, c)
		}
	}

	jwks, err := http.Get(doc.JWKSURI)
	if err != nil {
		t.Fatal(err)
	}
	defer jwks.Body.Close()
	var keys struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.NewDecoder(jwks.Body).Decode(&keys); err != nil || len(keys.Keys) == 0 {
		t.Fatalf("jwks: %d keys, err %v", len(keys.Keys), err)
	}
	for _, k := range keys.Keys {
		if _, private := k["d"]; private {
			t.Fatalf("jwks publishes a private key: %v", k["kid"])
		}
	}
}

// TestBrowserLoginWithPKCE logs in through real headless Chromium with the
// authorization code flow and PKCE, verifies the ID token with go-oidc, runs
// axe-core on the login page and logs out again (RP-initiated logout, which
// sends a back-channel logout too).
func TestBrowserLoginWithPKCE(t *testing.T) {
	rp := newRelyingParty(t)
	p := StartOIDCProvider(t, os2faktorConfig(rp))
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()

	provider, err := oidc.NewProvider(ctx, p.Issuer)
	if err != nil {
		t.Fatalf("go-oidc discovery: %v", err)
	}
	conf := oauth2.Config{
		ClientID:     p.Config.Client.ClientID,
		ClientSecret: p.Config.Client.ClientSecret,
		Endpoint:     provider.Endpoint(),
		RedirectURL:  rp.srv.URL + "/cb",
		Scopes:       []string{oidc.ScopeOpenID, "profile", "email"},
	}
	verifier := oauth2.GenerateVerifier()
	state, nonce := randomString(t), randomString(t)
	authURL := conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))

	browser := NewBrowser(t)
	// Each step gets its own timeout, shorter than the browser's, so that a
	// failing step can still describe the page.
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		stepCtx, cancel := context.WithTimeout(browser, 15*time.Second)
		defer cancel()
		if err := chromedp.Do(stepCtx, steps...); err != nil {
			t.Fatalf("%s: %v\n%s", what, err, DescribePage(browser))
		}
	}
	do("open the login page",
		chromedp.Navigate(authURL),
		chromedp.WaitVisible(chromedp.ID("username")),
	)

	// RunAxe works on the provider's login page (the count is not asserted).
	violations := RunAxe(browser, t)
	t.Logf("axe-core on the login page: %d violation(s)\n%s", len(violations), FormatAxeViolations(violations))

	do("log in",
		chromedp.SendKeys(chromedp.ID("username"), "anna.konsulent"),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("callback-ok")),
	)
	loc, err := chromedp.Run(browser, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(loc, rp.srv.URL+"/cb?") {
		t.Fatalf("browser ended at %s, want the callback %s/cb", loc, rp.srv.URL)
	}

	var cb url.Values
	select {
	case cb = <-rp.callbacks:
	case <-ctx.Done():
		t.Fatal("the callback was not called")
	}
	if cb.Get("state") != state {
		t.Fatalf("callback state = %q, want %q (query %v)", cb.Get("state"), state, cb)
	}
	if cb.Get("iss") != p.Issuer {
		t.Errorf("callback iss = %q, want %q (RFC 9207)", cb.Get("iss"), p.Issuer)
	}
	code := cb.Get("code")
	if code == "" {
		t.Fatalf("callback has no code: %v", cb)
	}

	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange the code with the PKCE verifier: %v", err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		t.Fatal("token response has no id_token")
	}
	idToken, err := provider.Verifier(&oidc.Config{ClientID: conf.ClientID}).Verify(ctx, rawID)
	if err != nil {
		t.Fatalf("verify the ID token: %v", err)
	}
	var claims struct {
		Nonce string   `json:"nonce"`
		Sid   string   `json:"sid"`
		Email string   `json:"email"`
		Name  string   `json:"name"`
		Roles []string `json:"roles"`
		LoA   string   `json:"https://data.gov.dk/concept/core/nsis/loa"`
	}
	if err := idToken.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if idToken.Subject != "anna.konsulent" {
		t.Errorf("sub = %q, want anna.konsulent", idToken.Subject)
	}
	if claims.Nonce != nonce {
		t.Errorf("nonce = %q, want %q", claims.Nonce, nonce)
	}
	if claims.LoA != "Substantial" {
		t.Errorf("NSIS loa claim = %q, want Substantial", claims.LoA)
	}
	if !slices.Equal(claims.Roles, []string{"koordinerende-sikkerhedskonsulent"}) {
		t.Errorf("roles = %v, want [koordinerende-sikkerhedskonsulent]", claims.Roles)
	}
	if claims.Email != "anna@aalborg.dk" || claims.Name != "Anna Konsulent" {
		t.Errorf("email, name = %q, %q", claims.Email, claims.Name)
	}
	if claims.Sid == "" {
		t.Fatal("the ID token has no sid, though the client requires back-channel logout sessions")
	}

	// The code is single-use.
	if _, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier)); err == nil {
		t.Error("a second exchange of the same code succeeded")
	}

	sessions, err := p.Sessions()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(sessions, OIDCSession{Sub: "anna.konsulent", Sid: claims.Sid}) {
		t.Fatalf("sessions = %v, want one for anna.konsulent with sid %s", sessions, claims.Sid)
	}

	// RP-initiated logout in the browser: the provider asks, the user
	// confirms, the provider sends a back-channel logout for the session and
	// redirects to the post-logout redirect URI.
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := provider.Claims(&meta); err != nil || meta.EndSession == "" {
		t.Fatalf("end_session_endpoint = %q (err %v)", meta.EndSession, err)
	}
	endSession := meta.EndSession + "?" + url.Values{
		"id_token_hint":            {rawID},
		"post_logout_redirect_uri": {rp.srv.URL + "/logged-out"},
		"state":                    {"bye"},
	}.Encode()
	do("RP-initiated logout",
		chromedp.Navigate(endSession),
		chromedp.Click(chromedp.ID("logout-yes")),
		chromedp.WaitVisible(chromedp.ID("logged-out")),
	)
	if loc, _ := chromedp.Run(browser, chromedp.Location()); loc != rp.srv.URL+"/logged-out?state=bye" {
		t.Errorf("after logout the browser is at %s, want %s/logged-out?state=bye", loc, rp.srv.URL)
	}
	checkLogoutToken(ctx, t, provider, conf.ClientID, rp.nextLogout(ctx, t), "anna.konsulent", claims.Sid)
	if sessions, err := p.Sessions(); err != nil || len(sessions) != 0 {
		t.Errorf("sessions after the logout = %v (err %v), want none", sessions, err)
	}

	// RunAxe finds a known fault: an image without alternative text.
	do("open a page with a fault", chromedp.Navigate(rp.srv.URL+"/inaccessible"))
	found := RunAxe(browser, t, "wcag2a")
	if !slices.ContainsFunc(found, func(v AxeViolation) bool { return v.ID == "image-alt" && len(v.Nodes) == 1 }) {
		t.Errorf("axe-core did not report image-alt on a page with an image without alt:\n%s", FormatAxeViolations(found))
	}
}

// TestEntraLikeLoginWithoutBrowser runs the Entra-like profile (tenant issuer
// path, client_secret_post, a short ID token lifetime) through the same form
// with Go's HTTP client, checks that PKCE is required, and has the provider
// send a back-channel logout through its /__test/ endpoint.
func TestEntraLikeLoginWithoutBrowser(t *testing.T) {
	rp := newRelyingParty(t)
	const tenant = "3d6c8a0e-9f3b-4f21-8d55-0c2a1b7e4f90"
	cfg := EntraLikeConfig(tenant, OIDCClient{
		ClientID:                "00000000-aaaa-bbbb-cccc-000000000001",
		ClientSecret:            "test-secret-entra",
		RedirectURIs:            []string{rp.srv.URL + "/cb"},
		TokenEndpointAuthMethod: "client_secret_post",
		BackchannelLogoutURI:    rp.srv.URL + "/backchannel",
	}, OIDCAccount{AccountID: "bo", Claims: map[string]any{
		"tid":                tenant,
		"oid":                "9a1b2c3d-0000-4000-8000-000000000042",
		"preferred_username": "bo@kommune.example",
		"name":               "Bo Ressourceperson",
		"roles":              []string{"Hub.Ressourceperson"},
	}})
	cfg.IDTokenTTL = 120
	p := StartOIDCProvider(t, cfg)
	if want := "/" + tenant + "/v2.0"; !strings.HasSuffix(p.Issuer, want) {
		t.Fatalf("issuer = %q, want it to end in %s", p.Issuer, want)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	provider, err := oidc.NewProvider(ctx, p.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	conf := oauth2.Config{
		ClientID:     cfg.Client.ClientID,
		ClientSecret: cfg.Client.ClientSecret,
		Endpoint:     provider.Endpoint(),
		RedirectURL:  rp.srv.URL + "/cb",
		Scopes:       []string{oidc.ScopeOpenID, "profile"},
	}
	conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams

	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second}

	// Without a code challenge the provider refuses (PKCE is required).
	resp, err := client.Get(conf.AuthCodeURL("s0"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if cb := <-rp.callbacks; cb.Get("error") != "invalid_request" || !strings.Contains(cb.Get("error_description"), "PKCE") {
		t.Fatalf("authorize without PKCE: callback %v, want error=invalid_request about PKCE", cb)
	}

	verifier := oauth2.GenerateVerifier()
	resp, err = client.Get(conf.AuthCodeURL("s1", oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), `name="username"`) {
		t.Fatalf("authorize: %s, want the login form; got\n%s", resp.Status, page)
	}
	loginURL := resp.Request.URL.String() + "/login"

	// An unknown user gets the form again.
	resp, err = client.PostForm(loginURL, url.Values{"username": {"nobody"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("login as an unknown user: %s, want 401", resp.Status)
	}

	resp, err = client.PostForm(loginURL, url.Values{"username": {"bo"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cb := <-rp.callbacks
	if cb.Get("state") != "s1" || cb.Get("code") == "" {
		t.Fatalf("callback %v, want state s1 and a code", cb)
	}
	tok, err := conf.Exchange(ctx, cb.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange with client_secret_post: %v", err)
	}
	idToken, err := provider.Verifier(&oidc.Config{ClientID: conf.ClientID}).Verify(ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Sid               string   `json:"sid"`
		TID               string   `json:"tid"`
		OID               string   `json:"oid"`
		PreferredUsername string   `json:"preferred_username"`
		Roles             []string `json:"roles"`
		IAT               int64    `json:"iat"`
		EXP               int64    `json:"exp"`
	}
	if err := idToken.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if claims.TID != tenant || claims.OID != "9a1b2c3d-0000-4000-8000-000000000042" ||
		claims.PreferredUsername != "bo@kommune.example" || !slices.Equal(claims.Roles, []string{"Hub.Ressourceperson"}) {
		t.Errorf("Entra-like claims = %+v", claims)
	}
	if got := claims.EXP - claims.IAT; got != 120 {
		t.Errorf("ID token lifetime = %ds, want idTokenTTL 120", got)
	}

	// The provider logs the user out through the back channel (as when the
	// user signs out at the IdP) and ends its session.
	sessions, err := p.Sessions()
	if err != nil || !slices.Equal(sessions, []OIDCSession{{Sub: "bo", Sid: claims.Sid}}) {
		t.Fatalf("sessions = %v (err %v), want bo with sid %q", sessions, err, claims.Sid)
	}
	if err := p.TriggerBackchannelLogout("bo", ""); err != nil {
		t.Fatal(err)
	}
	checkLogoutToken(ctx, t, provider, conf.ClientID, rp.nextLogout(ctx, t), "bo", claims.Sid)
	if sessions, err := p.Sessions(); err != nil || len(sessions) != 0 {
		t.Errorf("sessions after the logout = %v (err %v), want none", sessions, err)
	}
	if err := p.TriggerBackchannelLogout("bo", ""); err == nil {
		t.Error("a second back-channel logout without any session succeeded")
	}
}

// TestRequireNodeIsIdempotent checks that a second call neither reinstalls
// nor fails, and leaves node_modules up to date.
func TestRequireNodeIsIdempotent(t *testing.T) {
	first, second := RequireNode(t), RequireNode(t)
	if first == "" || first != second {
		t.Fatalf("RequireNode returned %q, then %q", first, second)
	}
	stale, err := nodeModulesStale(filepath.Join(RepoRoot(t), OIDCProviderDir))
	if err != nil || stale {
		t.Fatalf("node_modules stale = %v, err = %v after RequireNode", stale, err)
	}
}

// TestBackchannelLogoutToHTTPSLocalhost sends a back-channel logout to an
// https://<name>.hub.localhost URI served with a certificate of a private CA,
// as the hub behind Caddy's internal CA is: the provider must resolve
// *.localhost to loopback and trust the CA given as outboundTLS.caFile.
func TestBackchannelLogoutToHTTPSLocalhost(t *testing.T) {
	caPEM, serverCert := testCertificates(t, "nordjylland.hub.localhost")
	logouts := make(chan string, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/auth/backchannel-logout" || r.Host == "" {
			http.Error(w, "unexpected request", http.StatusNotFound)
			return
		}
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		logouts <- r.Host + " " + r.PostForm.Get("logout_token")
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{serverCert}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake below
	srv.StartTLS()
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	hubURL := "https://nordjylland.hub.localhost:" + port

	caFile := filepath.Join(t.TempDir(), "root.crt")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := OS2faktorLikeConfig(OIDCClient{
		ClientID:             "hub",
		ClientSecret:         "secret",
		RedirectURIs:         []string{hubURL + "/auth/callback"},
		BackchannelLogoutURI: hubURL + "/auth/backchannel-logout",
	}, OIDCAccount{AccountID: "anna", Claims: map[string]any{NSISLoAClaim: "High"}})
	cfg.IDTokenSigningAlg = "ES256"

	// Without the CA the provider refuses the hub's certificate.
	untrusting := StartOIDCProvider(t, cfg)
	if err := untrusting.TriggerBackchannelLogout("anna", "sid-0"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("back-channel logout to a certificate of an unknown CA: err = %v, want a certificate error", err)
	}

	cfg.OutboundTLS = &OIDCOutboundTLS{CAFile: caFile}
	p := StartOIDCProvider(t, cfg)

	// No session exists, so sub and sid must both be given.
	if err := p.TriggerBackchannelLogout("anna", ""); err == nil {
		t.Fatal("a back-channel logout without session and sid succeeded")
	}
	if err := p.TriggerBackchannelLogout("anna", "sid-123"); err != nil {
		t.Fatal(err)
	}
	got := <-logouts
	host, token, _ := strings.Cut(got, " ")
	if host != "nordjylland.hub.localhost:"+port {
		t.Errorf("Host = %q", host)
	}
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, p.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	lt, err := provider.Verifier(&oidc.Config{ClientID: "hub", SupportedSigningAlgs: []string{"ES256"}}).Verify(ctx, token)
	if err != nil {
		t.Fatalf("verify the ES256 logout token: %v", err)
	}
	var c struct {
		Sid string `json:"sid"`
	}
	if err := lt.Claims(&c); err != nil || lt.Subject != "anna" || c.Sid != "sid-123" {
		t.Errorf("logout token sub %q sid %q (err %v), want anna, sid-123", lt.Subject, c.Sid, err)
	}
}

// testCertificates makes a CA and a server certificate for dnsName signed by it.
func testCertificates(t *testing.T, dnsName string) (caPEM []byte, server tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "hubkit test root"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: dnsName},
		DNSNames:     []string{dnsName},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
