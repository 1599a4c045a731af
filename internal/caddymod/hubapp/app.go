// Package hubapp is the `hubkit` Caddy app: it holds what a hub's handlers
// share — the site (region and national directory), the SQLite store, the
// audit log, the identity providers and the file-drop engine — for each
// region the Caddy instance serves. Handlers name their region and look it
// up in Provision.
package hubapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap/exp/zapslog"

	"github.com/hubkit/hubkit/internal/audit"
	"github.com/hubkit/hubkit/internal/clamav"
	"github.com/hubkit/hubkit/internal/datadir"
	"github.com/hubkit/hubkit/internal/federation"
	"github.com/hubkit/hubkit/internal/filedrop"
	"github.com/hubkit/hubkit/internal/login"
	"github.com/hubkit/hubkit/internal/notify"
	"github.com/hubkit/hubkit/internal/region"
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

	sites   map[string]*Site
	logger  *slog.Logger
	metrics *metrics
	stop    context.CancelFunc
	wg      *sync.WaitGroup // the housekeeping loop and the file-drop sweepers, from Start
}

// SiteConfig says where a region's site file and data live, and which
// optional services its file drop uses.
type SiteConfig struct {
	// SiteFile is the site.json of the region's bundle.
	SiteFile string `json:"site_file"`
	// DataDir holds the store, audit log, keys and file-drop blobs; created 0700.
	DataDir string `json:"data_dir,omitempty"`
	// Clamd, when set, is the clamd that scans every uploaded file before
	// it is stored: "unix:/run/clamav/clamd.ctl", "tcp:127.0.0.1:3310", or
	// a bare socket path or host:port. Off by default. Scanning fails
	// closed: while clamd is down, uploads are refused. clamd's
	// StreamMaxLength must be at least the region's max_file_size.
	Clamd string `json:"clamd,omitempty"`
	// SMTP, when set, mails recipients that a drop waits for them (no case
	// content, see package notify). Off by default.
	SMTP *SMTPConfig `json:"smtp,omitempty"`
	// MinFreeBytes is the free space below which new uploads are refused
	// early (507); 1 GiB when 0, none when negative (config file_drop.min_free).
	MinFreeBytes int64 `json:"min_free_bytes,omitempty"`
}

// SMTPConfig is the municipality's mail relay for drop notifications.
type SMTPConfig struct {
	// Addr is the relay's host:port, e.g. "smtp.aalborg.dk:25".
	Addr string `json:"addr"`
	// From is the sender address, e.g. "sikkerfil@aalborg.dk".
	From string `json:"from"`
	// TLS is "starttls" (default), "tls" (port 465) or "none" (a relay on
	// the same host only).
	TLS string `json:"tls,omitempty"`
}

// Site is a region's shared runtime state.
type Site struct {
	*site.Site
	Store *store.Store
	Audit *audit.Log
	Login *login.Service
	Drops *filedrop.Drops // the file-drop engine, shared across config reloads like Store; nil without a file_drop policy
	// Federation delivers this region's drops for other regions' users to
	// their hubs, and receives theirs; nil without a file drop.
	Federation *federation.Node
	DataDir    string
	Logger     *slog.Logger

	health     *health // shared with the data directory across reloads
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
	a.metrics = newMetrics(a)
	if reg := ctx.GetMetricsRegistry(); reg != nil {
		if err := reg.Register(a.metrics); err != nil {
			return fmt.Errorf("hubkit: metrics: %w", err)
		}
	}
	for id, sc := range a.Sites {
		s, err := openSite(ctx, id, sc, a.logger.With("region", id))
		if err != nil {
			a.Cleanup()
			err = fmt.Errorf("hubkit: region %s: %w", id, err)
			lastOpenError.Store(&err)
			return err
		}
		a.sites[id] = s
		s.Audit.SetObserver(a.metrics.observe(id))
		client := &http.Client{Timeout: 15 * time.Second}
		if s.Dev != nil {
			if client, err = devClient(ctx); err != nil {
				a.Cleanup()
				return fmt.Errorf("hubkit: region %s: %w", id, err)
			}
		}
		s.Login = login.New(s.Site, s.Store, s.Audit, login.Options{HTTPClient: client, Logger: s.Logger, OnLogin: s.bindRecipient})
		s.AddReadyCheck(s.Login.Ready)
	}
	return nil
}

// bindRecipient runs after every successful login: drops that named the
// user's e-mail address, and wait for whoever owns it, are delivered to
// this identity (filedrop.ResolveRecipient, which audits it). A failure
// must not fail the login, so it is only logged; the next login retries.
func (s *Site) bindRecipient(ctx context.Context, sess *store.Session) {
	if s.Drops == nil || sess.Email == "" {
		return
	}
	if _, err := s.Drops.ResolveRecipient(ctx, sess.UserKey, sess.Email); err != nil {
		s.Logger.Error("binding pending file-drop recipients failed; retried at the next login", "error", err)
	}
}

func openSite(ctx caddy.Context, id string, sc *SiteConfig, logger *slog.Logger) (*Site, error) {
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
	key := dropsKey(st, sc)
	v, _, err := dataPool.LoadOrNew(abs, func() (caddy.Destructor, error) {
		peers, err := peerClient(st)
		if err != nil {
			return nil, err
		}
		return openDataFiles(abs, st, sc, key, peers, logger)
	})
	if err != nil {
		return nil, err
	}
	d := v.(*dataFiles)
	if d.dropsKey != key {
		// The engine holds the data directory's lock, so a reload cannot
		// open a second one with the new settings.
		logger.Warn("file-drop policy, clamd, SMTP or peer settings changed; they take effect when the hub is restarted")
	}
	return &Site{Site: st, Store: d.store, Audit: d.audit, Drops: d.drops, Federation: d.node, DataDir: abs, Logger: logger, health: d.health}, nil
}

// lastOpenError is the last region that failed to open. Caddy flattens the
// errors of provisioning into text, so hubctl serve asks here for the
// refusal to show the operator (OpenError).
var lastOpenError atomic.Pointer[error]

// OpenError returns the error of the last region whose data could not be
// opened, with its type (e.g. *datadir.RefusalError), or nil.
func OpenError() error {
	if p := lastOpenError.Load(); p != nil {
		return *p
	}
	return nil
}

// dataPool shares a data directory's open store, audit log and file-drop
// engine between the old and the new configuration during a Caddy config
// reload: the new one is provisioned before the old one is cleaned up, and
// the audit log and the engine may only be open once.
var dataPool = caddy.NewUsagePool()

type dataFiles struct {
	store    *store.Store
	audit    *audit.Log
	drops    *filedrop.Drops
	node     *federation.Node
	dropsKey string // the settings drops was opened with
	logger   *slog.Logger
	health   *health
}

// openDataFiles opens a data directory: the store, the audit log, and the
// file-drop engine with the hub's encryption identity (created 0600 at the
// first start, never part of a bundle).
func openDataFiles(dir string, st *site.Site, sc *SiteConfig, key string, peers *http.Client, logger *slog.Logger) (*dataFiles, error) {
	inv, err := datadir.Inspect(dir)
	if err != nil {
		return nil, err
	}
	if err := inv.Preflight(); err != nil {
		return nil, err
	}
	db, err := store.Open(filepath.Join(dir, filedrop.StoreFile))
	if err != nil {
		return nil, err
	}
	log, check, err := openAudit(dir, logger)
	if err != nil {
		db.Close()
		return nil, err
	}
	d := &dataFiles{store: db, audit: log, dropsKey: key, logger: logger, health: &health{check: check}}
	if noFileDrop(st.Region.FileDrop) {
		// Only hand-made site files lack the policy; hubctl render always
		// writes one.
		logger.Warn("the site has no file_drop policy; the file drop is off (render the bundle with hubctl render)")
		return d, nil
	}
	keys, err := datadir.OpenKeys(context.Background(), inv, db, log)
	if err != nil {
		return nil, errors.Join(err, log.Close(), db.Close())
	}
	if d.drops, d.node, err = openDrops(dir, st, sc, db, log, keys, peers, d.health, logger); err != nil {
		return nil, errors.Join(err, log.Close(), db.Close())
	}
	return d, nil
}

// openAudit opens the audit log and checks its chain (audit.CheckAtStart):
// a hub refuses to start on a broken chain. A torn last line that Open
// repaired is recorded in the chain.
func openAudit(dir string, logger *slog.Logger) (*audit.Log, audit.Check, error) {
	log, err := audit.Open(filepath.Join(dir, audit.FileName))
	if err != nil {
		return nil, audit.Check{}, err
	}
	ctx := context.Background()
	if log.Repaired != "" {
		logger.Warn("audit log repaired after an unclean stop", "repair", log.Repaired)
		if _, err := log.Append(ctx, audit.Event{Type: audit.EventRepaired, Outcome: audit.Success, Reason: log.Repaired}); err != nil {
			log.Close()
			return nil, audit.Check{}, err
		}
	}
	c, err := log.CheckAtStart(ctx)
	if err != nil {
		log.Close()
		return nil, c, err
	}
	if len(c.Breaks) > 0 {
		logger.Warn("the audit chain has acknowledged breaks; the hub starts as the operator acknowledged", "breaks", len(c.Breaks), "first_line", c.Breaks[0].Line)
	}
	logger.Info("audit chain verified", "records", c.Records, "from_checkpoint", c.From)
	return log, c, nil
}

// noFileDrop reports whether a site leaves the file-drop policy out
// entirely (a partial policy is an error the engine reports).
func noFileDrop(p region.FileDropPolicy) bool {
	return p.MaxFileBytes == 0 && p.MaxFilesPerDrop == nil && p.DefaultRetentionDays == nil && p.MaxRetentionDays == nil
}

func (d *dataFiles) Destruct() error {
	var err error
	if d.drops != nil {
		err = d.drops.Close()
	}
	err = errors.Join(err, d.audit.Close(), d.store.Close())
	if err != nil {
		d.logger.Error("closing the data directory failed; the next start recovers", "error", err)
	} else {
		d.logger.Info("data directory closed cleanly: store, audit log and file drop")
	}
	return err
}

// Validate checks the configuration.
func (a *App) Validate() error {
	for id, sc := range a.Sites {
		if sc == nil || sc.SiteFile == "" {
			return fmt.Errorf("hubkit: region %s: site_file is required", id)
		}
		if sc.Clamd != "" {
			if _, err := clamdClient(sc.Clamd); err != nil {
				return fmt.Errorf("hubkit: region %s: %w", id, err)
			}
		}
		if sc.SMTP != nil && (sc.SMTP.Addr == "" || sc.SMTP.From == "") {
			return fmt.Errorf("hubkit: region %s: smtp needs addr (host:port of the relay) and from (the sender address)", id)
		}
	}
	return nil
}

// Start runs the housekeeping loop (expired sessions and login states are
// purged every minute) and each site's file-drop sweeper (expired and
// abandoned drops and links deleted every minute).
func (a *App) Start() error {
	ctx, cancel := context.WithCancel(context.Background())
	a.stop, a.wg = cancel, &sync.WaitGroup{}
	for _, s := range a.sites {
		a.wg.Go(func() { s.checkChain(ctx, time.Minute, 24*time.Hour) })
		if s.Drops != nil {
			a.wg.Go(func() { s.Drops.RunSweeper(ctx, time.Minute) })
			a.wg.Go(func() { s.Drops.RunCourier(ctx, 30*time.Second) })
		}
	}
	a.wg.Go(func() {
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
	})
	return nil
}

// Stop ends the housekeeping loop and the sweepers, waiting for a sweep
// under way to finish.
func (a *App) Stop() error {
	if a.stop != nil {
		a.stop()
		a.wg.Wait()
	}
	return nil
}

// Cleanup releases the data directories; the last configuration using one
// closes its file-drop engine, audit log and store.
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

// checkChain checks the whole audit chain after first, then every every:
// the start checked only from the last checkpoint. A break found while
// the hub runs is an error in the log and in the metrics
// (hubkit_audit_chain_ok 0); the next start refuses.
func (s *Site) checkChain(ctx context.Context, first, every time.Duration) {
	t := time.NewTimer(first)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c, err := s.Audit.CheckAll()
		switch {
		case err != nil:
			s.Logger.Error("checking the audit chain failed", "error", err)
		case !c.OK():
			s.health.setChain(c)
			s.Logger.Error("the audit chain is broken; the hub will refuse its next start until the breaks are investigated and acknowledged (hubctl audit acknowledge)",
				"breaks", len(c.Unacknowledged), "first_line", c.Unacknowledged[0].Line, "first", c.Unacknowledged[0].Msg)
		default:
			s.health.setChain(c)
			s.Logger.Info("audit chain verified in full", "records", c.Records)
		}
		t.Reset(every)
	}
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

// openDrops starts the file-drop engine of a data directory with the
// region's policy, the site's optional scanner and mail relay, and the
// federation node that carries drops to and from the other regions' hubs.
func openDrops(dir string, st *site.Site, sc *SiteConfig, db *store.Store, log *audit.Log, keys datadir.Keys, peers *http.Client, h *health, logger *slog.Logger) (*filedrop.Drops, *federation.Node, error) {
	var err error
	id := keys.Identity
	node := &federation.Node{Region: st.Region.ID, Key: keys.Signing, Peers: federation.Peers(st), HTTP: peers, Logger: logger}
	opts := filedrop.Options{Policy: st.Region.FileDrop, Logger: logger,
		Region: st.Region.ID, Route: federation.Router(st), Courier: node, MinFreeBytes: sc.MinFreeBytes}
	if sc.Clamd != "" {
		if opts.Scanner, err = clamdClient(sc.Clamd); err != nil {
			return nil, nil, err
		}
		h.clamd = opts.Scanner.Ping
	}
	ctx := context.Background()
	if sc.SMTP != nil {
		n, err := notify.New(ctx, db, notify.Config{Addr: sc.SMTP.Addr, From: sc.SMTP.From, TLS: sc.SMTP.TLS})
		if err != nil {
			return nil, nil, fmt.Errorf("smtp: %w", err)
		}
		hubURL := selfURL(st) + "/drops"
		h.smtpUsed = true
		opts.Notify = func(ctx context.Context, email string) error {
			_, err := n.Notify(ctx, email, hubURL)
			h.smtpResult(err)
			return err
		}
	}
	d, err := filedrop.Open(ctx, db, log, dir, id, opts)
	if err != nil {
		return nil, nil, err
	}
	node.Attach(d)
	return d, node, nil
}

// selfURL is where the hub's users reach it (with the port, for hubs
// that are not on 443).
func selfURL(st *site.Site) string {
	for _, r := range st.Regions {
		if r.ID == st.Region.ID && r.URL != "" {
			return r.URL
		}
	}
	return "https://" + st.Region.Domain
}

// clamdClient parses SiteConfig.Clamd: "unix:PATH", "tcp:HOST:PORT", an
// absolute socket path, or HOST:PORT.
func clamdClient(addr string) (*clamav.Client, error) {
	network, address, ok := strings.Cut(addr, ":")
	switch {
	case ok && (network == "unix" || network == "tcp"):
	case strings.HasPrefix(addr, "/"):
		network, address = "unix", addr
	default:
		network, address = "tcp", addr
	}
	if network == "tcp" {
		if _, _, err := net.SplitHostPort(address); err != nil {
			return nil, fmt.Errorf("clamd %q: want unix:/path/to/clamd.ctl or tcp:host:port", addr)
		}
	}
	if address == "" {
		return nil, fmt.Errorf("clamd %q: no address", addr)
	}
	return &clamav.Client{Network: network, Address: address}, nil
}

// dropsKey identifies the settings an engine is opened with, so a reload
// that changes them can say that a restart is needed.
func dropsKey(st *site.Site, sc *SiteConfig) string {
	b, _ := json.Marshal(struct {
		Policy  any
		Clamd   string
		SMTP    *SMTPConfig
		Peers   map[string]string
		MinFree int64
	}{st.Region.FileDrop, sc.Clamd, sc.SMTP, federation.Peers(st), sc.MinFreeBytes})
	return string(b)
}
