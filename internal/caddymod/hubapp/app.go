// Package hubapp is the `hubkit` Caddy app: it holds what a hub's handlers
// share — the site (region and national directory), the SQLite store, the
// audit log and the identity providers — for each region the Caddy
// instance serves. Handlers name their region and look it up in Provision.
package hubapp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap/exp/zapslog"

	"github.com/hubkit/hubkit/internal/audit"
	"github.com/hubkit/hubkit/internal/login"
	"github.com/hubkit/hubkit/internal/site"
	"github.com/hubkit/hubkit/internal/store"
)

func init() {
	caddy.RegisterModule(App{})
}

// Interface guards.
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.Validator    = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
)

// App is the hubkit app module.
type App struct {
	// Sites by region id.
	Sites map[string]*SiteConfig `json:"sites,omitempty"`

	sites  map[string]*Site
	logger *slog.Logger
	stop   context.CancelFunc
	done   chan struct{} // closed when the housekeeping loop has ended
}

// SiteConfig says where a region's site file and data live.
type SiteConfig struct {
	// SiteFile is the site.json of the region's bundle.
	SiteFile string `json:"site_file"`
	// DataDir holds the store, audit log and keys; created 0700.
	DataDir string `json:"data_dir,omitempty"`
}

// Site is a region's shared runtime state.
type Site struct {
	*site.Site
	Store   *store.Store
	Audit   *audit.Log
	Login   *login.Service
	DataDir string
	Logger  *slog.Logger

	mu         sync.Mutex
	readyCheck []func(context.Context) error
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "hubkit", New: func() caddy.Module { return new(App) }}
}

// Provision opens every site's store and audit log.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = slog.New(zapslog.NewHandler(ctx.Logger().Core()))
	a.sites = map[string]*Site{}
	for id, sc := range a.Sites {
		s, err := openSite(id, sc, a.logger.With("region", id))
		if err != nil {
			a.Cleanup()
			return fmt.Errorf("hubkit: region %s: %w", id, err)
		}
		a.sites[id] = s
		client := &http.Client{Timeout: 15 * time.Second}
		if s.Dev != nil {
			if client, err = devClient(ctx); err != nil {
				a.Cleanup()
				return fmt.Errorf("hubkit: region %s: %w", id, err)
			}
		}
		s.Login = login.New(s.Site, s.Store, s.Audit, login.Options{HTTPClient: client, Logger: s.Logger})
		s.AddReadyCheck(s.Login.Ready)
	}
	return nil
}

func openSite(id string, sc *SiteConfig, logger *slog.Logger) (*Site, error) {
	st, err := site.Load(sc.SiteFile)
	if err != nil {
		return nil, err
	}
	if st.Region.ID != id {
		return nil, fmt.Errorf("%s holds region %q, not %q", sc.SiteFile, st.Region.ID, id)
	}
	dir := sc.DataDir
	if dir == "" {
		dir = filepath.Join(filepath.Dir(sc.SiteFile), "data")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	v, _, err := dataPool.LoadOrNew(abs, func() (caddy.Destructor, error) {
		db, err := store.Open(filepath.Join(abs, "hub.db"))
		if err != nil {
			return nil, err
		}
		log, err := audit.Open(filepath.Join(abs, audit.FileName))
		if err != nil {
			db.Close()
			return nil, err
		}
		return &dataFiles{store: db, audit: log}, nil
	})
	if err != nil {
		return nil, err
	}
	d := v.(*dataFiles)
	return &Site{Site: st, Store: d.store, Audit: d.audit, DataDir: abs, Logger: logger}, nil
}

// dataPool shares a data directory's open store and audit log between the
// old and the new configuration during a Caddy config reload: the new one
// is provisioned before the old one is cleaned up, and the audit log may
// only be open once.
var dataPool = caddy.NewUsagePool()

type dataFiles struct {
	store *store.Store
	audit *audit.Log
}

func (d *dataFiles) Destruct() error {
	return errors.Join(d.audit.Close(), d.store.Close())
}

// Validate checks the configuration.
func (a *App) Validate() error {
	for id, sc := range a.Sites {
		if sc == nil || sc.SiteFile == "" {
			return fmt.Errorf("hubkit: region %s: site_file is required", id)
		}
	}
	return nil
}

// Start runs the housekeeping loop: expired sessions and login states are
// purged every minute.
func (a *App) Start() error {
	ctx, cancel := context.WithCancel(context.Background())
	a.stop = cancel
	a.done = make(chan struct{})
	go func() {
		defer close(a.done)
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			for _, s := range a.sites {
				s.housekeep(ctx)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return nil
}

// Stop ends the housekeeping loop.
func (a *App) Stop() error {
	if a.stop != nil {
		a.stop()
		<-a.done
	}
	return nil
}

// Cleanup closes stores and audit logs.
func (a *App) Cleanup() error {
	var errs []error
	for _, s := range a.sites {
		if _, err := dataPool.Delete(s.DataDir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Site returns the runtime state of a region.
func (a *App) Site(id string) (*Site, error) {
	s, ok := a.sites[id]
	if !ok {
		ids := make([]string, 0, len(a.sites))
		for k := range a.sites {
			ids = append(ids, k)
		}
		sort.Strings(ids)
		return nil, fmt.Errorf("hubkit: no region %q in the hubkit app (have %v)", id, ids)
	}
	return s, nil
}

// Sites returns all regions' runtime state, ordered by id.
func (a *App) AllSites() []*Site {
	out := make([]*Site, 0, len(a.sites))
	for _, s := range a.sites {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Region.ID < out[j].Region.ID })
	return out
}

// Lookup finds a region's state from a handler's Provision.
func Lookup(ctx caddy.Context, regionID string) (*Site, error) {
	if regionID == "" {
		return nil, fmt.Errorf("region is required")
	}
	v, err := ctx.App("hubkit")
	if err != nil {
		return nil, err
	}
	return v.(*App).Site(regionID)
}

// AddReadyCheck registers a check /readyz runs (the identity providers'
// discovery, for one).
func (s *Site) AddReadyCheck(f func(context.Context) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readyCheck = append(s.readyCheck, f)
}

// Ready runs the ready checks: the store answers, and every registered check passes.
func (s *Site) Ready(ctx context.Context) error {
	if err := s.Store.DB().PingContext(ctx); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	s.mu.Lock()
	checks := append([]func(context.Context) error(nil), s.readyCheck...)
	s.mu.Unlock()
	for _, c := range checks {
		if err := c(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (s *Site) housekeep(ctx context.Context) {
	now := time.Now()
	if _, err := s.Store.PurgeLoginStates(ctx, now); err != nil && ctx.Err() == nil {
		s.Logger.Warn("purging login states failed", "error", err)
	}
	if _, err := s.Store.PurgeExpired(ctx, now, s.Session.IdleTimeout.D()); err != nil && ctx.Err() == nil {
		s.Logger.Warn("purging sessions failed", "error", err)
	}
}

// sessionVar is the request variable holding the logged-in session.
const sessionVar = "hubkit.session"

// SetSession records the authenticated session on the request.
func SetSession(r *http.Request, s *store.Session) { caddyhttp.SetVar(r.Context(), sessionVar, s) }

// SessionFrom returns the session the authenticator found, or nil.
func SessionFrom(r *http.Request) *store.Session {
	s, _ := caddyhttp.GetVar(r.Context(), sessionVar).(*store.Session)
	return s
}
