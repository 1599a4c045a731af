// Package ui is the hub's server-rendered user interface: html/template
// pages in a common layout, the Danish/English catalogue, and the static
// assets (CSS, a little optional JavaScript) under /assets/.
//
// Everything is embedded in the binary. Pages carry no inline style or
// script, so the hub's Content-Security-Policy (default-src 'none';
// script-src 'self'; style-src 'self') holds, and every page works without
// JavaScript.
//
// Handlers call UI.Render with the name of a page and a PageData whose
// Content is that page's own type. Render picks the language, fills in the
// layout's fields and never shows a template error to the user. The pages:
//
//	page             Content            status, notes
//	home             HomeContent        200; needs PageData.Session
//	directory        DirectoryContent   200, or 400 for a bad filter
//	directory_print  DirectoryContent   200; print layout, no navigation
//	error            ErrorContent       the error's status
//	chooser          ChooserContent     200; login: build it with NewChooser
//	noaccess         NoAccessContent    403; login worked, no role in this hub
//	loginerror       LoginErrorContent  as fits (400, 502 ...)
//	signedout        SignedOutContent   200
//	drops_inbox      DropsListContent   200; the file drop: drops received
//	drops_sent       DropsListContent   200; drops sent, drafts included
//	drops_new        DropNewContent     200, or the status of a refused form (400, 413, 422 …)
//	drop             DropContent        200; one drop with its files
//	links            LinksContent       200, or 400/403 for a refused new link
//	link_created     LinkCreatedContent 200; shows a new upload link once
//	upload_public    UploadPublicContent the page of an upload link, for people without a login
//	upload_done      UploadDoneContent  200; the receipt of an upload through a link
package ui

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/hubkit/hubkit/internal/site"
	"github.com/hubkit/hubkit/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

// PageData is what every page is rendered with.
type PageData struct {
	// Set by the caller.
	Site     *site.Site     // required: the hub's site
	Session  *store.Session // the logged-in user; nil when logged out
	Title    string         // page title; "" takes the page's title from the catalogue
	Content  any            // the page's own data, of the type Pages names (value or pointer); nil = zero value
	LangPath string         // where the language switch leads (a relative URL); "" = this page

	// Set by Render.
	Lang      string                               // "da" or "en"
	OtherLang string                               // the language the switch leads to
	LangURL   string                               // the switch's link
	T         func(key string, args ...any) string // the catalogue in Lang
	CSRF      string                               // the session's CSRF token, for forms that change state
	Page      string                               // the page's name
	Status    int                                  // the response status
}

// page describes one page: the layout it is set in and the type of its Content.
type page struct {
	layout  string       // "layout" or "print"
	content reflect.Type // Content's type
	title   string       // catalogue key of its title
}

var pages = map[string]page{
	"home":            {"layout", reflect.TypeFor[HomeContent](), "title.home"},
	"directory":       {"layout", reflect.TypeFor[DirectoryContent](), "title.directory"},
	"directory_print": {"print", reflect.TypeFor[DirectoryContent](), "title.directory_print"},
	"error":           {"layout", reflect.TypeFor[ErrorContent](), ""},
	"chooser":         {"layout", reflect.TypeFor[ChooserContent](), "title.chooser"},
	"noaccess":        {"layout", reflect.TypeFor[NoAccessContent](), "title.noaccess"},
	"loginerror":      {"layout", reflect.TypeFor[LoginErrorContent](), "title.loginerror"},
	"signedout":       {"layout", reflect.TypeFor[SignedOutContent](), "title.signedout"},
	"drops_inbox":     {"layout", reflect.TypeFor[DropsListContent](), "title.drops_inbox"},
	"drops_sent":      {"layout", reflect.TypeFor[DropsListContent](), "title.drops_sent"},
	"drops_new":       {"layout", reflect.TypeFor[DropNewContent](), "title.drops_new"},
	"drop":            {"layout", reflect.TypeFor[DropContent](), "title.drop"},
	"links":           {"layout", reflect.TypeFor[LinksContent](), "title.links"},
	"link_created":    {"layout", reflect.TypeFor[LinkCreatedContent](), "title.link_created"},
	"upload_public":   {"layout", reflect.TypeFor[UploadPublicContent](), "title.upload_public"},
	"upload_done":     {"layout", reflect.TypeFor[UploadDoneContent](), "title.upload_done"},
}

// Pages returns the names of the pages there are, with the type each
// one's Content must have.
func Pages() map[string]reflect.Type {
	out := make(map[string]reflect.Type, len(pages))
	for name, p := range pages {
		out[name] = p.content
	}
	return out
}

// UI renders pages and serves assets. It is safe for concurrent use.
type UI struct {
	tmpl   map[string]map[string]*template.Template // lang → page → template
	assets map[string]asset
	logger *slog.Logger
	loc    *time.Location // times are shown in Danish time in both languages
}

// New parses the embedded templates and loads the assets. A nil logger
// logs to slog.Default().
func New(logger *slog.Logger) (*UI, error) {
	if logger == nil {
		logger = slog.Default()
	}
	u := &UI{tmpl: map[string]map[string]*template.Template{}, logger: logger}
	var err error
	if u.loc, err = time.LoadLocation("Europe/Copenhagen"); err != nil {
		return nil, fmt.Errorf("ui: %w", err)
	}
	if u.assets, err = loadAssets(); err != nil {
		return nil, err
	}
	for _, lang := range Langs {
		u.tmpl[lang] = map[string]*template.Template{}
		for name := range pages {
			t, err := template.New(name).Funcs(u.funcs(lang)).ParseFS(templateFS,
				"templates/layout.html", "templates/print.html", "templates/partials.html", "templates/"+name+".html")
			if err != nil {
				return nil, fmt.Errorf("ui: page %s: %w", name, err)
			}
			u.tmpl[lang][name] = t
		}
	}
	return u, nil
}

// Render writes page with the given status. It sets the language (from
// ?lang=, which it remembers in a cookie, or from that cookie; Danish by
// default), Content-Type, and Cache-Control: no-store unless already set.
// A failure is logged and answered with a plain 500 that reveals nothing.
func (u *UI) Render(w http.ResponseWriter, r *http.Request, status int, name string, data PageData) {
	if status == 0 {
		status = http.StatusOK
	}
	lang := negotiate(w, r)
	p, ok := pages[name]
	if !ok || data.Site == nil {
		u.fail(w, fmt.Errorf("ui: no page %q, or no site in its data", name))
		return
	}
	content, err := contentOf(p, data.Content)
	if err != nil {
		u.fail(w, fmt.Errorf("ui: page %s: %w", name, err))
		return
	}
	data.Content = prepare(content)
	data.Lang, data.OtherLang = lang, other(lang)
	data.LangURL = langURL(r, data.LangPath, data.OtherLang)
	data.T = func(key string, args ...any) string { return T(lang, key, args...) }
	data.Page, data.Status = name, status
	if data.Session != nil {
		data.CSRF = data.Session.CSRF
	}
	if data.Title == "" {
		data.Title = T(lang, p.title)
		if ec, ok := data.Content.(ErrorContent); ok {
			data.Title = T(lang, errorKey(ec.Status)+".title")
		}
	}

	var buf bytes.Buffer
	if err := u.tmpl[lang][name].ExecuteTemplate(&buf, p.layout, data); err != nil {
		u.fail(w, fmt.Errorf("ui: page %s: %w", name, err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

// contentOf checks Content against the page's type and dereferences a
// pointer, so templates see a value; nil becomes the zero value.
func contentOf(p page, c any) (any, error) {
	if c == nil {
		return reflect.Zero(p.content).Interface(), nil
	}
	v := reflect.ValueOf(c)
	if v.Kind() == reflect.Pointer && v.Type().Elem() == p.content {
		if v.IsNil() {
			return reflect.Zero(p.content).Interface(), nil
		}
		v = v.Elem()
	}
	if v.Type() != p.content {
		return nil, fmt.Errorf("Content is %T, the page wants ui.%s", c, p.content.Name())
	}
	return v.Interface(), nil
}

// fail answers a request whose page could not be rendered.
func (u *UI) fail(w http.ResponseWriter, err error) {
	u.logger.Error("rendering a page failed", "error", err)
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusInternalServerError)
	fmt.Fprintln(w, "Der opstod en fejl. Prøv igen senere. / Something went wrong. Please try again later.")
}

// langURL is the language switch's link: the current page (or LangPath)
// with lang set. Under /auth/ the query is dropped, because callback
// parameters (code, state) are single-use and must not be copied into links.
func langURL(r *http.Request, langPath, lang string) string {
	if p := SafeReturn(langPath); p != "" {
		return addLang(p, lang)
	}
	path := r.URL.EscapedPath()
	if SafeReturn(path) == "" {
		path = "/"
	}
	q := r.URL.Query()
	if strings.HasPrefix(path, "/auth/") {
		q = nil
	}
	q.Del("lang")
	if len(q) == 0 {
		return addLang(path, lang)
	}
	return addLang(path+"?"+q.Encode(), lang)
}

func addLang(u, lang string) string {
	if strings.Contains(u, "?") {
		return u + "&lang=" + lang
	}
	return u + "?lang=" + lang
}
