// Package ready is the hub's readiness handler: /readyz answers 200 only
// when the store answers and every identity provider's discovery works.
package ready

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/hubkit/hubkit/internal/caddymod/hubapp"
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

// Provision looks up the region.
func (h *Handler) Provision(ctx caddy.Context) error {
	s, err := hubapp.Lookup(ctx, h.Region)
	if err != nil {
		return fmt.Errorf("hubkit_ready: %w", err)
	}
	h.site = s
	return nil
}

// ServeHTTP reports readiness as text; the reason for "not ready" goes to
// the log, not to the (unauthenticated) caller.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := h.site.Ready(ctx); err != nil {
		h.site.Logger.Warn("not ready", "error", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready\n"))
		return nil
	}
	_, _ = w.Write([]byte("ready\n"))
	return nil
}

// UnmarshalCaddyfile: hubkit_ready <region>
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	region, err := hubapp.RegionArg(d)
	h.Region = region
	return err
}
