// Package uitest helps the tests of the hub's pages and handlers: a real
// site rendered from the repository's region files, a hub site with a real
// store and audit log in a temporary directory, requests carrying the Caddy
// context a handler expects, and a checker of rendered HTML against the
// hub's CSP and accessibility rules. Only tests import it.
package uitest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/hubkit/hubkit/internal/audit"
	"github.com/hubkit/hubkit/internal/bundle"
	"github.com/hubkit/hubkit/internal/caddymod/hubapp"
	"github.com/hubkit/hubkit/internal/config"
	"github.com/hubkit/hubkit/internal/region"
	"github.com/hubkit/hubkit/internal/site"
	"github.com/hubkit/hubkit/internal/store"
)

var loadRegions = sync.OnceValues(func() (*region.Set, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	set, err := region.LoadDir(filepath.Join(root, "regions"), region.BuiltinDefaults)
	if err == nil && len(set.Errors) > 0 {
		err = set.Errors
	}
	return set, err
})

// repoRoot is the first directory upwards from the test's package with a go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}

// Site renders region id's bundle from the repository's region files (a
// development bundle when dev is set) and loads its site.json, as a hub does.
func Site(t testing.TB, id string, dev bool) *site.Site {
	t.Helper()
	set, err := loadRegions()
	if err != nil {
		t.Fatalf("uitest: loading the regions: %v", err)
	}
	cfg, err := config.Load("", false)
	if err != nil {
		t.Fatal(err)
	}
	b, err := bundle.Render(set, id, cfg, bundle.Options{Dev: dev, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), bundle.SiteFile)
	if err := os.WriteFile(path, b.Files[bundle.SiteFile], 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := site.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// HubSite wraps st with a real store and audit log in a temporary
// directory, closed when the test ends.
func HubSite(t testing.TB, st *site.Site) *hubapp.Site {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	log, err := audit.Open(filepath.Join(dir, "audit.log"))
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		log.Close()
		db.Close()
	})
	return &hubapp.Site{Site: st, Store: db, Audit: log, DataDir: dir, Logger: Logger()}
}

// Logger discards everything.
func Logger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// Session is a logged-in user of kommune code with the given roles.
func Session(code int, roles ...string) *store.Session {
	now := time.Now()
	return &store.Session{
		ID: "test-session", UserKey: "851:demo-user", Issuer: "https://idp.example", Subject: "demo-user",
		Kommune: code, Roles: roles, Name: "Demo Bruger", Email: "demo@kommune.example", NSIS: "substantial",
		CSRF: "csrf-token-for-tests", CreatedAt: now, LastSeen: now, AbsoluteExpiry: now.Add(time.Hour),
	}
}

// Request is an httptest request with what Caddy puts in a request's
// context: the variables table (holding sess, if not nil), a replacer, and
// the original request. Options may change the replacer, e.g. to set an
// error status as Caddy's error routes do.
func Request(method, target string, sess *store.Session, opts ...func(*caddy.Replacer)) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	repl := caddy.NewReplacer()
	for _, o := range opts {
		o(repl)
	}
	ctx := context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl)
	ctx = context.WithValue(ctx, caddyhttp.VarsCtxKey, map[string]any{})
	ctx = context.WithValue(ctx, caddyhttp.OriginalRequestCtxKey, *r)
	r = r.WithContext(ctx)
	if sess != nil {
		hubapp.SetSession(r, sess)
	}
	return r
}

// WithError sets the placeholders Caddy sets in error routes.
func WithError(status int, id string) func(*caddy.Replacer) {
	return func(repl *caddy.Replacer) {
		repl.Set("http.error.status_code", status)
		repl.Set("http.error.id", id)
		repl.Set("http.error.message", "internal detail that must never be shown")
	}
}
