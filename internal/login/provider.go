// Package login is the hub's OpenID Connect relying party: one provider per
// member municipality, authorization code flow with PKCE, state and nonce,
// claims mapped to hubkit roles and an NSIS level, server-side sessions,
// logout and back-channel logout. Token verification is go-oidc's; OAuth2
// is x/oauth2's. The Caddy modules in internal/caddymod/login and
// internal/caddymod/auth put it on the wire.
package login

import (
	"context"
	"errors"
	"fmt"
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

// discoveryRetry is how long a failed discovery is remembered before the
// next login tries again.
const discoveryRetry = 30 * time.Second

// Provider is one municipality's identity provider. Discovery happens on
// first use and is retried after a failure, so a provider that is down at
// start does not keep the hub from starting or other kommuner from logging in.
type Provider struct {
	Config  region.IdentityProvider
	client  *http.Client
	secret  func() (string, error)
	mu      sync.Mutex
	disc    *discovered
	failed  time.Time
	lastErr error
}

type discovered struct {
	provider   *oidc.Provider
	verifier   *oidc.IDTokenVerifier
	logoutVer  *oidc.IDTokenVerifier // for back-channel logout tokens: no nonce, no exp required
	endSession string
}

// newProvider prepares a provider; no network yet.
func newProvider(cfg region.IdentityProvider, client *http.Client) *Provider {
	return &Provider{Config: cfg, client: client, secret: secretReader(cfg.ClientSecret)}
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

// discover returns the provider's discovery data, fetching it if needed.
func (p *Provider) discover(ctx context.Context) (*discovered, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.disc != nil {
		return p.disc, nil
	}
	if !p.failed.IsZero() && time.Since(p.failed) < discoveryRetry {
		return nil, p.lastErr
	}
	ctx = oidc.ClientContext(ctx, p.client)
	op, err := oidc.NewProvider(ctx, p.Config.Issuer)
	if err != nil {
		p.failed, p.lastErr = time.Now(), fmt.Errorf("discovery of %s: %w", p.Config.Issuer, err)
		return nil, p.lastErr
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
	keys := oidc.NewRemoteKeySet(verifierCtx, jwksURL(op))
	p.disc = &discovered{
		provider: op,
		verifier: oidc.NewVerifier(p.Config.Issuer, keys, &oidc.Config{
			ClientID: p.Config.ClientID, SupportedSigningAlgs: algs,
		}),
		logoutVer: oidc.NewVerifier(p.Config.Issuer, keys, &oidc.Config{
			ClientID: p.Config.ClientID, SupportedSigningAlgs: algs, SkipExpiryCheck: true,
		}),
		endSession: extra.EndSession,
	}
	p.failed, p.lastErr = time.Time{}, nil
	return p.disc, nil
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

// Ready reports whether discovery works (for /readyz).
func (p *Provider) Ready(ctx context.Context) error {
	_, err := p.discover(ctx)
	return err
}
