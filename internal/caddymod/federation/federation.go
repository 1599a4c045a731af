// Package caddyfederation is the hub's federation handler: the peer
// document other regions' hubs read, and the endpoints they deliver drops
// and withdrawals to (package federation). It sits outside the login:
// the callers are hubs, and every request is checked by its signature.
package caddyfederation

import (
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/hubkit/hubkit/internal/caddymod/hubapp"
)

func init() {
	caddy.RegisterModule(Handler{})
	httpcaddyfile.RegisterHandlerDirective("hubkit_federation", func(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
		var m Handler
		err := m.UnmarshalCaddyfile(h.Dispenser)
		return &m, err
	})
	httpcaddyfile.RegisterDirectiveOrder("hubkit_federation", httpcaddyfile.Before, "basic_auth")
}

// Interface guards.
var (
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddyfile.Unmarshaler       = (*Handler)(nil)
)

// Handler serves /.well-known/hubkit-peer.json and /federation/v1/*.
type Handler struct {
	// Region is the id of the region whose hub this is.
	Region string `json:"region,omitempty"`

	site *hubapp.Site
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.hubkit_federation", New: func() caddy.Module { return new(Handler) }}
}

// Provision looks up the region.
func (h *Handler) Provision(ctx caddy.Context) error {
	s, err := hubapp.Lookup(ctx, h.Region)
	if err != nil {
		return fmt.Errorf("hubkit_federation: %w", err)
	}
	h.site = s
	return nil
}

// ServeHTTP hands the request to the region's federation node; without a
// file drop there is none, and the routes do not exist.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	if h.site.Federation == nil {
		return caddyhttp.Error(http.StatusNotFound, nil)
	}
	h.site.Federation.ServeHTTP(w, r)
	return nil
}

// UnmarshalCaddyfile: hubkit_federation <region>
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	region, err := hubapp.RegionArg(d)
	h.Region = region
	return err
}
