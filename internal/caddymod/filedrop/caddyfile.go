package caddyfiledrop

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("hubkit_filedrop", parseCaddyfile)
	// It answers /drops and /u/ and passes the rest on, so it can go before
	// the terminal handlers (file_server, and hubkit_ui after that).
	httpcaddyfile.RegisterDirectiveOrder("hubkit_filedrop", httpcaddyfile.Before, "file_server")
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
//	hubkit_filedrop <region>
//
// Route /u/* to it outside the authentication handler and /drops* behind
// it, each with a request_body limit that fits the region's policy (see
// internal/bundle/caddy.go).
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive's name
	if !d.NextArg() {
		return d.Errf("hubkit_filedrop: missing the region id (hubkit_filedrop <region>, e.g. hubkit_filedrop nordjylland)")
	}
	h.Region = d.Val()
	if d.NextArg() {
		return d.Errf("hubkit_filedrop: unexpected argument %q (hubkit_filedrop <region>)", d.Val())
	}
	if d.NextBlock(0) {
		return d.Errf("hubkit_filedrop: takes no block (hubkit_filedrop <region>)")
	}
	return nil
}
