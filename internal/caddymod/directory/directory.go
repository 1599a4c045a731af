// Package caddydirectory is the Caddy handler module
// http.handlers.hubkit_directory: the hub's contact directory under
// /directory for logged-in users — search, print view and vCard downloads,
// each download recorded in the audit log.
package caddydirectory

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/hubkit/hubkit/internal/caddymod/hubapp"
	"github.com/hubkit/hubkit/internal/directory"
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

// Handler serves the contact directory of one region:
//
//	GET /directory                   search form and results (?q, kind, tag, kommune, scope)
//	GET /directory/print             the results as a printable list
//	GET /directory/export.vcf        the results as vCards (same parameters)
//	GET /directory/person/{id}.vcf   one resource person's vCard
//
// Other paths are passed to the next handler. Every request needs the
// session the authenticator set (401 otherwise); methods other than GET
// and HEAD get 405.
type Handler struct {
	// Region is the id of the region whose hub this is.
	Region string `json:"region,omitempty"`

	site *hubapp.Site
	dir  *directory.Directory
	ui   *ui.UI
	now  func() time.Time
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.hubkit_directory",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision finds the region's site in the hubkit app and builds its directory.
func (h *Handler) Provision(ctx caddy.Context) error {
	s, err := hubapp.Lookup(ctx, h.Region)
	if err != nil {
		return fmt.Errorf("hubkit_directory: %w", err)
	}
	return h.provision(s)
}

func (h *Handler) provision(s *hubapp.Site) error {
	u, err := ui.New(s.Logger)
	if err != nil {
		return fmt.Errorf("hubkit_directory: %w", err)
	}
	h.site, h.ui, h.dir, h.now = s, u, directory.New(s.Site), time.Now
	return nil
}

// Validate checks the configuration.
func (h *Handler) Validate() error {
	if h.Region == "" {
		return errors.New("hubkit_directory: region is required (the id of the region this hub serves)")
	}
	return nil
}

// personPath matches the vCard of one person; ids are [a-z0-9-].
var personPath = regexp.MustCompile(`^/directory/person/([a-z0-9-]{1,64})\.vcf$`)

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	p := r.URL.Path
	if p != "/directory" && !strings.HasPrefix(p, "/directory/") {
		return next.ServeHTTP(w, r)
	}
	sess := hubapp.SessionFrom(r)
	if sess == nil {
		return caddyhttp.Error(http.StatusUnauthorized, errors.New("hubkit_directory: not logged in"))
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		return caddyhttp.Error(http.StatusMethodNotAllowed, fmt.Errorf("hubkit_directory: method %s", r.Method))
	}
	switch p {
	case "/directory", "/directory/":
		h.serveSearch(w, r, sess, "directory")
		return nil
	case "/directory/print":
		h.serveSearch(w, r, sess, "directory_print")
		return nil
	case "/directory/export.vcf":
		return h.serveExport(w, r, sess)
	}
	if m := personPath.FindStringSubmatch(p); m != nil {
		return h.servePerson(w, r, sess, m[1])
	}
	return caddyhttp.Error(http.StatusNotFound, errors.New("hubkit_directory: no such page"))
}

// serveSearch renders the search page or the print view. A filter the form
// never offers gets status 400 and the page, with a message and the results
// of the free text alone.
func (h *Handler) serveSearch(w http.ResponseWriter, r *http.Request, sess *store.Session, page string) {
	status := http.StatusOK
	q, err := directory.ParseQuery(r.URL.Query())
	c := ui.DirectoryContent{}
	var qe *directory.QueryError
	if errors.As(err, &qe) {
		status, c.Error, c.ErrorArg = http.StatusBadRequest, "dir.bad_filter", qe.Param
		q = directory.Query{Text: q.Text}
	}
	res := h.dir.Search(q)
	c.Query, c.Total, c.Groups, c.Facets = q, len(res), directory.GroupByKind(res), h.dir.Facets(q.Scope)
	for _, e := range res {
		if directory.Reachable(e) {
			c.Exportable++
		}
	}
	c.ExportURL = withQuery("/directory/export.vcf", q)
	c.PrintURL = withQuery("/directory/print", q)
	c.BackURL = withQuery("/directory", q)
	c.Generated = h.now()
	h.ui.Render(w, r, status, page, ui.PageData{Site: h.site.Site, Session: sess, Content: c})
}

func withQuery(path string, q directory.Query) string {
	if enc := q.Encode(); enc != "" {
		return path + "?" + enc
	}
	return path
}
