package login

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/hubkit/hubkit/internal/audit"
	"github.com/hubkit/hubkit/internal/site"
	"github.com/hubkit/hubkit/internal/store"
)

// Cookie names. __Host- cookies are Secure, host-only and Path=/ by rule,
// so no other site or path can set or read them.
const (
	SessionCookie = "__Host-hub_session"
	BindingCookie = "__Host-hub_login"
	KommuneCookie = "hub_kommune" // the last chosen municipality; not secret
)

// loginStateTTL bounds how long a browser may spend at the provider.
const loginStateTTL = 10 * time.Minute

// Service runs logins for one region's hub.
type Service struct {
	Site      *site.Site
	Store     *store.Store
	Audit     *audit.Log
	Logger    *slog.Logger
	Now       func() time.Time
	providers map[int]*Provider // by kommune code
	byIssuer  map[string]*Provider
	limiter   *limiter
	jtis      seenSet
	onLogin   func(context.Context, *store.Session)
	watching  atomic.Bool
}

// Options configure a Service.
type Options struct {
	// HTTPClient is used for discovery, token and JWKS requests. In
	// development it dials loopback for *.localhost names.
	HTTPClient *http.Client
	Logger     *slog.Logger
	// OnLogin, when set, is called after every successful login, once the
	// new session exists (the hub binds pending file-drop recipients to
	// the user's e-mail address there). It cannot fail the login: it
	// logs its own errors.
	OnLogin func(ctx context.Context, sess *store.Session)
}

// New builds the login service of a site.
func New(st *site.Site, db *store.Store, log *audit.Log, opt Options) *Service {
	client := opt.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 15 * time.Second}
	}
	logger := opt.Logger
	if logger == nil {
		logger = slog.Default()
	}
	s := &Service{
		Site: st, Store: db, Audit: log, Logger: logger, Now: time.Now,
		providers: map[int]*Provider{}, byIssuer: map[string]*Provider{}, limiter: newLimiter(st.Login),
		onLogin: opt.OnLogin,
	}
	for _, cfg := range st.Region.IdentityProviders {
		p := newProvider(cfg, client)
		s.providers[cfg.KommuneCode] = p
		s.byIssuer[cfg.Issuer] = p
	}
	return s
}

// Provider returns the provider of a kommune, or nil.
func (s *Service) Provider(kommune int) *Provider { return s.providers[kommune] }

// Ready reports whether the hub can log anyone in: at least one
// provider answers (by a check younger than healthTTL, or one made now,
// all at once). One municipality's provider being down does not make the
// hub unready — its users get the hub's own page saying so (Start) and
// /readyz names it (Health) — but a hub none of whose providers answer,
// e.g. a release rendered with a wrong issuer, is not ready.
func (s *Service) Ready(ctx context.Context) error {
	if len(s.providers) == 0 {
		return nil
	}
	errs := make(chan error, len(s.providers))
	for _, p := range s.providers {
		go func() {
			_, err := p.available(ctx)
			errs <- err
		}()
	}
	var all []error
	for range s.providers {
		if err := <-errs; err == nil {
			return nil
		} else {
			all = append(all, err)
		}
	}
	return fmt.Errorf("no identity provider answers: %w", errors.Join(all...))
}

// ProviderHealth is one provider's state for /readyz.
type ProviderHealth struct {
	KommuneCode int       `json:"kommune_code"`
	Kommune     string    `json:"kommune"`
	Up          bool      `json:"up"`
	Checked     time.Time `json:"checked"`
	Since       time.Time `json:"since"`
}

// Health lists the providers' last checks by kommune code. It does not
// check; Ready and the watcher do.
func (s *Service) Health() []ProviderHealth {
	codes := make([]int, 0, len(s.providers))
	for c := range s.providers {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	out := make([]ProviderHealth, 0, len(codes))
	for _, c := range codes {
		p := s.providers[c]
		h := p.Health()
		out = append(out, ProviderHealth{KommuneCode: c, Kommune: p.Config.Kommune, Up: h.Up,
			Checked: h.Checked.UTC().Truncate(time.Second), Since: h.Since.UTC().Truncate(time.Second)})
	}
	return out
}

// Watch rechecks every provider in the background until ctx ends (see
// healthInterval). A second call while one runs does nothing.
func (s *Service) Watch(ctx context.Context) {
	if !s.watching.CompareAndSwap(false, true) {
		return
	}
	for _, p := range s.providers {
		go p.watch(ctx, s.Logger)
	}
}

// Failure is a login that did not succeed, with what the user is told.
type Failure struct {
	Reason string // audit reason, e.g. "state_mismatch"
	Status int
	Msg    string // for the user; never internal details
	Err    error  // for the log
}

func (f *Failure) Error() string {
	if f.Err != nil {
		return f.Reason + ": " + f.Err.Error()
	}
	return f.Reason
}

func fail(reason string, status int, msg string, err error) *Failure {
	return &Failure{Reason: reason, Status: status, Msg: msg, Err: err}
}

// Start begins a login at a municipality's provider: it stores state,
// nonce and PKCE verifier server-side, binds them to this browser with a
// cookie, and returns the provider's authorization URL.
func (s *Service) Start(w http.ResponseWriter, r *http.Request, kommune int, returnTo string) (string, *Failure) {
	ip := ClientIP(r)
	if !s.limiter.allow(ip, kommune, s.Now()) {
		s.audit(r, audit.Event{Type: "login", Outcome: audit.Failure, Reason: "rate_limited", Kommune: kommune})
		return "", fail("rate_limited", http.StatusTooManyRequests, "for mange login-forsøg; vent et minut og prøv igen", nil)
	}
	p := s.providers[kommune]
	if p == nil {
		s.audit(r, audit.Event{Type: "login", Outcome: audit.Failure, Reason: "unknown_kommune", Kommune: kommune})
		return "", fail("unknown_kommune", http.StatusBadRequest, "kommunen har ikke login til denne hub", nil)
	}
	// Only to a provider that answers now: else the hub's own page, not
	// the browser sent on to a dead provider.
	d, err := p.available(r.Context())
	if err != nil {
		s.Logger.Warn("identity provider unavailable", "kommune", kommune, "error", err)
		s.audit(r, audit.Event{Type: "login", Outcome: audit.Failure, Reason: "provider_unavailable", Kommune: kommune})
		return "", fail("provider_unavailable", http.StatusServiceUnavailable, "kommunens login svarer ikke lige nu; prøv igen om lidt", err)
	}
	oc, err := p.oauth2Config(d, s.redirectURL(r))
	if err != nil {
		s.Logger.Error("identity provider misconfigured", "kommune", kommune, "error", err)
		return "", fail("provider_misconfigured", http.StatusInternalServerError, "kommunens login er ikke sat op korrekt", err)
	}
	state, err1 := store.NewSessionID()
	nonce, err2 := store.NewSessionID()
	binding, err3 := store.NewSessionID()
	if err := errors.Join(err1, err2, err3); err != nil {
		return "", fail("internal", http.StatusInternalServerError, "intern fejl", err)
	}
	verifier := oauth2.GenerateVerifier()
	now := s.Now()
	ls := &store.LoginState{
		State: state, Nonce: nonce, Verifier: verifier, Kommune: kommune, Issuer: p.Config.Issuer,
		ReturnTo: SafeReturn(returnTo), Binding: hashB64(binding), CreatedAt: now, ExpiresAt: now.Add(loginStateTTL),
	}
	if err := s.Store.PutLoginState(r.Context(), ls); err != nil {
		return "", fail("internal", http.StatusInternalServerError, "intern fejl", err)
	}
	http.SetCookie(w, &http.Cookie{Name: BindingCookie, Value: binding, Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, MaxAge: int(loginStateTTL.Seconds())})
	http.SetCookie(w, &http.Cookie{Name: KommuneCookie, Value: fmt.Sprint(kommune), Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, MaxAge: 365 * 24 * 3600})
	opts := []oauth2.AuthCodeOption{oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)}
	if len(p.Config.NSIS.ACRValues) > 0 {
		opts = append(opts, oauth2.SetAuthURLParam("acr_values", strings.Join(p.Config.NSIS.ACRValues, " ")))
	}
	return oc.AuthCodeURL(state, opts...), nil
}

// Callback finishes a login: it takes the single-use state, checks the
// browser binding, exchanges the code with the PKCE verifier, verifies the
// ID token and its nonce, maps claims to an identity and starts a new
// session (a new id, whatever cookie came in). It returns where to go next.
func (s *Service) Callback(w http.ResponseWriter, r *http.Request) (string, *Failure) {
	q := r.URL.Query()
	ip := ClientIP(r)
	if !s.limiter.allow(ip, 0, s.Now()) {
		return "", s.failed(r, 0, fail("rate_limited", http.StatusTooManyRequests, "for mange login-forsøg; vent et minut og prøv igen", nil))
	}
	state := q.Get("state")
	if state == "" {
		return "", s.failed(r, 0, fail("state_missing", http.StatusBadRequest, "login-svaret mangler state; start login forfra", nil))
	}
	ls, err := s.Store.TakeLoginState(r.Context(), state, s.Now())
	if err != nil {
		reason := "state_mismatch"
		if errors.Is(err, store.ErrExpired) {
			reason = "state_expired"
		} else if !errors.Is(err, store.ErrNotFound) {
			return "", s.failed(r, 0, fail("internal", http.StatusInternalServerError, "intern fejl", err))
		}
		return "", s.failed(r, 0, fail(reason, http.StatusBadRequest, "login-forsøget er ukendt, udløbet eller allerede brugt; start login forfra", err))
	}
	clearCookie(w, BindingCookie)
	c, _ := r.Cookie(BindingCookie)
	if c == nil || subtle.ConstantTimeCompare([]byte(hashB64(c.Value)), []byte(ls.Binding)) != 1 {
		return "", s.failed(r, ls.Kommune, fail("browser_mismatch", http.StatusBadRequest, "login blev startet i en anden browser; start login forfra", nil))
	}
	p := s.providers[ls.Kommune]
	if p == nil || p.Config.Issuer != ls.Issuer {
		return "", s.failed(r, ls.Kommune, fail("provider_changed", http.StatusBadRequest, "kommunens login er ændret; start login forfra", nil))
	}
	if e := q.Get("error"); e != "" {
		return "", s.failed(r, ls.Kommune, fail("provider_error", http.StatusUnauthorized, "login blev afbrudt eller afvist af kommunens login", errors.New(e+": "+q.Get("error_description"))))
	}
	// RFC 9207: where the provider names itself, it must be the one we
	// sent the browser to (mix-up attacks).
	if iss := q.Get("iss"); iss != "" && iss != p.Config.Issuer {
		return "", s.failed(r, ls.Kommune, fail("wrong_issuer", http.StatusUnauthorized, "login-svaret kom fra en anden udbyder end forventet", fmt.Errorf("iss %q", iss)))
	}
	d, err := p.discover(r.Context())
	if err != nil {
		return "", s.failed(r, ls.Kommune, fail("provider_unavailable", http.StatusServiceUnavailable, "kommunens login svarer ikke lige nu", err))
	}
	oc, err := p.oauth2Config(d, s.redirectURL(r))
	if err != nil {
		return "", s.failed(r, ls.Kommune, fail("provider_misconfigured", http.StatusInternalServerError, "kommunens login er ikke sat op korrekt", err))
	}
	ctx := oidc.ClientContext(r.Context(), p.client)
	tok, err := oc.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(ls.Verifier))
	if err != nil {
		return "", s.failed(r, ls.Kommune, fail("code_rejected", http.StatusUnauthorized, "login-koden blev afvist; start login forfra", err))
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return "", s.failed(r, ls.Kommune, fail("no_id_token", http.StatusUnauthorized, "kommunens login sendte ikke et ID-token", nil))
	}
	idt, err := d.verifier.Verify(ctx, raw)
	if err != nil {
		return "", s.failed(r, ls.Kommune, fail(verifyReason(err), http.StatusUnauthorized, "login-beviset kunne ikke godkendes", err))
	}
	// go-oidc leaves the nonce to the caller.
	if idt.Nonce == "" || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(ls.Nonce)) != 1 {
		return "", s.failed(r, ls.Kommune, fail("nonce_mismatch", http.StatusUnauthorized, "login-beviset hører ikke til dette login-forsøg", nil))
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return "", s.failed(r, ls.Kommune, fail("bad_claims", http.StatusUnauthorized, "login-beviset kunne ikke læses", err))
	}
	refusal := audienceRefusal(p.Config, idt.Audience, claims)
	if refusal != nil {
		return "", s.failed(r, ls.Kommune, fail(refusal.Reason, refusal.Status, refusal.Msg, fmt.Errorf("aud %q", idt.Audience)))
	}
	id, refusal := identify(p.Config, claims)
	if refusal != nil {
		f := fail(refusal.Reason, refusal.Status, refusal.Msg, nil)
		s.audit(r, audit.Event{Type: "login", Outcome: audit.Failure, Reason: refusal.Reason, Kommune: ls.Kommune,
			Actor: actorOf(p, claims)})
		return "", f
	}
	if err := s.startSession(w, r, p, ls.Kommune, id, raw); err != nil {
		return "", s.failed(r, ls.Kommune, fail("internal", http.StatusInternalServerError, "intern fejl", err))
	}
	s.audit(r, audit.Event{Type: "login", Outcome: audit.Success, Actor: id.UserKey, Kommune: ls.Kommune,
		Detail: map[string]string{"roles": strings.Join(id.Roles, ","), "nsis": id.NSIS}})
	return SafeReturn(ls.ReturnTo), nil
}

// actorOf names the user of a refused login for the audit log, when the
// token said who it was.
func actorOf(p *Provider, claims map[string]any) string {
	sub := str(claims[p.Config.Claims.Subject])
	if sub == "" {
		return ""
	}
	if p.Config.Kind == "entra" {
		return str(claims[p.Config.Claims.Tenant]) + ":" + sub
	}
	return fmt.Sprintf("%d:%s", p.Config.KommuneCode, sub)
}

func verifyReason(err error) string {
	var exp *oidc.TokenExpiredError
	msg := err.Error()
	switch {
	case errors.As(err, &exp):
		return "token_expired"
	case strings.Contains(msg, "id token issued by a different provider"):
		return "wrong_issuer"
	case strings.Contains(msg, "expected audience"):
		return "wrong_audience"
	case strings.Contains(msg, "signature"), strings.Contains(msg, "signing"), strings.Contains(msg, "malformed jwt"):
		return "bad_signature"
	}
	return "token_invalid"
}

func (s *Service) startSession(w http.ResponseWriter, r *http.Request, p *Provider, kommune int, id *Identity, rawIDToken string) error {
	// Rotation: whatever session the browser had ends here.
	if c, err := r.Cookie(SessionCookie); err == nil {
		_ = s.Store.DeleteSession(r.Context(), c.Value)
	}
	sid, err := store.NewSessionID()
	if err != nil {
		return err
	}
	csrf, err := store.NewSessionID()
	if err != nil {
		return err
	}
	now := s.Now()
	sess := &store.Session{
		ID: sid, UserKey: id.UserKey, Issuer: p.Config.Issuer, Subject: id.Subject, SID: id.SID,
		Kommune: kommune, Roles: id.Roles, Name: id.Name, Email: id.Email, NSIS: id.NSIS, CSRF: csrf,
		IDToken: rawIDToken, CreatedAt: now, LastSeen: now, AbsoluteExpiry: now.Add(s.Site.Session.AbsoluteTimeout.D()),
	}
	if err := s.Store.CreateSession(r.Context(), sess); err != nil {
		return err
	}
	if s.onLogin != nil {
		s.onLogin(r.Context(), sess)
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: sid, Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteLaxMode})
	return nil
}

// failed audits a login failure and logs its cause.
func (s *Service) failed(r *http.Request, kommune int, f *Failure) *Failure {
	s.audit(r, audit.Event{Type: "login", Outcome: audit.Failure, Reason: f.Reason, Kommune: kommune})
	if f.Err != nil {
		s.Logger.Info("login failed", "reason", f.Reason, "kommune", kommune, "error", f.Err)
	}
	return f
}

func (s *Service) audit(r *http.Request, e audit.Event) {
	e.IP = ClientIP(r)
	if _, err := s.Audit.Append(r.Context(), e); err != nil {
		s.Logger.Error("audit append failed", "type", e.Type, "error", err)
	}
}

// redirectURL is the callback on the host the browser used, so one
// configuration works behind any port (8443 in development).
func (s *Service) redirectURL(r *http.Request) string {
	return (&url.URL{Scheme: "https", Host: s.host(r), Path: "/auth/callback"}).String()
}

// host is the hub's own host with the port the request came in on; the
// Host header is checked by Caddy's host matcher before we get here.
func (s *Service) host(r *http.Request) string { return siteHost(s.Site, r) }

func siteHost(st *site.Site, r *http.Request) string {
	host := st.Region.Domain
	if _, port, ok := strings.Cut(r.Host, ":"); ok && port != "443" {
		host += ":" + port
	}
	return host
}

// Origin is a hub's own origin as the browser names it: https, the site's
// domain, and the port the request came in on when it is not 443.
func Origin(st *site.Site, r *http.Request) string { return "https://" + siteHost(st, r) }

func clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

func hashB64(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
