package filedrop

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"filippo.io/age"

	"github.com/hubkit/hubkit/internal/audit"
	"github.com/hubkit/hubkit/internal/store"
)

// BlobDir is where blobs live, relative to the data directory.
const BlobDir = "blobs"

// lockName is the engine's lock file inside BlobDir.
const lockName = ".lock"

// Drops is the file-drop engine of one hub. Its methods are safe for
// concurrent use. Only one Drops may use a data directory at a time (Open
// takes a lock), because Recover deletes files it does not know.
type Drops struct {
	db     *sql.DB
	log    *audit.Log
	blobs  string
	id     *age.X25519Identity
	to     *age.X25519Recipient
	pol    policy
	opts   Options
	logger *slog.Logger
	lock   *os.File

	links   *ipLimiter
	uploads keyedLocks

	kick chan struct{} // wakes RunCourier

	quarantineAt string // name of this start's quarantine directory, set by Recover

	inflight atomic.Int64 // uploads whose bytes are being received now (Stats)
	received atomic.Int64 // bytes of uploads received since Open, stored or not

	bg       sync.WaitGroup // background notifications
	bgCtx    context.Context
	bgCancel context.CancelFunc

	// crashAt, when set (by tests only), is called at named points of a
	// write so a test can kill the process exactly there.
	crashAt func(point string)
}

// Open starts the engine on the hub's store, audit log and data directory,
// with the identity from LoadOrCreateIdentity. It creates its tables, takes
// the data directory's lock and runs Recover, so whatever an earlier
// process left half-done is cleaned up before the first request.
func Open(ctx context.Context, st *store.Store, log *audit.Log, dataDir string, id *age.X25519Identity, opts Options) (*Drops, error) {
	switch {
	case st == nil:
		return nil, errors.New("filedrop: no store")
	case log == nil:
		return nil, errors.New("filedrop: no audit log")
	case id == nil:
		return nil, errors.New("filedrop: no encryption identity (LoadOrCreateIdentity)")
	case dataDir == "":
		return nil, errors.New("filedrop: no data directory")
	}
	pol, err := resolvePolicy(opts)
	if err != nil {
		return nil, err
	}
	d := &Drops{
		db:     st.DB(),
		log:    log,
		blobs:  filepath.Join(dataDir, BlobDir),
		id:     id,
		to:     id.Recipient(),
		pol:    pol,
		opts:   opts,
		logger: opts.Logger,
		links:  newIPLimiter(pol.linkPerMinute),
		kick:   make(chan struct{}, 1),
	}
	if d.logger == nil {
		d.logger = slog.Default()
	}
	d.bgCtx, d.bgCancel = context.WithCancel(context.Background())
	if err := os.MkdirAll(d.blobs, 0o700); err != nil {
		return nil, fmt.Errorf("filedrop: %w", err)
	}
	lockPath := filepath.Join(d.blobs, lockName)
	lock, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("filedrop: %w", err)
	}
	if err := lockFile(lock); err != nil {
		lock.Close()
		return nil, fmt.Errorf("filedrop: %s is locked by another hubctl process (a running hub, or hubctl drops purge); stop it first: %w", lockPath, err)
	}
	d.lock = lock
	if err := st.Migrate(ctx, "filedrop", migrations); err != nil {
		d.Close()
		return nil, err
	}
	if _, err := d.Recover(ctx); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// Close waits for background notifications (cancelling those still
// waiting on a relay) and releases the data directory. It does not close
// the store or the audit log, which belong to the caller.
func (d *Drops) Close() error {
	d.bgCancel()
	d.bg.Wait()
	if d.lock == nil {
		return nil
	}
	err := d.lock.Close()
	d.lock = nil
	return err
}

// Recipient returns the hub's age recipient (public key). Blobs are
// encrypted to it; an operator can decrypt a blob's segments with the key
// file and the age tool in an emergency.
func (d *Drops) Recipient() *age.X25519Recipient { return d.to }

func (d *Drops) now() time.Time {
	if d.opts.Now != nil {
		return d.opts.Now().UTC()
	}
	return time.Now().UTC()
}

func (d *Drops) crash(point string) {
	if d.crashAt != nil {
		d.crashAt(point)
	}
}

// withTx runs fn in a write transaction and commits it. The store's
// connections begin transactions IMMEDIATE, so fn's reads see what its
// writes will be checked against.
func (d *Drops) withTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("filedrop: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("filedrop: commit: %w", err)
	}
	return nil
}

// checkActor refuses a request without a logged-in user.
func checkActor(a Actor) error {
	switch {
	case a.UserKey == "":
		return invalid("actor", "no user key: only logged-in users use the file drop")
	case strings.HasPrefix(a.UserKey, "link:"), strings.HasPrefix(a.UserKey, "system:"), strings.HasPrefix(a.UserKey, peerActorPrefix):
		// The engine's own actor names must never match a login.
		return invalid("actor", "user key %q uses a reserved prefix", a.UserKey)
	}
	return nil
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
