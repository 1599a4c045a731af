// Package login is the hub's OpenID Connect relying party: one provider per
// member municipality, authorization code flow with PKCE, state and nonce,
// claims mapped to hubkit roles and an NSIS level, server-side sessions,
// logout and back-channel logout. Token verification is go-oidc's; OAuth2
// is x/oauth2's. The Caddy modules in internal/caddymod/login and
// internal/caddymod/auth put it on the wire.
package login

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/hubkit/hubkit/internal/credential"
	"github.com/hubkit/hubkit/internal/region"
)

// Provider health: a check younger than healthTTL answers logins and
// /readyz; the watcher rechecks a working provider every healthInterval
// and a failing one after a backoff from backoffMin doubling to
// backoffMax. One check asks for the discovery document and the JWKS.
var healthTTL = 10 * time.Second // a variable for tests

const (
	healthInterval = 30 * time.Second
	backoffMin     = 2 * time.Second
	backoffMax     = 2 * time.Minute
	checkTimeout   = 5 * time.Second
)

// Provider is one municipality's identity provider. Discovery happens on
// first use and is rechecked in the background (Service.Watch) and
// before a login when the last check is older than healthTTL, so a
// provider that is down at start does not keep the hub from starting or
// other kommuner from logging in, and a provider that goes down later
// is noticed: its users get the hub's own "does not answer" page.
type Provider struct {
	Config   region.IdentityProvider
	client   *http.Client
	secret   func() (string, error)
	checkMu  sync.Mutex // one check at a time
	mu       sync.Mutex
	disc     *discovered
	health   Health
	lastErr  error
	wentDown chan struct{} // wakes the watcher when any check finds the provider down
}

// Health is what the hub last learnt of a provider.
type Health struct {
	Up      bool      // discovery and JWKS answered at the last check
	Checked time.Time // the last check; zero before the first
	Since   time.Time // when Up last changed
}

type discovered struct {
	provider   *oidc.Provider
	jwks       string
	verifier   *oidc.IDTokenVerifier
	logoutVer  *oidc.IDTokenVerifier // for back-channel logout tokens: no nonce, no exp required
	endSession string
}

// newProvider prepares a provider; no network yet.
func newProvider(cfg region.IdentityProvider, client *http.Client) *Provider {
	return &Provider{Config: cfg, client: client, secret: secretReader(cfg.ClientSecret), wentDown: make(chan struct{}, 1)}
}

// secretReader resolves the client secret reference at use, so a rotated
// secret file is picked up without a restart.
func secretReader(ref region.SecretRef) func() (string, error) {
	return func() (string, error) {
		switch {
		case ref.Env != "":
			// Under systemd the secret is the credential of that name.
			v, ok, err := credential.Lookup(ref.Env)
			if err != nil {
				return "", fmt.Errorf("client secret: %w", err)
			}
			if !ok {
				return "", fmt.Errorf("client secret: neither the systemd credential nor the environment variable %s is set", ref.Env)
			}
			return v, nil
		case ref.File != "":
			b, err := os.ReadFile(ref.File)
			if err != nil {
				return "", fmt.Errorf("client secret: %w", err)
			}
			return strings.TrimSpace(string(b)), nil
		}
		return "", errors.New("client secret: no reference configured")
	}
}

// discover returns the provider's discovery data: what the last
// successful check found, or a check now when there is none yet (at most
// once per healthTTL after a failure).
func (p *Provider) discover(ctx context.Context) (*discovered, error) {
	p.mu.Lock()
	d, h, err := p.disc, p.health, p.lastErr
	p.mu.Unlock()
	if d != nil {
		return d, nil
	}
	if h.fresh() {
		return nil, err
	}
	return p.available(ctx)
}

// available returns the discovery data when the provider answers now: by
// a check younger than healthTTL, or one made at once.
func (p *Provider) available(ctx context.Context) (*discovered, error) {
	if !p.Health().fresh() {
		p.check(ctx)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.health.Up {
		return nil, p.lastErr
	}
	return p.disc, nil
}

// fresh reports whether a check still stands: a working provider's for
// healthTTL, a failing one's for backoffMin only, so a provider that is
// back (or was only not yet listening when the hub started) is found at
// the next login, while one that is down is not asked at every login.
func (h Health) fresh() bool {
	if h.Checked.IsZero() {
		return false
	}
	ttl := healthTTL
	if !h.Up {
		ttl = min(ttl, backoffMin)
	}
	return time.Since(h.Checked) < ttl
}

// Health reports the provider's last check.
func (p *Provider) Health() Health {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.health
}

// check fetches the discovery document and the JWKS and records the
// outcome. A check that waited for another one just made uses its result.
func (p *Provider) check(ctx context.Context) error {
	started := time.Now()
	p.checkMu.Lock()
	defer p.checkMu.Unlock()
	p.mu.Lock()
	if p.health.Checked.After(started) {
		err := p.lastErr
		p.mu.Unlock()
		return err
	}
	p.mu.Unlock()
	// The outcome is shared: a caller that gives up (a /readyz that had
	// its answer from another provider) must not record a failure.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), checkTimeout)
	defer cancel()
	d, err := p.fetch(ctx)
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if up := err == nil; up != p.health.Up || p.health.Checked.IsZero() {
		p.health.Since = now
		if !up {
			select {
			case p.wentDown <- struct{}{}:
			default:
			}
		}
	}
	p.health.Up, p.health.Checked, p.lastErr = err == nil, now, err
	if err == nil && (p.disc == nil || p.disc.jwks != d.jwks || p.disc.provider.Endpoint() != d.provider.Endpoint()) {
		// First discovery, or the provider moved its endpoints or keys:
		// take the new data (a fresh key set fetches the JWKS on use).
		p.disc = d
	}
	return err
}

// fetch runs discovery and reads the JWKS once, to know it answers with
// keys; the verifier's remote key set fetches its own copy on use.
func (p *Provider) fetch(ctx context.Context) (*discovered, error) {
	op, err := oidc.NewProvider(oidc.ClientContext(ctx, p.client), p.Config.Issuer)
	if err != nil {
		return nil, fmt.Errorf("discovery of %s: %w", p.Config.Issuer, err)
	}
	jwks := jwksURL(op)
	if err := p.fetchKeys(ctx, jwks); err != nil {
		return nil, fmt.Errorf("JWKS of %s: %w", p.Config.Issuer, err)
	}
	var extra struct {
		EndSession string   `json:"end_session_endpoint"`
		Algs       []string `json:"id_token_signing_alg_values_supported"`
	}
	_ = op.Claims(&extra)
	// go-oidc's remote key set fetches the JWKS on an unknown key id, so
	// key rotation at the provider needs nothing from us. "none" is never
	// accepted: go-oidc verifies a signature for every algorithm it allows.
	algs := supportedAlgs(extra.Algs)
	verifierCtx := oidc.ClientContext(context.Background(), p.client)
	keys := oidc.NewRemoteKeySet(verifierCtx, jwks)
	return &discovered{
		provider: op,
		jwks:     jwks,
		verifier: oidc.NewVerifier(p.Config.Issuer, keys, &oidc.Config{
			ClientID: p.Config.ClientID, SupportedSigningAlgs: algs,
		}),
		logoutVer: oidc.NewVerifier(p.Config.Issuer, keys, &oidc.Config{
			ClientID: p.Config.ClientID, SupportedSigningAlgs: algs, SkipExpiryCheck: true,
		}),
		endSession: extra.EndSession,
	}, nil
}

// fetchKeys asks for the JWKS and wants at least one key in it.
func (p *Provider) fetchKeys(ctx context.Context, u string) error {
	if u == "" {
		return errors.New("discovery names no jwks_uri")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", u, resp.Status)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return fmt.Errorf("%s: %w", u, err)
	}
	if len(set.Keys) == 0 {
		return fmt.Errorf("%s: no keys", u)
	}
	return nil
}

// watch rechecks the provider until ctx ends: every healthInterval while
// it works, after a doubling backoff while it does not.
func (p *Provider) watch(ctx context.Context, logger interface {
	Warn(string, ...any)
	Info(string, ...any)
}) {
	backoff := backoffMin
	// The first check waits a moment: at start-up the hub (and a
	// development provider it serves itself) may not listen yet; a login
	// or /readyz before then checks for itself.
	first := time.NewTimer(backoffMin)
	select {
	case <-ctx.Done():
		first.Stop()
		return
	case <-first.C:
	}
	for {
		wasUp := p.Health().Up
		err := p.check(ctx)
		select {
		case <-p.wentDown: // its own finding
		default:
		}
		wait := healthInterval
		switch {
		case err != nil && ctx.Err() == nil:
			if wasUp || backoff == backoffMin {
				logger.Warn("identity provider does not answer", "kommune", p.Config.KommuneCode, "error", err)
			}
			wait, backoff = backoff, min(2*backoff, backoffMax)
		case err == nil:
			if !wasUp && backoff != backoffMin {
				logger.Info("identity provider answers again", "kommune", p.Config.KommuneCode)
			}
			backoff = backoffMin
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-p.wentDown:
			// A login found it down: retry on the backoff, not in
			// healthInterval.
			t.Stop()
			if err == nil {
				t := time.NewTimer(backoffMin)
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
			}
		}
	}
}

func jwksURL(op *oidc.Provider) string {
	var c struct {
		JWKS string `json:"jwks_uri"`
	}
	_ = op.Claims(&c)
	return c.JWKS
}

// supportedAlgs keeps the asymmetric algorithms the provider advertises;
// HMAC and "none" are refused whatever discovery says.
func supportedAlgs(advertised []string) []string {
	allowed := map[string]bool{
		oidc.RS256: true, oidc.RS384: true, oidc.RS512: true, oidc.ES256: true, oidc.ES384: true,
		oidc.ES512: true, oidc.PS256: true, oidc.PS384: true, oidc.PS512: true, oidc.EdDSA: true,
	}
	var out []string
	for _, a := range advertised {
		if allowed[a] {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		out = []string{oidc.RS256}
	}
	return out
}

// oauth2Config is the OAuth2 client for this provider and redirect URL.
func (p *Provider) oauth2Config(d *discovered, redirectURL string) (*oauth2.Config, error) {
	secret, err := p.secret()
	if err != nil {
		return nil, err
	}
	return &oauth2.Config{
		ClientID: p.Config.ClientID, ClientSecret: secret,
		Endpoint: d.provider.Endpoint(), RedirectURL: redirectURL, Scopes: p.Config.Scopes,
	}, nil
}
