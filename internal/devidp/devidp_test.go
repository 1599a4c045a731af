package devidp

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/net/html"
	"golang.org/x/oauth2"
)

const (
	testClientID       = "hub-nordjylland"
	testSecret         = "test-secret-not-for-production"
	testRedirectURI    = "http://nordjylland.hub.localhost:8443/auth/callback"
	testPostLogout     = "http://nordjylland.hub.localhost:8443/auth/signed-out"
	aalborg, hjoerring = 851, 860
)

// TestMain silences the library's request logging (slog's default logger).
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}

// testKey is generated once: RSA key generation is the slow part of New.
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// idp is a running development identity provider.
type idp struct {
	srv  *httptest.Server
	base string
}

func startIdP(t *testing.T) *idp {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	h, err := New(Config{
		BaseURL: base,
		Clients: []Client{
			{ID: testClientID, Secret: testSecret, RedirectURIs: []string{testRedirectURI}, PostLogoutRedirectURIs: []string{testPostLogout}},
			{ID: "hub-other", Secret: "other-secret", RedirectURIs: []string{"http://other.hub.localhost:8443/auth/callback"}},
		},
		Kommuner:   []int{aalborg, hjoerring},
		SigningKey: testKey(),
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close)
	return &idp{srv: srv, base: base}
}

// rp is the relying party side of a login: a hub in miniature.
type rp struct {
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
	conf     *oauth2.Config
	issuer   string
}

func (p *idp) rp(t *testing.T, code int, style oauth2.AuthStyle) *rp {
	t.Helper()
	iss := Issuer(p.base, code)
	provider, err := oidc.NewProvider(t.Context(), iss)
	if err != nil {
		t.Fatalf("discovery of %s: %v", iss, err)
	}
	ep := provider.Endpoint()
	ep.AuthStyle = style
	return &rp{
		provider: provider,
		verifier: provider.Verifier(&oidc.Config{ClientID: testClientID}),
		conf: &oauth2.Config{
			ClientID: testClientID, ClientSecret: testSecret, Endpoint: ep,
			RedirectURL: testRedirectURI, Scopes: []string{oidc.ScopeOpenID, "profile", "email"},
		},
		issuer: iss,
	}
}

// browser is a cookie-keeping client that follows redirects until one
// points at a hub (the redirect URIs' hosts), and returns that response.
func browser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if strings.HasSuffix(req.URL.Hostname(), ".hub.localhost") {
			return http.ErrUseLastResponse
		}
		if len(via) > 10 {
			return errors.New("too many redirects")
		}
		return nil
	}}
}

func random() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func read(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// loginForm is the login page's form, as a browser would submit it.
type loginForm struct {
	action string
	fields url.Values
}

func parseLoginForm(t *testing.T, pageURL *url.URL, body string) loginForm {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parsing login page: %v", err)
	}
	var f *loginForm
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "form":
				action, _ := url.Parse(attr(n, "action"))
				f = &loginForm{action: pageURL.ResolveReference(action).String(), fields: url.Values{}}
			case "input":
				if f != nil && attr(n, "name") != "" {
					f.fields.Set(attr(n, "name"), attr(n, "value"))
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if f == nil {
		t.Fatalf("no form on the login page:\n%s", body)
	}
	return *f
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

// flow is one authorization code + PKCE login in progress.
type flow struct {
	rp                     *rp
	client                 *http.Client
	verifier, state, nonce string
	page                   *http.Response
	body                   string
}

// begin sends the browser to the authorization endpoint and returns the
// login page it lands on.
func (r *rp) begin(t *testing.T, extra ...oauth2.AuthCodeOption) *flow {
	t.Helper()
	f := &flow{rp: r, client: browser(t), verifier: oauth2.GenerateVerifier(), state: random(), nonce: random()}
	opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(f.verifier), oidc.Nonce(f.nonce)}, extra...)
	resp, err := f.client.Get(r.conf.AuthCodeURL(f.state, opts...))
	if err != nil {
		t.Fatal(err)
	}
	f.page, f.body = resp, read(t, resp)
	return f
}

// submit posts the login form with a username and password (action
// "login" or "cancel").
func (f *flow) submit(t *testing.T, username, password, action string) reply {
	t.Helper()
	if f.page.StatusCode != http.StatusOK {
		t.Fatalf("login page: %s\n%s", f.page.Status, f.body)
	}
	form := parseLoginForm(t, f.page.Request.URL, f.body)
	form.fields.Set("username", username)
	form.fields.Set("password", password)
	form.fields.Set("action", action)
	resp, err := f.client.PostForm(form.action, form.fields)
	if err != nil {
		t.Fatal(err)
	}
	return reply{resp, read(t, resp)}
}

// reply is a response with its body read.
type reply struct {
	*http.Response
	body string
}

// callback returns the query the provider sent the browser back to the
// hub with.
func callback(t *testing.T, resp reply) url.Values {
	t.Helper()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("want a redirect to the hub, got %s\n%s", resp.Status, resp.body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != testRedirectURI {
		t.Fatalf("redirected to %s, want %s", got, testRedirectURI)
	}
	return loc.Query()
}

// loginAs runs a complete login and returns the code exchange's result.
func (r *rp) loginAs(t *testing.T, username string) (*flow, *oauth2.Token, *oidc.IDToken) {
	t.Helper()
	f := r.begin(t)
	q := callback(t, mustSubmit(t, f, username, Password))
	if q.Get("state") != f.state {
		t.Fatalf("state %q, want %q", q.Get("state"), f.state)
	}
	if q.Get("code") == "" {
		t.Fatalf("no code in callback: %v", q)
	}
	tok, err := r.conf.Exchange(t.Context(), q.Get("code"), oauth2.VerifierOption(f.verifier))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		t.Fatal("token response has no id_token")
	}
	idt, err := r.verifier.Verify(t.Context(), raw)
	if err != nil {
		t.Fatalf("verifying the ID token: %v", err)
	}
	if idt.Nonce != f.nonce {
		t.Fatalf("nonce %q, want %q", idt.Nonce, f.nonce)
	}
	return f, tok, idt
}

func mustSubmit(t *testing.T, f *flow, username, password string) reply {
	t.Helper()
	return f.submit(t, username, password, "login")
}

type idClaims struct {
	Iss   string   `json:"iss"`
	Sub   string   `json:"sub"`
	Aud   any      `json:"aud"`
	Name  string   `json:"name"`
	Email string   `json:"email"`
	Roles []string `json:"roles"`
	SID   string   `json:"sid"`
	Nonce string   `json:"nonce"`
	AMR   []string `json:"amr"`
	LoA   string   `json:"https://data.gov.dk/concept/core/nsis/loa"`
}

func TestLogin(t *testing.T) {
	p := startIdP(t)
	tests := []struct {
		name     string
		kommune  int
		style    oauth2.AuthStyle
		username string
		wantRole string
		wantLoA  string
	}{
		{"basic auth, consultant", aalborg, oauth2.AuthStyleInHeader, "aalborg-konsulent", "sikkerhedskonsulent", "Substantial"},
		{"post auth, resource person", aalborg, oauth2.AuthStyleInParams, "aalborg-ressource", "ressourceperson", "High"},
		{"second issuer, weak login", hjoerring, oauth2.AuthStyleInHeader, "hjorring-lav", "sagsbehandler", "Low"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := p.rp(t, tt.kommune, tt.style)
			var user User
			for _, u := range Users(tt.kommune) {
				if u.Username == tt.username {
					user = u
				}
			}
			if user.Username == "" {
				t.Fatalf("no demo user %s in %d", tt.username, tt.kommune)
			}
			f, tok, idt := r.loginAs(t, tt.username)

			if idt.Issuer != r.issuer {
				t.Errorf("iss %q, want %q", idt.Issuer, r.issuer)
			}
			var c idClaims
			if err := idt.Claims(&c); err != nil {
				t.Fatal(err)
			}
			if c.Sub != subjectOf(user) || c.Name != user.Name || c.Email != user.Email {
				t.Errorf("sub/name/email = %q/%q/%q, want %q/%q/%q", c.Sub, c.Name, c.Email, subjectOf(user), user.Name, user.Email)
			}
			if !slices.Equal(c.Roles, []string{tt.wantRole}) {
				t.Errorf("roles %v, want [%s]", c.Roles, tt.wantRole)
			}
			if c.LoA != tt.wantLoA {
				t.Errorf("%s = %q, want %q", LoAClaim, c.LoA, tt.wantLoA)
			}
			if c.SID == "" {
				t.Error("no sid claim")
			}
			if c.Nonce != f.nonce {
				t.Errorf("nonce claim %q, want %q", c.Nonce, f.nonce)
			}
			if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
				t.Errorf("at_hash: %v", err)
			}

			// The userinfo endpoint agrees with the ID token.
			ui, err := r.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(tok))
			if err != nil {
				t.Fatalf("userinfo: %v", err)
			}
			var uc idClaims
			if err := ui.Claims(&uc); err != nil {
				t.Fatal(err)
			}
			if uc.Sub != c.Sub || !slices.Equal(uc.Roles, c.Roles) || uc.LoA != c.LoA || uc.Email != c.Email {
				t.Errorf("userinfo %+v disagrees with ID token %+v", uc, c)
			}
		})
	}
}

// A code is good once: a replay fails and revokes what the first exchange
// yielded.
func TestCodeReplay(t *testing.T) {
	p := startIdP(t)
	r := p.rp(t, aalborg, oauth2.AuthStyleInHeader)
	f := r.begin(t)
	q := callback(t, mustSubmit(t, f, "aalborg-fagperson", Password))
	tok, err := r.conf.Exchange(t.Context(), q.Get("code"), oauth2.VerifierOption(f.verifier))
	if err != nil {
		t.Fatalf("first exchange: %v", err)
	}
	if _, err := r.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(tok)); err != nil {
		t.Fatalf("userinfo before replay: %v", err)
	}
	_, err = r.conf.Exchange(t.Context(), q.Get("code"), oauth2.VerifierOption(f.verifier))
	assertOAuthError(t, err, "invalid_grant")
	if _, err := r.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(tok)); err == nil {
		t.Error("access token still valid after the code was replayed")
	}
}

func assertOAuthError(t *testing.T, err error, code string) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("want OAuth error %s, got %v", code, err)
	}
	if re.ErrorCode != code {
		t.Fatalf("want OAuth error %s, got %s (%s)", code, re.ErrorCode, re.ErrorDescription)
	}
}

func TestExchangeRefused(t *testing.T) {
	p := startIdP(t)
	hjoerringEndpoint := p.rp(t, hjoerring, oauth2.AuthStyleInHeader).conf.Endpoint
	tests := []struct {
		name     string
		mutate   func(r *rp, verifier string) (*oauth2.Config, []oauth2.AuthCodeOption)
		wantCode string
	}{
		{"wrong code_verifier", func(r *rp, _ string) (*oauth2.Config, []oauth2.AuthCodeOption) {
			return r.conf, []oauth2.AuthCodeOption{oauth2.VerifierOption(oauth2.GenerateVerifier())}
		}, "invalid_grant"},
		{"missing code_verifier", func(r *rp, _ string) (*oauth2.Config, []oauth2.AuthCodeOption) {
			return r.conf, nil
		}, "invalid_request"},
		{"wrong client secret", func(r *rp, v string) (*oauth2.Config, []oauth2.AuthCodeOption) {
			c := *r.conf
			c.ClientSecret = "guess"
			return &c, []oauth2.AuthCodeOption{oauth2.VerifierOption(v)}
		}, "invalid_client"},
		{"other client", func(r *rp, v string) (*oauth2.Config, []oauth2.AuthCodeOption) {
			c := *r.conf
			c.ClientID, c.ClientSecret = "hub-other", "other-secret"
			return &c, []oauth2.AuthCodeOption{oauth2.VerifierOption(v)}
		}, "invalid_grant"},
		{"other redirect_uri", func(r *rp, v string) (*oauth2.Config, []oauth2.AuthCodeOption) {
			c := *r.conf
			c.RedirectURL = "http://nordjylland.hub.localhost:8443/elsewhere"
			return &c, []oauth2.AuthCodeOption{oauth2.VerifierOption(v)}
		}, "invalid_grant"},
		{"other municipality's token endpoint", func(r *rp, v string) (*oauth2.Config, []oauth2.AuthCodeOption) {
			c := *r.conf
			c.Endpoint = hjoerringEndpoint
			return &c, []oauth2.AuthCodeOption{oauth2.VerifierOption(v)}
		}, "invalid_grant"},
	}
	r := p.rp(t, aalborg, oauth2.AuthStyleInHeader)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := r.begin(t)
			q := callback(t, mustSubmit(t, f, "aalborg-konsulent", Password))
			conf, opts := tt.mutate(r, f.verifier)
			_, err := conf.Exchange(t.Context(), q.Get("code"), opts...)
			assertOAuthError(t, err, tt.wantCode)
		})
	}
}

func TestAuthorizeRefused(t *testing.T) {
	p := startIdP(t)
	r := p.rp(t, aalborg, oauth2.AuthStyleInHeader)
	authURL := func(mod func(q url.Values)) string {
		u, _ := url.Parse(r.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		q := u.Query()
		mod(q)
		u.RawQuery = q.Encode()
		return u.String()
	}
	tests := []struct {
		name string
		url  string
		// wantError is the error sent back to the redirect URI; empty
		// means the provider must not redirect at all (400 page).
		wantError string
	}{
		{"unknown client", authURL(func(q url.Values) { q.Set("client_id", "hub-nowhere") }), ""},
		{"unregistered redirect_uri", authURL(func(q url.Values) { q.Set("redirect_uri", "http://evil.localhost/cb") }), ""},
		{"another client's redirect_uri", authURL(func(q url.Values) { q.Set("redirect_uri", "http://other.hub.localhost:8443/auth/callback") }), ""},
		{"no PKCE", authURL(func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }), "invalid_request"},
		{"plain PKCE", authURL(func(q url.Values) { q.Set("code_challenge_method", "plain") }), "invalid_request"},
		// The library checks an implicit request's http redirect URI first
		// and refuses without redirecting.
		{"implicit flow", authURL(func(q url.Values) { q.Set("response_type", "id_token") }), ""},
		{"form_post", authURL(func(q url.Values) { q.Set("response_mode", "form_post") }), "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := browser(t).Get(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			body := read(t, resp)
			if tt.wantError == "" {
				if resp.StatusCode != http.StatusBadRequest {
					t.Fatalf("status %s, want 400 without redirect; Location %q\n%s", resp.Status, resp.Header.Get("Location"), body)
				}
				return
			}
			q := callback(t, reply{resp, body})
			if q.Get("error") != tt.wantError || q.Get("state") != "st" || q.Get("code") != "" {
				t.Fatalf("callback %v, want error=%s state=st and no code", q, tt.wantError)
			}
		})
	}
}

func TestLoginPage(t *testing.T) {
	p := startIdP(t)
	r := p.rp(t, aalborg, oauth2.AuthStyleInHeader)
	f := r.begin(t)
	if f.page.StatusCode != http.StatusOK {
		t.Fatalf("login page: %s", f.page.Status)
	}
	for _, want := range []string{
		"<title>Udviklings-login — Aalborg Kommune</title>",
		`class="dev-warning"`,
		`<label for="username">`, `id="username"`,
		`<label for="password">`, `id="password" name="password" type="password"`,
		"aalborg-konsulent", "Sikkerhedskonsulent (demo, Aalborg)", "sikkerhedskonsulent", "Betydelig (Substantial)",
		`href="/assets/devidp.css"`,
	} {
		if !strings.Contains(f.body, want) {
			t.Errorf("login page lacks %q", want)
		}
	}
	for _, bad := range []string{"<script", "<style", " style=", " onload=", " onclick="} {
		if strings.Contains(f.body, bad) {
			t.Errorf("login page has inline %q", bad)
		}
	}
	h := f.page.Header
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self' http://nordjylland.hub.localhost:8443"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if h.Get("Cache-Control") != "no-store" || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers: %v", h)
	}

	// The style sheet it links to.
	resp, err := http.Get(p.base + cssPath)
	if err != nil {
		t.Fatal(err)
	}
	if css := read(t, resp); resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") || !strings.Contains(css, ".dev-warning") {
		t.Errorf("css: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}

	// Wrong password, then unknown user: the form again, with an error;
	// then the right password still works for the same request.
	for _, try := range [][2]string{{"aalborg-konsulent", "wrong"}, {"nobody", Password}, {"hjorring-konsulent", Password}} {
		rep := mustSubmit(t, f, try[0], try[1])
		if rep.StatusCode != http.StatusOK || !strings.Contains(rep.body, "Forkert brugernavn eller adgangskode") {
			t.Fatalf("%s/%s: want the form with an error, got %s\n%s", try[0], try[1], rep.Status, rep.body)
		}
		if !strings.Contains(rep.body, `value="`+try[0]+`"`) {
			t.Errorf("%s: the username is not kept in the form", try[0])
		}
	}
	q := callback(t, mustSubmit(t, f, "aalborg-admin", Password))
	if q.Get("code") == "" || q.Get("state") != f.state {
		t.Fatalf("callback after retries: %v", q)
	}

	// The request is spent: its login page is gone.
	resp, err = f.client.Get(f.page.Request.URL.String())
	if err != nil {
		t.Fatal(err)
	}
	if body := read(t, resp); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "ukendt eller udløbet") {
		t.Errorf("reused login page: %s", resp.Status)
	}
}

func TestLoginCancelAndPromptNone(t *testing.T) {
	p := startIdP(t)
	r := p.rp(t, aalborg, oauth2.AuthStyleInHeader)

	f := r.begin(t)
	q := callback(t, f.submit(t, "", "", "cancel"))
	if q.Get("error") != "access_denied" || q.Get("state") != f.state {
		t.Errorf("cancel: %v", q)
	}

	f = r.begin(t, oauth2.SetAuthURLParam("prompt", "none"))
	q = callback(t, reply{f.page, f.body})
	if q.Get("error") != "login_required" || q.Get("state") != f.state {
		t.Errorf("prompt=none: %v", q)
	}
}

func TestLoginFormForged(t *testing.T) {
	p := startIdP(t)
	for _, tt := range []struct {
		name   string
		id     string
		header string
		want   int
	}{
		{"unknown request id", "forged", "", http.StatusBadRequest},
		{"cross-site post", "forged", "cross-site", http.StatusForbidden},
	} {
		t.Run(tt.name, func(t *testing.T) {
			form := url.Values{"id": {tt.id}, "username": {"aalborg-konsulent"}, "password": {Password}}
			req, _ := http.NewRequest(http.MethodPost, Issuer(p.base, aalborg)+"/login", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tt.header != "" {
				req.Header.Set("Sec-Fetch-Site", tt.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			read(t, resp)
			if resp.StatusCode != tt.want {
				t.Errorf("status %s, want %d", resp.Status, tt.want)
			}
		})
	}

	// A login request of one municipality is unknown at another's page.
	r := p.rp(t, aalborg, oauth2.AuthStyleInHeader)
	f := r.begin(t)
	other := strings.Replace(f.page.Request.URL.String(), "/k/851/", "/k/860/", 1)
	resp, err := f.client.Get(other)
	if err != nil {
		t.Fatal(err)
	}
	if read(t, resp); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("aalborg's request at hjørring's page: %s", resp.Status)
	}
}

func TestEndSession(t *testing.T) {
	p := startIdP(t)
	r := p.rp(t, aalborg, oauth2.AuthStyleInHeader)
	_, tok, _ := r.loginAs(t, "aalborg-konsulent")
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := r.provider.Claims(&meta); err != nil || meta.EndSession == "" {
		t.Fatalf("no end_session_endpoint in discovery: %v", err)
	}

	end := func(q url.Values) *http.Response {
		resp, err := browser(t).Get(meta.EndSession + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		read(t, resp)
		return resp
	}
	// An unregistered post_logout_redirect_uri is refused.
	if resp := end(url.Values{"id_token_hint": {tok.Extra("id_token").(string)}, "post_logout_redirect_uri": {"http://evil.localhost/"}}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unregistered post-logout redirect: %s (Location %q)", resp.Status, resp.Header.Get("Location"))
	}
	if _, err := r.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(tok)); err != nil {
		t.Fatalf("userinfo before logout: %v", err)
	}

	resp := end(url.Values{"id_token_hint": {tok.Extra("id_token").(string)}, "post_logout_redirect_uri": {testPostLogout}, "state": {"bye"}})
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != testPostLogout+"?state=bye" {
		t.Fatalf("end session: %s, Location %q", resp.Status, resp.Header.Get("Location"))
	}
	if _, err := r.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(tok)); err == nil {
		t.Error("access token still valid after logout")
	}

	// Without a redirect URI the provider's own page says goodbye.
	c := &http.Client{}
	resp2, err := c.Get(meta.EndSession)
	if err != nil {
		t.Fatal(err)
	}
	if body := read(t, resp2); resp2.StatusCode != 200 || !strings.Contains(body, "Du er logget ud") {
		t.Errorf("plain logout: %s\n%s", resp2.Status, body)
	}
}

func TestRouting(t *testing.T) {
	p := startIdP(t)
	for _, tt := range []struct {
		path string
		want int
		body string
	}{
		{"/", 200, "hjorring-konsulent"},
		{"/k/851/.well-known/openid-configuration", 200, `"issuer":"` + Issuer(p.base, aalborg) + `"`},
		{"/k/860/.well-known/openid-configuration", 200, `"code_challenge_methods_supported":["S256"]`},
		{"/k/851/keys", 200, `"RS256"`},
		{"/k/851/logged-out", 200, "Du er logget ud"},
		{"/k/101/.well-known/openid-configuration", 404, ""},
		{"/k/0851/.well-known/openid-configuration", 404, ""},
		{"/k/x/", 404, ""},
		{"/elsewhere", 404, ""},
	} {
		resp, err := http.Get(p.base + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		body := read(t, resp)
		if resp.StatusCode != tt.want || !strings.Contains(body, tt.body) {
			t.Errorf("GET %s: %s, want %d with %q\n%.300s", tt.path, resp.Status, tt.want, tt.body, body)
		}
	}
}

func TestNewRefuses(t *testing.T) {
	ok := func() Config {
		return Config{
			BaseURL:    "https://" + Host + ":8443",
			Clients:    []Client{{ID: "hub-x", Secret: "s", RedirectURIs: []string{"https://x.hub.localhost:8443/auth/callback"}}},
			Kommuner:   []int{851},
			SigningKey: testKey(),
		}
	}
	if _, err := New(ok()); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	for _, tt := range []struct {
		name   string
		mutate func(c *Config)
		want   string
	}{
		{"public base URL", func(c *Config) { c.BaseURL = "https://idp.example.dk" }, "only serves localhost"},
		{"LAN base URL", func(c *Config) { c.BaseURL = "http://192.168.1.10:8080" }, "only serves localhost"},
		{"localhost lookalike", func(c *Config) { c.BaseURL = "https://localhost.example.dk" }, "only serves localhost"},
		{"base URL with path", func(c *Config) { c.BaseURL = "https://idp.hub.localhost/idp" }, "scheme://host"},
		{"no base URL", func(c *Config) { c.BaseURL = "" }, "BaseURL is required"},
		{"public redirect URI", func(c *Config) { c.Clients[0].RedirectURIs = []string{"https://hub.example.dk/cb"} }, "only serves localhost"},
		{"public post-logout URI", func(c *Config) { c.Clients[0].PostLogoutRedirectURIs = []string{"https://hub.example.dk/"} }, "only serves localhost"},
		{"no secret", func(c *Config) { c.Clients[0].Secret = "" }, "Secret is required"},
		{"no clients", func(c *Config) { c.Clients = nil }, "no clients"},
		{"duplicate client", func(c *Config) { c.Clients = append(c.Clients, c.Clients[0]) }, "duplicate"},
		{"no kommuner", func(c *Config) { c.Kommuner = nil }, "no kommuner"},
		{"unknown kommune", func(c *Config) { c.Kommuner = []int{999} }, "999"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := ok()
			tt.mutate(&c)
			_, err := New(c)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}
