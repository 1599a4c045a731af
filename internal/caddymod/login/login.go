// Package login is the hub's login handler for Caddy: the municipality
// chooser, the OpenID Connect redirect and callback, logout and OIDC
// back-channel logout. The protocol work is internal/login's.
package login

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/hubkit/hubkit/internal/caddymod/hubapp"
	"github.com/hubkit/hubkit/internal/kommune"
	hublogin "github.com/hubkit/hubkit/internal/login"
	"github.com/hubkit/hubkit/internal/ui"
)

func init() {
	caddy.RegisterModule(Handler{})
	httpcaddyfile.RegisterHandlerDirective("hubkit_login", parseCaddyfile)
	// Login pages answer before anything that needs a session.
	httpcaddyfile.RegisterDirectiveOrder("hubkit_login", httpcaddyfile.Before, "basic_auth")
}

// Interface guards.
var (
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddyfile.Unmarshaler       = (*Handler)(nil)
)

// Handler serves /login and /auth/*.
type Handler struct {
	// Region is the id of the region this hub serves.
	Region string `json:"region,omitempty"`

	site *hubapp.Site
	ui   *ui.UI
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.hubkit_login", New: func() caddy.Module { return new(Handler) }}
}

// Provision looks up the region's shared state.
func (h *Handler) Provision(ctx caddy.Context) error {
	site, err := hubapp.Lookup(ctx, h.Region)
	if err != nil {
		return fmt.Errorf("hubkit_login: %w", err)
	}
	h.site = site
	if h.ui, err = ui.New(site.Logger); err != nil {
		return fmt.Errorf("hubkit_login: %w", err)
	}
	return nil
}

// Validate checks the configuration.
func (h *Handler) Validate() error {
	if h.Region == "" {
		return fmt.Errorf("hubkit_login: region is required")
	}
	return nil
}

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	svc := h.site.Login
	route := func(method string) error {
		if r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead) {
			w.Header().Set("Allow", method)
			return caddyhttp.Error(http.StatusMethodNotAllowed, fmt.Errorf("%s not allowed", r.Method))
		}
		return nil
	}
	switch r.URL.Path {
	case "/login":
		if err := route(http.MethodGet); err != nil {
			return err
		}
		if k := r.URL.Query().Get("kommune"); k != "" {
			return h.start(w, r, k)
		}
		return h.chooser(w, r, "")
	case "/auth/start":
		if err := route(http.MethodGet); err != nil {
			return err
		}
		return h.start(w, r, r.URL.Query().Get("kommune"))
	case "/auth/callback":
		if err := route(http.MethodGet); err != nil {
			return err
		}
		next, f := svc.Callback(w, r)
		if f != nil {
			return h.failure(w, r, f)
		}
		http.Redirect(w, r, next, http.StatusSeeOther)
		return nil
	case "/auth/logout":
		if err := route(http.MethodPost); err != nil {
			return err
		}
		sess, ok, err := svc.Authenticate(r)
		if err != nil {
			return caddyhttp.Error(http.StatusInternalServerError, err)
		}
		if ok && !svc.CheckCSRF(r, sess) {
			return caddyhttp.Error(http.StatusForbidden, fmt.Errorf("logout without a valid CSRF token"))
		}
		http.Redirect(w, r, svc.Logout(w, r, sess), http.StatusSeeOther)
		return nil
	case "/auth/signed-out":
		if err := route(http.MethodGet); err != nil {
			return err
		}
		h.ui.Render(w, r, http.StatusOK, "signedout", h.page(r, ui.SignedOutContent{}))
		return nil
	case "/auth/backchannel-logout":
		if err := route(http.MethodPost); err != nil {
			return err
		}
		return h.backchannel(w, r)
	}
	return caddyhttp.Error(http.StatusNotFound, nil)
}

func (h *Handler) start(w http.ResponseWriter, r *http.Request, k string) error {
	code, err := strconv.Atoi(k)
	if err != nil || h.site.Login.Provider(code) == nil {
		return h.chooser(w, r, "unknown_kommune")
	}
	to, f := h.site.Login.Start(w, r, code, r.URL.Query().Get("return"))
	if f != nil {
		return h.failure(w, r, f)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

// chooser lists the region's municipalities; the last chosen comes first.
func (h *Handler) chooser(w http.ResponseWriter, r *http.Request, problem string) error {
	last := 0
	if c, err := r.Cookie(hublogin.KommuneCookie); err == nil {
		last, _ = strconv.Atoi(c.Value)
	}
	q := r.URL.Query()
	data := ui.NewChooser(h.site.Site, q.Get("q"), last, q.Get("return"))
	status := http.StatusOK
	if problem != "" {
		data.Error = "login.error." + problem
		status = http.StatusBadRequest
	}
	h.ui.Render(w, r, status, "chooser", h.page(r, data))
	return nil
}

// failure shows a failed login; a missing role gets the friendly
// "no access, contact the region" page.
func (h *Handler) failure(w http.ResponseWriter, r *http.Request, f *hublogin.Failure) error {
	switch f.Status {
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", "60")
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "30")
	}
	if f.Reason == "no_role" {
		h.ui.Render(w, r, http.StatusForbidden, "noaccess", h.page(r, ui.NoAccessContent{Kommune: h.kommuneOf(r)}))
		return nil
	}
	msg := f.Msg
	if key, ok := messageKeys[f.Reason]; ok {
		msg = key
	}
	h.ui.Render(w, r, f.Status, "loginerror", h.page(r, ui.LoginErrorContent{Message: msg, Retry: "/login"}))
	return nil
}

// messageKeys maps failure reasons to the UI's translated messages; other
// reasons show the failure's own (Danish) text.
var messageKeys = map[string]string{
	"unknown_kommune":      "login.error.unknown_kommune",
	"state_missing":        "login.error.state",
	"state_mismatch":       "login.error.state",
	"state_expired":        "login.error.state",
	"browser_mismatch":     "login.error.state",
	"provider_changed":     "login.error.state",
	"provider_error":       "login.error.provider",
	"code_rejected":        "login.error.provider",
	"provider_unavailable": "login.error.unavailable",
	"nsis_too_low":         "login.error.assurance",
	"nsis_unknown":         "login.error.assurance",
}

func (h *Handler) kommuneOf(r *http.Request) string {
	if c, err := r.Cookie(hublogin.KommuneCookie); err == nil {
		if code, err := strconv.Atoi(c.Value); err == nil {
			if k, ok := kommune.ByCode(code); ok {
				return k.Name
			}
		}
	}
	return ""
}

func (h *Handler) backchannel(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "no-store")
	if err := r.ParseForm(); err != nil {
		return caddyhttp.Error(http.StatusBadRequest, err)
	}
	n, err := h.site.Login.BackchannelLogout(r.Context(), hublogin.ClientIP(r), r.PostForm.Get("logout_token"))
	if err != nil {
		h.site.Logger.Info("back-channel logout refused", "error", err)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_request"}` + "\n"))
		return nil
	}
	h.site.Logger.Info("back-channel logout", "sessions", n)
	w.WriteHeader(http.StatusOK)
	return nil
}

func (h *Handler) page(r *http.Request, content any) ui.PageData {
	return ui.PageData{Site: h.site.Site, Content: content}
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens:
//
//	hubkit_login <region>
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	region, err := hubapp.RegionArg(d)
	h.Region = region
	return err
}

func parseCaddyfile(hp httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	var h Handler
	err := h.UnmarshalCaddyfile(hp.Dispenser)
	return &h, err
}
