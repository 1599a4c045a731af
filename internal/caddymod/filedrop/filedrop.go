// Package caddyfiledrop is the Caddy handler module
// http.handlers.hubkit_filedrop: the hub's secure file drop. Logged-in
// users send case material to named recipients and receive it under
// /drops; people without a login upload through a consultant's upload link
// at /u/{token}. Every access check, the encryption and the audit records
// are in the engine (internal/filedrop); this module maps HTTP onto it,
// streams uploads and downloads with constant memory, and renders the pages.
package caddyfiledrop

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/hubkit/hubkit/internal/caddymod/hubapp"
	"github.com/hubkit/hubkit/internal/filedrop"
	"github.com/hubkit/hubkit/internal/login"
	"github.com/hubkit/hubkit/internal/region"
	"github.com/hubkit/hubkit/internal/store"
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

// Handler serves the file drop of one region:
//
//	GET  /drops                          inbox
//	POST /drops                          new drop (multipart: the csrf field, other fields, then files)
//	GET  /drops/sent                     drops sent, drafts included
//	GET  /drops/new                      the form for a new drop
//	GET  /drops/links                    the user's upload links and the form for a new one
//	POST /drops/links                    create an upload link (shown once)
//	POST /drops/links/{id}/revoke        close a link
//	GET  /drops/{id}                     one drop with its files and checksums
//	GET  /drops/{id}/files/{fid}         download a file
//	POST /drops/{id}/withdraw            withdraw a drop (its sender; deletes the files)
//	POST /drops/{id}/seal                send a draft
//	POST /drops/{id}/uploads             begin a resumable upload: JSON {"name", "size"}
//	HEAD /drops/uploads/{uid}            where it stands: Upload-Offset
//	PATCH /drops/uploads/{uid}           a chunk at Upload-Offset (application/offset+octet-stream)
//	POST /drops/uploads/{uid}/finish     commit the uploaded file
//	GET  /u/{token}                      upload page of an upload link (no login)
//	POST /u/{token}                      upload through it (multipart: passphrase, message, files)
//
// The /drops routes need the session the authenticator set (401
// otherwise), which also checked the CSRF token of every POST and PATCH;
// /u/ is for people without a login and must be routed outside the
// authenticator. Drops, files, uploads and links the user may not see are
// 404, exactly like ids that do not exist. Other paths go to the next
// handler.
type Handler struct {
	// Region is the id of the region whose hub this is.
	Region string `json:"region,omitempty"`

	site   *hubapp.Site
	drops  *filedrop.Drops
	ui     *ui.UI
	logger *slog.Logger
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.hubkit_filedrop",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision finds the region's site, and its file-drop engine, in the hubkit app.
func (h *Handler) Provision(ctx caddy.Context) error {
	s, err := hubapp.Lookup(ctx, h.Region)
	if err != nil {
		return fmt.Errorf("hubkit_filedrop: %w", err)
	}
	return h.provision(s)
}

func (h *Handler) provision(s *hubapp.Site) error {
	if s.Drops == nil {
		return errors.New("hubkit_filedrop: the region's site has no file-drop engine (its site.json has no file_drop policy; render the bundle with hubctl render)")
	}
	if _, err := policyOf(s.Region.FileDrop); err != nil {
		return fmt.Errorf("hubkit_filedrop: %w", err)
	}
	u, err := ui.New(s.Logger)
	if err != nil {
		return fmt.Errorf("hubkit_filedrop: %w", err)
	}
	h.site, h.drops, h.ui, h.logger = s, s.Drops, u, s.Logger
	return nil
}

// Validate checks the configuration.
func (h *Handler) Validate() error {
	if h.Region == "" {
		return errors.New("hubkit_filedrop: region is required (the id of the region this hub serves)")
	}
	return nil
}

// params are the {name} parts of a matched route.
type params map[string]string

// endpoint serves one method of a route.
type endpoint func(h *Handler, w http.ResponseWriter, r *http.Request, sess *store.Session, p params) error

// route is a path pattern ("/drops/{id}/files/{fid}") and its methods.
// GET routes answer HEAD too, unless noHead is set.
type route struct {
	pattern string
	public  bool // served without a session (/u/)
	noHead  bool
	methods map[string]endpoint
}

// routes are tried in order; literal paths come before patterns that
// would also match them.
var routes = []route{
	{pattern: "/drops", methods: map[string]endpoint{"GET": (*Handler).serveInbox, "POST": (*Handler).serveCreate}},
	{pattern: "/drops/sent", methods: map[string]endpoint{"GET": (*Handler).serveSent}},
	{pattern: "/drops/new", methods: map[string]endpoint{"GET": (*Handler).serveNew}},
	{pattern: "/drops/links", methods: map[string]endpoint{"GET": (*Handler).serveLinks, "POST": (*Handler).serveCreateLink}},
	{pattern: "/drops/links/{id}/revoke", methods: map[string]endpoint{"POST": (*Handler).serveRevokeLink}},
	{pattern: "/drops/uploads/{uid}", noHead: true, methods: map[string]endpoint{"HEAD": (*Handler).serveUploadOffset, "PATCH": (*Handler).serveChunk}},
	{pattern: "/drops/uploads/{uid}/finish", methods: map[string]endpoint{"POST": (*Handler).serveFinishUpload}},
	{pattern: "/drops/{id}", methods: map[string]endpoint{"GET": (*Handler).serveDrop}},
	{pattern: "/drops/{id}/files/{fid}", noHead: true, methods: map[string]endpoint{"GET": (*Handler).serveDownload}},
	{pattern: "/drops/{id}/withdraw", methods: map[string]endpoint{"POST": (*Handler).serveWithdraw}},
	{pattern: "/drops/{id}/seal", methods: map[string]endpoint{"POST": (*Handler).serveSeal}},
	{pattern: "/drops/{id}/uploads", methods: map[string]endpoint{"POST": (*Handler).serveBeginUpload}},
	{pattern: "/u/{token}", public: true, methods: map[string]endpoint{"GET": (*Handler).servePublic, "POST": (*Handler).servePublicUpload}},
}

// match binds path to pattern. A {name} matches one non-empty segment.
func match(pattern, path string) (params, bool) {
	ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(xs) {
		return nil, false
	}
	var out params
	for i, seg := range ps {
		if name, ok := strings.CutPrefix(seg, "{"); ok {
			if xs[i] == "" {
				return nil, false
			}
			if out == nil {
				out = params{}
			}
			out[strings.TrimSuffix(name, "}")] = xs[i]
			continue
		}
		if seg != xs[i] {
			return nil, false
		}
	}
	return out, true
}

// owns reports whether path is the file drop's: everything under /drops
// and /u/ is answered here (404 if unknown), never passed on.
func owns(path string) bool {
	return path == "/drops" || strings.HasPrefix(path, "/drops/") || strings.HasPrefix(path, "/u/")
}

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	path := r.URL.Path
	if !owns(path) {
		return next.ServeHTTP(w, r)
	}
	if len(path) > len("/drops") && strings.HasSuffix(path, "/") {
		path = strings.TrimSuffix(path, "/")
	}
	for _, rt := range routes {
		p, ok := match(rt.pattern, path)
		if !ok {
			continue
		}
		sess := hubapp.SessionFrom(r)
		if !rt.public && sess == nil {
			return caddyhttp.Error(http.StatusUnauthorized, errors.New("hubkit_filedrop: not logged in"))
		}
		method := r.Method
		if method == http.MethodHead && !rt.noHead {
			method = http.MethodGet
		}
		ep, ok := rt.methods[method]
		if !ok {
			w.Header().Set("Allow", allow(rt))
			return caddyhttp.Error(http.StatusMethodNotAllowed, fmt.Errorf("hubkit_filedrop: method %s on %s", r.Method, rt.pattern))
		}
		return ep(h, w, r, sess, p)
	}
	if !strings.HasPrefix(r.URL.Path, "/u/") && hubapp.SessionFrom(r) == nil {
		return caddyhttp.Error(http.StatusUnauthorized, errors.New("hubkit_filedrop: not logged in"))
	}
	return caddyhttp.Error(http.StatusNotFound, errors.New("hubkit_filedrop: no such page"))
}

// allow is the Allow header of a route.
func allow(rt route) string {
	var ms []string
	for _, m := range []string{"GET", "HEAD", "POST", "PATCH"} {
		_, ok := rt.methods[m]
		if m == "HEAD" && !ok && !rt.noHead {
			_, ok = rt.methods["GET"]
		}
		if ok {
			ms = append(ms, m)
		}
	}
	return strings.Join(ms, ", ")
}

// actor is the engine's view of the logged-in user of r.
func actor(r *http.Request, sess *store.Session) filedrop.Actor {
	return filedrop.ActorFromSession(sess, login.ClientIP(r))
}

// policyOf is the region's file-drop policy as the forms show it.
func policyOf(p region.FileDropPolicy) (ui.DropPolicy, error) {
	if p.MaxFilesPerDrop == nil || p.DefaultRetentionDays == nil || p.MaxRetentionDays == nil || p.MaxFileBytes <= 0 {
		return ui.DropPolicy{}, errors.New("the region's file-drop policy is not normalised (render the bundle with hubctl render)")
	}
	return ui.DropPolicy{MaxFileBytes: p.MaxFileBytes, MaxFiles: *p.MaxFilesPerDrop,
		DefaultDays: *p.DefaultRetentionDays, MaxDays: *p.MaxRetentionDays}, nil
}

func (h *Handler) policy() ui.DropPolicy {
	p, _ := policyOf(h.site.Region.FileDrop) // checked in provision
	return p
}

// render shows a page of the file drop.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, page string, sess *store.Session, content any) {
	h.ui.Render(w, r, status, page, ui.PageData{Site: h.site.Site, Session: sess, Content: content})
}
