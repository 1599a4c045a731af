package caddyui

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("hubkit_ui", parseCaddyfile)
	// The UI is a catch-all, so it goes last, after every other handler.
	httpcaddyfile.RegisterDirectiveOrder("hubkit_ui", httpcaddyfile.After, "file_server")
}

// Interface guard.
var _ caddyfile.Unmarshaler = (*Handler)(nil)

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	var m Handler
	err := m.UnmarshalCaddyfile(h.Dispenser)
	return &m, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	hubkit_ui <region> [errors]
//
// Use the errors form inside handle_errors.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive's name
	if !d.NextArg() {
		return d.Errf("hubkit_ui: missing the region id (hubkit_ui <region> [errors], e.g. hubkit_ui nordjylland)")
	}
	h.Region = d.Val()
	if d.NextArg() {
		if d.Val() != "errors" {
			return d.Errf("hubkit_ui: unknown option %q; the only option is errors (hubkit_ui <region> [errors])", d.Val())
		}
		h.Errors = true
	}
	if d.NextArg() {
		return d.Errf("hubkit_ui: unexpected argument %q (hubkit_ui <region> [errors])", d.Val())
	}
	if d.NextBlock(0) {
		return d.Errf("hubkit_ui: takes no block (hubkit_ui <region> [errors])")
	}
	return nil
}
