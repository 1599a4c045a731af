// Package auth is the hub's session authenticator for Caddy's
// authentication handler, so Caddy's {http.auth.user.*} placeholders and
// access-log user fields name the logged-in user.
package auth

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/caddyauth"

	"github.com/hubkit/hubkit/internal/caddymod/hubapp"
)

func init() {
	caddy.RegisterModule(Session{})
}

// Interface guards.
var (
	_ caddyauth.Authenticator = (*Session)(nil)
	_ caddy.Provisioner       = (*Session)(nil)
	_ caddy.Validator         = (*Session)(nil)
	_ caddyfile.Unmarshaler   = (*Session)(nil)
)

// Session authenticates requests by the hub's server-side session cookie.
// CSRF tokens are checked by the hubkit_csrf handler that follows it.
type Session struct {
	// Region is the id of the region whose sessions count.
	Region string `json:"region,omitempty"`

	site *hubapp.Site
}

// CaddyModule returns the Caddy module information.
func (Session) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.authentication.providers.hubkit",
		New: func() caddy.Module { return new(Session) },
	}
}

// Provision looks up the region's shared state in the hubkit app.
func (s *Session) Provision(ctx caddy.Context) error {
	site, err := hubapp.Lookup(ctx, s.Region)
	if err != nil {
		return fmt.Errorf("hubkit authenticator: %w", err)
	}
	s.site = site
	return nil
}

// Validate checks the configuration.
func (s *Session) Validate() error {
	if s.Region == "" {
		return fmt.Errorf("hubkit authenticator: region is required")
	}
	return nil
}

// Authenticate implements caddyauth.Authenticator.
func (s *Session) Authenticate(w http.ResponseWriter, r *http.Request) (caddyauth.User, bool, error) {
	sess, ok, err := s.site.Login.Authenticate(r)
	if err != nil {
		return caddyauth.User{}, false, caddyhttp.Error(http.StatusInternalServerError, err)
	}
	if !ok {
		return caddyauth.User{}, false, nil
	}
	hubapp.SetSession(r, sess)
	return caddyauth.User{
		ID: sess.UserKey,
		Metadata: map[string]string{
			"name":    sess.Name,
			"kommune": strconv.Itoa(sess.Kommune),
			"roles":   strings.Join(sess.Roles, ","),
			"nsis":    sess.NSIS,
		},
	}, true, nil
}

// UnmarshalCaddyfile sets up the authenticator from Caddyfile tokens:
//
//	hubkit <region>
func (s *Session) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	region, err := hubapp.RegionArg(d)
	s.Region = region
	return err
}
