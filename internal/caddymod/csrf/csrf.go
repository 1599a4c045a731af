// Package csrf is the hub's CSRF guard: placed right after the session
// authenticator, it refuses every state-changing request that does not
// come from the hub's own origin or lacks the session's CSRF token with
// 403. It is its own handler because Caddy's authentication handler turns
// any authenticator error into 401, which would send a logged-in user to
// the login page instead of saying no.
package csrf

import (
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/hubkit/hubkit/internal/caddymod/hubapp"
	"github.com/hubkit/hubkit/internal/login"
)

func init() {
	caddy.RegisterModule(Guard{})
	httpcaddyfile.RegisterHandlerDirective("hubkit_csrf", func(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
		var g Guard
		err := g.UnmarshalCaddyfile(h.Dispenser)
		return &g, err
	})
	httpcaddyfile.RegisterDirectiveOrder("hubkit_csrf", httpcaddyfile.After, "basic_auth")
}

// Interface guards.
var (
	_ caddyhttp.MiddlewareHandler = (*Guard)(nil)
	_ caddy.Provisioner           = (*Guard)(nil)
	_ caddyfile.Unmarshaler       = (*Guard)(nil)
)

// Guard checks the origin and the CSRF token of state-changing requests.
type Guard struct {
	// Region is the id of the region whose origin and sessions count.
	Region string `json:"region,omitempty"`

	login *login.Service
}

// CaddyModule returns the Caddy module information.
func (Guard) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.hubkit_csrf", New: func() caddy.Module { return new(Guard) }}
}

// Provision looks up the region's login service, which knows its origin.
func (g *Guard) Provision(ctx caddy.Context) error {
	site, err := hubapp.Lookup(ctx, g.Region)
	if err != nil {
		return fmt.Errorf("hubkit_csrf: %w", err)
	}
	g.login = site.Login
	return nil
}

// ServeHTTP passes safe methods through and requires, on all others, the
// hub's own origin and the session's CSRF token (login.Service.CheckCSRF).
func (g *Guard) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return next.ServeHTTP(w, r)
	}
	sess := hubapp.SessionFrom(r)
	if sess == nil {
		return caddyhttp.Error(http.StatusUnauthorized, fmt.Errorf("no session"))
	}
	if !g.login.CheckCSRF(r, sess) {
		return caddyhttp.Error(http.StatusForbidden, fmt.Errorf("foreign origin, or missing or wrong CSRF token"))
	}
	return next.ServeHTTP(w, r)
}

// UnmarshalCaddyfile: hubkit_csrf <region>
func (g *Guard) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	region, err := hubapp.RegionArg(d)
	g.Region = region
	return err
}
