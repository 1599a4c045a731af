package caddyfiledrop

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/hubkit/hubkit/internal/caddymod/hubapp"
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
	region, err := hubapp.RegionArg(d)
	h.Region = region
	return err
}
