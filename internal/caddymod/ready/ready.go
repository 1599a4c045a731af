// Package ready is the hub's readiness handler: /readyz answers 200 when
// the store answers and at least one identity provider does, with each
// provider's last check as JSON detail; one municipality's provider being
// down leaves the hub ready (its users get the hub's own page saying so).
package ready

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/hubkit/hubkit/internal/caddymod/hubapp"
	"github.com/hubkit/hubkit/internal/login"
)

func init() {
	caddy.RegisterModule(Handler{})
	httpcaddyfile.RegisterHandlerDirective("hubkit_ready", func(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
		var m Handler
		err := m.UnmarshalCaddyfile(h.Dispenser)
		return &m, err
	})
	httpcaddyfile.RegisterDirectiveOrder("hubkit_ready", httpcaddyfile.Before, "basic_auth")
}

// Interface guards.
var (
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddyfile.Unmarshaler       = (*Handler)(nil)
)

// Handler answers readiness probes.
type Handler struct {
	// Region is the id of the region whose readiness is reported.
	Region string `json:"region,omitempty"`

	site *hubapp.Site
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.hubkit_ready", New: func() caddy.Module { return new(Handler) }}
}

// Provision looks up the region and starts the background checks of its
// identity providers for as long as this configuration runs (caddy.Context
// ends when it is unloaded).
func (h *Handler) Provision(ctx caddy.Context) error {
	s, err := hubapp.Lookup(ctx, h.Region)
	if err != nil {
		return fmt.Errorf("hubkit_ready: %w", err)
	}
	h.site = s
	if s.Login != nil {
		s.Login.Watch(ctx)
	}
	return nil
}

// Report is the body of /readyz. Errors go to the log, not to the
// (unauthenticated) caller; that a municipality's login is down is no
// secret, its users see it on the login page.
type Report struct {
	Status    string                 `json:"status"` // "ready" or "not ready"
	Providers []login.ProviderHealth `json:"providers"`
	Audit     *hubapp.AuditHealth    `json:"audit,omitempty"`
}

// ServeHTTP reports readiness as JSON.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	rep, status := Report{Status: "ready"}, http.StatusOK
	if err := h.site.Ready(ctx); err != nil {
		h.site.Logger.Warn("not ready", "error", err)
		rep.Status, status = "not ready", http.StatusServiceUnavailable
	}
	if h.site.Login != nil {
		rep.Providers = h.site.Login.Health()
	}
	rep.Audit = h.site.AuditHealth()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(rep)
}

// UnmarshalCaddyfile: hubkit_ready <region>
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	region, err := hubapp.RegionArg(d)
	h.Region = region
	return err
}
