// Package devidp is the Caddy handler that serves hubkit's development
// identity provider (internal/devidp) for `hubctl serve --dev`: one OpenID
// issuer per demo municipality, with a client for every development hub in
// the hubkit app. It refuses to serve anything but localhost.
package devidp

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/hubkit/hubkit/internal/caddymod/hubapp"
	"github.com/hubkit/hubkit/internal/credential"
	idp "github.com/hubkit/hubkit/internal/devidp"
)

func init() {
	caddy.RegisterModule(Handler{})
	httpcaddyfile.RegisterHandlerDirective("hubkit_devidp", func(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
		var m Handler
		err := m.UnmarshalCaddyfile(h.Dispenser)
		return &m, err
	})
}

// Interface guards.
var (
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddyfile.Unmarshaler       = (*Handler)(nil)
)

// Handler serves the development identity provider. It has no options:
// everything comes from the development sites of the hubkit app and the
// client secret from the environment variable devidp.SecretEnv.
type Handler struct {
	idp http.Handler
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.hubkit_devidp", New: func() caddy.Module { return new(Handler) }}
}

// Provision builds the provider from the hubkit app's development sites.
func (h *Handler) Provision(ctx caddy.Context) error {
	v, err := ctx.App("hubkit")
	if err != nil {
		return fmt.Errorf("hubkit_devidp: %w", err)
	}
	app, ok := v.(*hubapp.App)
	if !ok {
		return fmt.Errorf("hubkit_devidp: the hubkit app is a %T, not *hubapp.App", v)
	}
	secret, _, err := credential.Lookup(idp.SecretEnv)
	if err != nil {
		return fmt.Errorf("hubkit_devidp: %w", err)
	}
	cfg, err := configFor(app.AllSites(), secret)
	if err != nil {
		return fmt.Errorf("hubkit_devidp: %w", err)
	}
	if h.idp, err = idp.New(cfg); err != nil {
		return fmt.Errorf("hubkit_devidp: %w", err)
	}
	issuers := make([]string, len(cfg.Kommuner))
	for i, c := range cfg.Kommuner {
		issuers[i] = idp.Issuer(cfg.BaseURL, c)
	}
	ctx.Logger().Info("development identity provider: demo users only, password is public",
		zap.String("base_url", cfg.BaseURL), zap.Strings("issuers", issuers), zap.Int("clients", len(cfg.Clients)))
	return nil
}

// configFor derives the provider's configuration from the development sites:
// one client per development hub, with its callback and signed-out URLs on
// the provider's port, and the union of the hubs' demo municipalities.
func configFor(sites []*hubapp.Site, secret string) (idp.Config, error) {
	var cfg idp.Config
	codes := map[int]bool{}
	for _, s := range sites {
		if s == nil || s.Site == nil || s.Dev == nil {
			continue
		}
		id := s.Region.ID
		if cfg.BaseURL == "" {
			cfg.BaseURL = s.Dev.IdPURL
		} else if s.Dev.IdPURL != cfg.BaseURL {
			return cfg, fmt.Errorf("development sites disagree on the identity provider's URL: %s has %q, another %q (render all bundles with the same hubctl)", id, s.Dev.IdPURL, cfg.BaseURL)
		}
		if err := idp.CheckLocalURL(s.Dev.IdPURL); err != nil {
			return cfg, fmt.Errorf("region %s: idp_url: %w", id, err)
		}
		if !idp.IsLocalHost(s.Region.Domain) {
			return cfg, fmt.Errorf("region %s: dev identity provider only serves localhost, and the hub's domain %q is not a localhost name", id, s.Region.Domain)
		}
		u, _ := url.Parse(s.Dev.IdPURL)
		origin := "https://" + s.Region.Domain
		if p := u.Port(); p != "" && p != "443" {
			origin += ":" + p
		}
		cfg.Clients = append(cfg.Clients, idp.Client{
			ID:                     idp.ClientID(id),
			Secret:                 secret,
			RedirectURIs:           []string{origin + "/auth/callback"},
			PostLogoutRedirectURIs: []string{origin + "/auth/signed-out"},
		})
		for _, p := range s.Region.IdentityProviders {
			if p.KommuneCode != 0 {
				codes[p.KommuneCode] = true
			}
		}
	}
	if len(cfg.Clients) == 0 {
		return cfg, errors.New("no development site in the hubkit app: the dev identity provider only serves `hubctl serve --dev`")
	}
	if secret == "" {
		return cfg, fmt.Errorf("%s is empty: it must hold the client secret of the development hubs (hubctl serve --dev generates it)", idp.SecretEnv)
	}
	for c := range codes {
		cfg.Kommuner = append(cfg.Kommuner, c)
	}
	sort.Ints(cfg.Kommuner)
	sort.Slice(cfg.Clients, func(i, j int) bool { return cfg.Clients[i].ID < cfg.Clients[j].ID })
	if len(cfg.Kommuner) == 0 {
		return cfg, errors.New("the development sites list no identity providers with a kommune code")
	}
	return cfg, nil
}

// Validate checks that Provision built the provider.
func (h *Handler) Validate() error {
	if h.idp == nil {
		return errors.New("hubkit_devidp: not provisioned")
	}
	return nil
}

// ServeHTTP serves the provider; it is a terminal handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	h.idp.ServeHTTP(w, r)
	return nil
}

// UnmarshalCaddyfile parses the directive, which takes no arguments:
//
//	hubkit_devidp
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name
	if d.NextArg() {
		return d.Errf("hubkit_devidp: takes no arguments, got %q", d.Val())
	}
	if d.NextBlock(0) {
		return d.Errf("hubkit_devidp: takes no block, got %q", d.Val())
	}
	return nil
}
