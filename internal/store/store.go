// Package store is the hub's SQLite database: server-side sessions, OIDC
// login state, and (through DB and Migrate) the tables of other packages.
// It is one file so a hub's state is easy to back up, and several hub
// processes on the same host may open it at once: they then share sessions
// and login state, so a login that starts on one process can finish on another.
//
// The driver is modernc.org/sqlite, pure Go, so hubctl builds with CGO off.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite" // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrNotFound means there is no such session or login state (or it was
// already used, deleted or purged).
var ErrNotFound = errors.New("store: not found")

// busyTimeout is how long a statement waits for another connection or
// process holding the write lock before it fails with "database is locked".
const busyTimeout = 5 * time.Second

// pragmas are set on every connection. Why each:
//   - synchronous=FULL: every commit is fsynced. NORMAL is safe from corruption
//     in WAL mode but can lose the last commits on power loss, and a lost
//     commit here may be a logout or a revocation (a dead session coming back)
//     or a consumed login state (a replayable state); that is not acceptable.
//   - busy_timeout: writers from other connections and processes queue
//     instead of failing at once.
//   - foreign_keys=ON: SQLite leaves it off by default; other packages' tables
//     rely on it.
//   - secure_delete=ON: deleted rows (sessions, case metadata) are
//     overwritten instead of lingering in free pages of the file.
var pragmas = []string{
	fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()),
	"synchronous(FULL)",
	"foreign_keys(ON)",
	"secure_delete(ON)",
}

// Store is an open hub database. It is safe for concurrent use.
type Store struct {
	db   *sql.DB
	path string
}

// Open opens (creating if needed) the database at path, with mode 0600 and
// its directory 0700, and brings the store's own tables up to date.
func Open(path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("store: no database path given")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if strings.ContainsAny(abs, "?#") {
		// The driver reads everything after '?' as connection parameters.
		return nil, fmt.Errorf("store: database path %q contains '?' or '#'; choose a path without them", path)
	}
	if err := createPrivate(abs); err != nil {
		return nil, err
	}
	q := url.Values{"_pragma": pragmas, "_txlock": {"immediate"}}
	// _txlock=immediate: a transaction takes the write lock at BEGIN, so two
	// processes that both read and then write (Migrate) queue on busy_timeout
	// instead of one of them failing with SQLITE_BUSY on its first write.
	db, err := sql.Open("sqlite", abs+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s := &Store{db: db, path: abs}
	ctx := context.Background()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if err := s.useWAL(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.Migrate(ctx, "store", migrations); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// useWAL puts the database in WAL mode, in which readers do not block the
// writer, so several hub processes can share the file. The mode is stored in
// the file, so this is done once here rather than on every connection; and
// SQLite does not call the busy handler while it switches modes, so when
// several processes open a new database at once the losers retry here.
func (s *Store) useWAL(ctx context.Context) error {
	deadline := time.Now().Add(busyTimeout)
	for {
		var mode string
		err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode)
		if err == nil && strings.EqualFold(mode, "wal") {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("journal mode is %q", mode)
		}
		if !isBusy(err) || time.Now().After(deadline) {
			return fmt.Errorf("store: %s: cannot switch to WAL mode: %w", s.path, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// isBusy reports whether err is SQLite's "database is locked".
func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

// createPrivate creates the database file with mode 0600 before SQLite
// touches it; SQLite then gives its -wal and -shm files the same mode.
func createPrivate(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		// Sessions name people: keep the file private even if someone loosened it.
		if err := f.Chmod(0o600); err != nil {
			return fmt.Errorf("store: %s has mode %v and cannot be made 0600: %w", path, fi.Mode().Perm(), err)
		}
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// DB returns the database for packages that keep their own tables here.
// They create those tables with Migrate.
func (s *Store) DB() *sql.DB { return s.db }

// Path returns the database file's absolute path.
func (s *Store) Path() string { return s.path }
