package login

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/hubkit/hubkit/internal/audit"
	"github.com/hubkit/hubkit/internal/region"
	"github.com/hubkit/hubkit/internal/site"
	"github.com/hubkit/hubkit/internal/store"
)

// fakeOP is a deliberately misbehaving OpenID provider for unit tests of
// token checks that a correct provider would never let us see (wrong
// audience, alg none, bad signature …). The end-to-end tests use a real
// provider (internal/e2e).
type fakeOP struct {
	srv   *httptest.Server
	key   *rsa.PrivateKey
	other *rsa.PrivateKey // signs "bad signature" tokens
	mu    sync.Mutex
	// token builds the ID token for the next exchange from the nonce the
	// hub sent in the authorization request.
	token func(op *fakeOP, nonce string) string
	nonce string
	down  atomic.Bool // every endpoint answers 503
}

func newFakeOP(t *testing.T) *fakeOP {
	op := &fakeOP{}
	op.key, _ = rsa.GenerateKey(rand.Reader, 2048)
	op.other, _ = rsa.GenerateKey(rand.Reader, 2048)
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{
			"issuer": op.srv.URL, "authorization_endpoint": op.srv.URL + "/auth", "token_endpoint": op.srv.URL + "/token",
			"jwks_uri": op.srv.URL + "/jwks", "end_session_endpoint": op.srv.URL + "/logout",
			"id_token_signing_alg_values_supported": []string{"RS256", "none"},
		})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &op.key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		if r.Form.Get("code_verifier") == "" || r.Form.Get("code") != "good-code" {
			w.WriteHeader(400)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant"})
			return
		}
		op.mu.Lock()
		tok := op.token(op, op.nonce)
		op.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer", "id_token": tok, "expires_in": 60})
	})
	op.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if op.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(op.srv.Close)
	return op
}

func (op *fakeOP) sign(key *rsa.PrivateKey, claims map[string]any) string {
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
	if err != nil {
		panic(err)
	}
	b, _ := json.Marshal(claims)
	jws, err := s.Sign(b)
	if err != nil {
		panic(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

func (op *fakeOP) claims(nonce string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": op.srv.URL, "aud": "hub", "sub": "u1", "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"nonce": nonce, "name": "Test Bruger", "email": "t@kommune.example", "roles": []string{"sikkerhedskonsulent"},
		"loa": "Substantial", "sid": "s1",
	}
}

type harness struct {
	svc *Service
	op  *fakeOP
	log string
}

func newHarness(t *testing.T, mutate func(*region.IdentityProvider)) *harness {
	op := newFakeOP(t)
	t.Setenv("FAKE_SECRET", "secret")
	idp := region.IdentityProvider{
		Kommune: "Aalborg", KommuneCode: 851, Kind: "generic", Issuer: op.srv.URL, ClientID: "hub",
		ClientSecret: region.SecretRef{Env: "FAKE_SECRET"}, Scopes: []string{"openid"},
		Claims: region.Claims{Subject: "sub", Email: "email", Name: "name", Roles: "roles", Assurance: "loa"},
		Roles:  region.RoleMap{Consultant: []string{"sikkerhedskonsulent"}},
		NSIS:   region.NSIS{Minimum: "substantial", Levels: region.LevelMap{Low: []string{"Low"}, Substantial: []string{"Substantial"}, High: []string{"High"}}},
	}
	if mutate != nil {
		mutate(&idp)
	}
	st := &site.Site{Region: region.Region{ID: "nordjylland", Domain: "nordjylland.hub.localhost",
		IdentityProviders: []region.IdentityProvider{idp}},
		Session: site.SessionPolicy{IdleTimeout: site.Duration(30 * time.Minute), AbsoluteTimeout: site.Duration(8 * time.Hour)}}
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	logPath := filepath.Join(dir, "audit.log")
	al, err := audit.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { al.Close() })
	return &harness{svc: New(st, db, al, Options{}), op: op, log: logPath}
}

// start runs Start and returns the authorization URL's query and the
// cookies the browser got.
func (h *harness) start(t *testing.T, returnTo string) (url.Values, []*http.Cookie) {
	t.Helper()
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "https://nordjylland.hub.localhost/auth/start", nil)
	to, f := h.svc.Start(w, r, 851, returnTo)
	if f != nil {
		t.Fatalf("start: %v", f)
	}
	u, _ := url.Parse(to)
	q := u.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" || len(q.Get("state")) < 43 {
		t.Fatalf("authorization URL lacks PKCE S256, nonce or a 256-bit state: %s", to)
	}
	h.op.mu.Lock()
	h.op.nonce = q.Get("nonce")
	h.op.mu.Unlock()
	return q, w.Result().Cookies()
}

func (h *harness) callback(t *testing.T, query string, cookies []*http.Cookie) (*httptest.ResponseRecorder, string, *Failure) {
	t.Helper()
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "https://nordjylland.hub.localhost/auth/callback?"+query, nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	next, f := h.svc.Callback(w, r)
	return w, next, f
}

func (h *harness) lastAudit(t *testing.T) audit.Record {
	t.Helper()
	var last audit.Record
	if _, err := audit.Export(h.log, func(r audit.Record) bool { last = r; return true }, &strings.Builder{}); err != nil {
		t.Fatal(err)
	}
	return last
}

func TestLoginSuccess(t *testing.T) {
	h := newHarness(t, nil)
	h.op.token = func(op *fakeOP, nonce string) string { return op.sign(op.key, op.claims(nonce)) }
	q, cookies := h.start(t, "/directory?q=ssp")
	old := &http.Cookie{Name: SessionCookie, Value: "attacker-chosen-session-id"}
	w, next, f := h.callback(t, "code=good-code&state="+q.Get("state"), append(cookies, old))
	if f != nil {
		t.Fatalf("callback: %v", f)
	}
	if next != "/directory?q=ssp" {
		t.Errorf("return URL %q", next)
	}
	var sess *http.Cookie
	for _, c := range w.Result().Cookies() {
		if c.Name == SessionCookie {
			sess = c
		}
	}
	if sess == nil || !sess.Secure || !sess.HttpOnly || sess.SameSite != http.SameSiteLaxMode || sess.Path != "/" || sess.Value == old.Value {
		t.Fatalf("session cookie %+v", sess)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(sess)
	s, ok, err := h.svc.Authenticate(r)
	if err != nil || !ok || s.UserKey != "851:u1" || s.NSIS != "substantial" || s.Roles[0] != "consultant" || s.SID != "s1" {
		t.Fatalf("session %+v ok=%v err=%v", s, ok, err)
	}
	if rec := h.lastAudit(t); rec.Type != "login" || rec.Outcome != audit.Success || rec.Actor != "851:u1" {
		t.Errorf("audit %+v", rec)
	}
	// The state is single-use: replaying the callback fails.
	_, _, f = h.callback(t, "code=good-code&state="+q.Get("state"), cookies)
	if f == nil || f.Reason != "state_mismatch" {
		t.Errorf("replayed state: %v", f)
	}
}

// Each case makes the provider (or the browser) misbehave in one way; the
// login must fail with the named reason, status and an audit record.
func TestLoginRejections(t *testing.T) {
	base := func(op *fakeOP, nonce string) map[string]any { return op.claims(nonce) }
	signed := func(edit func(map[string]any)) func(*fakeOP, string) string {
		return func(op *fakeOP, nonce string) string {
			c := base(op, nonce)
			edit(c)
			return op.sign(op.key, c)
		}
	}
	none := func(op *fakeOP, nonce string) string {
		h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`))
		b, _ := json.Marshal(base(op, nonce))
		return h + "." + base64.RawURLEncoding.EncodeToString(b) + "."
	}
	cases := []struct {
		name    string
		mutate  func(*region.IdentityProvider)
		token   func(*fakeOP, string) string
		query   func(q url.Values) string
		noBind  bool
		reason  string
		status  int
		contain string
	}{
		{name: "wrong issuer", token: signed(func(c map[string]any) { c["iss"] = "https://evil.example" }), reason: "wrong_issuer", status: 401},
		{name: "wrong audience", token: signed(func(c map[string]any) { c["aud"] = "another-client" }), reason: "wrong_audience", status: 401},
		// OIDC Core 3.1.3.7: several audiences need azp = the hub, and
		// every other audience must be trusted (go-oidc only checks that
		// the hub is among them).
		{name: "two audiences without azp", token: signed(func(c map[string]any) { c["aud"] = []string{"hub", "someone-else"} }), reason: "azp_missing", status: 401},
		{name: "two audiences, azp the hub, other untrusted", token: signed(func(c map[string]any) { c["aud"], c["azp"] = []string{"hub", "someone-else"}, "hub" }), reason: "untrusted_audience", status: 401},
		{name: "azp another client", token: signed(func(c map[string]any) { c["aud"], c["azp"] = []string{"hub", "someone-else"}, "someone-else" }), reason: "azp_mismatch", status: 401},
		{name: "single audience, azp another client", token: signed(func(c map[string]any) { c["azp"] = "someone-else" }), reason: "azp_mismatch", status: 401},
		{name: "expired token", token: signed(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() }), reason: "token_expired", status: 401},
		{name: "bad signature", token: func(op *fakeOP, n string) string { return op.sign(op.other, base(op, n)) }, reason: "bad_signature", status: 401},
		{name: "alg none", token: none, reason: "bad_signature", status: 401},
		{name: "missing nonce", token: signed(func(c map[string]any) { delete(c, "nonce") }), reason: "nonce_mismatch", status: 401},
		{name: "wrong nonce", token: signed(func(c map[string]any) { c["nonce"] = "replayed-from-another-login" }), reason: "nonce_mismatch", status: 401},
		{name: "state mismatch", query: func(q url.Values) string { return "code=good-code&state=AAAA" + q.Get("state")[4:] }, reason: "state_mismatch", status: 400},
		{name: "other browser", noBind: true, reason: "browser_mismatch", status: 400},
		{name: "code rejected", query: func(q url.Values) string { return "code=replayed&state=" + q.Get("state") }, reason: "code_rejected", status: 401},
		{name: "mix-up iss parameter", query: func(q url.Values) string { return "code=good-code&iss=https://evil.example&state=" + q.Get("state") }, reason: "wrong_issuer", status: 401},
		{name: "no role", token: signed(func(c map[string]any) { c["roles"] = []string{"kantine"} }), reason: "no_role", status: 403},
		{name: "nsis too low", token: signed(func(c map[string]any) { c["loa"] = "Low" }), reason: "nsis_too_low", status: 403},
		{name: "nsis missing fails closed", token: signed(func(c map[string]any) { delete(c, "loa") }), reason: "nsis_unknown", status: 403},
		{name: "nsis unknown value", token: signed(func(c map[string]any) { c["loa"] = "Medium" }), reason: "nsis_unknown", status: 403},
		{name: "tenant not allowed",
			mutate: func(p *region.IdentityProvider) {
				p.Kind, p.Claims.Tenant, p.AllowedTenants = "entra", "tid", []string{"11111111-2222-4333-8444-555555555555"}
			},
			token: signed(func(c map[string]any) { c["tid"] = "99999999-2222-4333-8444-555555555555" }), reason: "tenant_not_allowed", status: 403},
		{name: "groups overage",
			mutate: func(p *region.IdentityProvider) { p.Claims.Roles = "groups" },
			token: signed(func(c map[string]any) {
				c["_claim_names"] = map[string]any{"groups": "src1"}
				c["_claim_sources"] = map[string]any{"src1": map[string]any{"endpoint": "https://graph.example/v1.0/users/x/getMemberObjects"}}
			}), reason: "groups_overage", status: 403, contain: "app-rolle"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.mutate)
			h.op.token = tc.token
			if h.op.token == nil {
				h.op.token = func(op *fakeOP, nonce string) string { return op.sign(op.key, op.claims(nonce)) }
			}
			q, cookies := h.start(t, "/")
			query := "code=good-code&state=" + q.Get("state")
			if tc.query != nil {
				query = tc.query(q)
			}
			if tc.noBind {
				cookies = nil
			}
			w, _, f := h.callback(t, query, cookies)
			if f == nil {
				t.Fatal("login succeeded")
			}
			if f.Reason != tc.reason || f.Status != tc.status {
				t.Errorf("got %s/%d (%v), want %s/%d", f.Reason, f.Status, f.Err, tc.reason, tc.status)
			}
			if tc.contain != "" && !strings.Contains(f.Msg, tc.contain) {
				t.Errorf("message %q lacks %q", f.Msg, tc.contain)
			}
			for _, c := range w.Result().Cookies() {
				if c.Name == SessionCookie && c.MaxAge >= 0 {
					t.Error("a failed login set a session cookie")
				}
			}
			if rec := h.lastAudit(t); rec.Type != "login" || rec.Outcome != audit.Failure || rec.Reason != tc.reason {
				t.Errorf("audit %+v, want login failure %s", rec, tc.reason)
			}
		})
	}
}

// TestTrustedExtraAudience: an audience the region lists as trusted may
// share a token with the hub when azp names the hub.
func TestTrustedExtraAudience(t *testing.T) {
	h := newHarness(t, func(p *region.IdentityProvider) { p.TrustedAudiences = []string{"hub-api"} })
	h.op.token = func(op *fakeOP, nonce string) string {
		c := op.claims(nonce)
		c["aud"], c["azp"] = []string{"hub", "hub-api"}, "hub"
		return op.sign(op.key, c)
	}
	q, cookies := h.start(t, "/")
	if _, _, f := h.callback(t, "code=good-code&state="+q.Get("state"), cookies); f != nil {
		t.Fatalf("a token for the hub and a trusted audience was refused: %v", f)
	}
}

func TestSafeReturn(t *testing.T) {
	for in, want := range map[string]string{
		"/directory?q=x": "/directory?q=x", "": "/", "//evil.example/x": "/", "https://evil.example": "/",
		"/\\evil.example": "/", "javascript:alert(1)": "/", "/a\r\nSet-Cookie: x": "/", "directory": "/",
		"/%2F%2Fevil.example": "/", "/ok#frag": "/", "/a/../b": "/",
	} {
		if got := SafeReturn(in); got != want {
			t.Errorf("SafeReturn(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRateLimit(t *testing.T) {
	l := newLimiter(site.LoginPolicy{})
	now := time.Now()
	n := 0
	for i := 0; i < 100; i++ {
		if l.allow("192.0.2.1", 851, now) {
			n++
		}
	}
	if n != defaultPolicy.ClientBurst {
		t.Errorf("%d logins allowed in a burst, want %d", n, defaultPolicy.ClientBurst)
	}
	if !l.allow("192.0.2.2", 851, now) {
		t.Error("another client was limited")
	}
	if !l.allow("192.0.2.1", 851, now.Add(time.Minute)) {
		t.Error("the limit did not recover")
	}
}

// TestSessionTimeouts: idle and absolute expiry end the session and are
// audited with their kind; activity keeps an idle session alive but not
// past the absolute timeout.
func TestSessionTimeouts(t *testing.T) {
	h := newHarness(t, nil)
	h.svc.Site.Session = site.SessionPolicy{IdleTimeout: site.Duration(30 * time.Minute), AbsoluteTimeout: site.Duration(2 * time.Hour)}
	h.op.token = func(op *fakeOP, nonce string) string { return op.sign(op.key, op.claims(nonce)) }
	start := time.Now()
	clock := start
	h.svc.Now = func() time.Time { return clock }
	login := func() *http.Cookie {
		q, cookies := h.start(t, "/")
		w, _, f := h.callback(t, "code=good-code&state="+q.Get("state"), cookies)
		if f != nil {
			t.Fatal(f)
		}
		for _, c := range w.Result().Cookies() {
			if c.Name == SessionCookie {
				return c
			}
		}
		t.Fatal("no session cookie")
		return nil
	}
	check := func(c *http.Cookie) bool {
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(c)
		_, ok, err := h.svc.Authenticate(r)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}

	c := login()
	for i := 0; i < 7; i++ { // active every 20 minutes for 2 h 20 min
		clock = clock.Add(20 * time.Minute)
		if ok := check(c); ok != (clock.Sub(start) <= 2*time.Hour) {
			t.Fatalf("at %v: authenticated=%v", clock.Sub(start), ok)
		}
	}
	if rec := h.lastAudit(t); rec.Type != "session_expired" || rec.Reason != "absolute" {
		t.Errorf("audit %+v, want absolute expiry", rec)
	}

	start = clock
	c = login()
	clock = clock.Add(31 * time.Minute)
	if check(c) {
		t.Fatal("idle session still valid")
	}
	if rec := h.lastAudit(t); rec.Type != "session_expired" || rec.Reason != "idle" || rec.Actor != "851:u1" {
		t.Errorf("audit %+v, want idle expiry", rec)
	}
}
