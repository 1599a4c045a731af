// Package caddyui is the Caddy handler module http.handlers.hubkit_ui: the
// hub's static assets, its home page, and — in a server's error routes — the
// error pages and the redirect of unauthenticated requests to the login.
package caddyui

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/hubkit/hubkit/internal/caddymod/hubapp"
	"github.com/hubkit/hubkit/internal/kommune"
	"github.com/hubkit/hubkit/internal/ui"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Interface guards.
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)

// Handler serves the hub's UI for one region.
//
// Normally it answers GET /assets/* (no login needed; the route sits before
// the authenticator), GET / (the home page, which needs the session the
// authenticator set) and 404 for anything else: it is the catch-all of the
// authenticated routes.
//
// With Errors set it belongs in the server's error routes: it reads the
// status from {http.error.status_code}, turns 401 into a 303 redirect to
// /login (with the failed GET's path as return, when that is a safe
// relative URL) and shows every other status as a friendly error page that
// never contains the internal error message.
type Handler struct {
	// Region is the id of the region whose hub this is.
	Region string `json:"region,omitempty"`
	// Errors makes the handler render error pages.
	Errors bool `json:"errors,omitempty"`

	site *hubapp.Site
	ui   *ui.UI
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.hubkit_ui",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision finds the region's site in the hubkit app.
func (h *Handler) Provision(ctx caddy.Context) error {
	s, err := hubapp.Lookup(ctx, h.Region)
	if err != nil {
		return fmt.Errorf("hubkit_ui: %w", err)
	}
	return h.provision(s)
}

func (h *Handler) provision(s *hubapp.Site) error {
	u, err := ui.New(s.Logger)
	if err != nil {
		return fmt.Errorf("hubkit_ui: %w", err)
	}
	h.site, h.ui = s, u
	return nil
}

// Validate checks the configuration.
func (h *Handler) Validate() error {
	if h.Region == "" {
		return errors.New("hubkit_ui: region is required (the id of the region this hub serves)")
	}
	return nil
}

// ServeHTTP implements caddyhttp.MiddlewareHandler. It never calls next:
// it is the last handler of its routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	if h.Errors {
		h.serveError(w, r)
		return nil
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		return caddyhttp.Error(http.StatusMethodNotAllowed, fmt.Errorf("hubkit_ui: method %s", r.Method))
	}
	switch {
	case strings.HasPrefix(r.URL.Path, ui.AssetPrefix):
		if h.ui.ServeAsset(w, r) {
			return nil
		}
		return caddyhttp.Error(http.StatusNotFound, errors.New("hubkit_ui: no such asset"))
	case r.URL.Path == "/":
		sess := hubapp.SessionFrom(r)
		if sess == nil {
			return caddyhttp.Error(http.StatusUnauthorized, errors.New("hubkit_ui: home page without a session"))
		}
		h.ui.Render(w, r, http.StatusOK, "home", ui.PageData{
			Site: h.site.Site, Session: sess, Content: ui.HomeContent{Kommune: h.kommuneName(sess.Kommune)},
		})
		return nil
	}
	return caddyhttp.Error(http.StatusNotFound, errors.New("hubkit_ui: no such page"))
}

func (h *Handler) kommuneName(code int) string {
	for _, k := range h.site.Region.Kommuner {
		if k.Code == code {
			return k.Name
		}
	}
	if k, ok := kommune.ByCode(code); ok {
		return k.Name
	}
	return ""
}

// serveError answers in an error route.
func (h *Handler) serveError(w http.ResponseWriter, r *http.Request) {
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	status, id := http.StatusInternalServerError, ""
	if repl != nil {
		status = errorStatus(repl)
		id, _ = repl.GetString("http.error.id")
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("Location", LoginURL(r))
		w.WriteHeader(http.StatusSeeOther)
		return
	}
	h.ui.Render(w, r, status, "error", ui.PageData{
		Site: h.site.Site, Session: hubapp.SessionFrom(r), Content: ui.ErrorContent{Status: status, ID: id},
	})
}

// errorStatus is {http.error.status_code} when it is an error status, else
// 500: a handler that failed without saying how failed on the server.
func errorStatus(repl *caddy.Replacer) int {
	v, _ := repl.Get("http.error.status_code")
	var n int
	switch s := v.(type) {
	case int:
		n = s
	case string:
		n, _ = strconv.Atoi(s)
	}
	if n < 400 || n > 599 {
		return http.StatusInternalServerError
	}
	return n
}

// LoginURL is where an unauthenticated request is sent: /login, with the
// original request's path and query as return when it was a GET or HEAD
// (another method can't be repeated by a redirect) and ui.SafeReturn
// accepts it.
func LoginURL(r *http.Request) string {
	orig := r
	if or, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request); ok {
		orig = &or
	}
	if orig.Method != http.MethodGet && orig.Method != http.MethodHead {
		return "/login"
	}
	ret := ui.SafeReturn(orig.URL.RequestURI())
	if ret == "" || ret == "/" {
		return "/login"
	}
	return "/login?" + url.Values{"return": {ret}}.Encode()
}
