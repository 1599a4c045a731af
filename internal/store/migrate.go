package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// migrations are the store's own steps (component "store").
var migrations = []string{
	// 1: sessions and OIDC login state.
	`CREATE TABLE sessions (
		id_hash         BLOB PRIMARY KEY,  -- sha256 of the session id; the id itself is never stored
		user_key        TEXT NOT NULL,
		issuer          TEXT NOT NULL,
		subject         TEXT NOT NULL,
		sid             TEXT NOT NULL DEFAULT '',
		kommune         INTEGER NOT NULL,
		roles           TEXT NOT NULL,     -- JSON array
		name            TEXT NOT NULL DEFAULT '',
		email           TEXT NOT NULL DEFAULT '',
		nsis            TEXT NOT NULL DEFAULT '',
		csrf            TEXT NOT NULL,
		id_token        TEXT NOT NULL DEFAULT '',
		created_at      INTEGER NOT NULL,  -- Unix nanoseconds, UTC
		last_seen       INTEGER NOT NULL,
		absolute_expiry INTEGER NOT NULL
	) WITHOUT ROWID;
	CREATE INDEX sessions_by_sid ON sessions (issuer, sid) WHERE sid <> '';
	CREATE INDEX sessions_by_subject ON sessions (issuer, subject);
	CREATE INDEX sessions_by_absolute_expiry ON sessions (absolute_expiry);
	CREATE INDEX sessions_by_last_seen ON sessions (last_seen);

	CREATE TABLE login_states (
		state_hash BLOB PRIMARY KEY,       -- sha256 of the OAuth state parameter
		nonce      TEXT NOT NULL,
		verifier   TEXT NOT NULL,
		kommune    INTEGER NOT NULL,
		issuer     TEXT NOT NULL,
		return_to  TEXT NOT NULL DEFAULT '',
		binding    TEXT NOT NULL,
		created_at INTEGER NOT NULL,
		expires_at INTEGER NOT NULL
	) WITHOUT ROWID;
	CREATE INDEX login_states_by_expiry ON login_states (expires_at);`,
	// 2: the public half of each key the hub created or adopted, so that a
	// start can tell a missing or swapped key file (package datadir).
	`CREATE TABLE hub_keys (
		name        TEXT PRIMARY KEY,  -- the key file, relative to the data directory
		public      TEXT NOT NULL,     -- age recipient or base64 Ed25519 public key
		recorded_at INTEGER NOT NULL
	) WITHOUT ROWID;`,
}

// Migrate brings the tables of component up to date by running the steps
// this database has not run yet. Each package that keeps tables in the hub
// database owns a component name and an ordered list of SQL steps, and calls
// Migrate with them when it starts:
//
//	var migrations = []string{
//		// 1: drops
//		`CREATE TABLE drops (...);`,
//		// 2: purpose of each drop
//		`ALTER TABLE drops ADD COLUMN purpose TEXT NOT NULL DEFAULT '';`,
//	}
//	err := st.Migrate(ctx, "filedrop", migrations)
//
// To change a schema, append a step. Never edit, reorder or remove a step
// that has been released: databases in the field have run it and will not
// run it again. The table schema_version records, per component, how many
// steps have run. A step may hold several statements; all pending steps run
// in one transaction, so a failing step leaves the database as it was.
//
// Migrate is safe to call on every start and from several processes at once:
// the transaction takes the write lock first, so the second caller finds the
// work done. A database that has run more steps than given was migrated by a
// newer hubctl; Migrate refuses it rather than run old code against a schema
// it does not know.
func (s *Store) Migrate(ctx context.Context, component string, steps []string) (err error) {
	if component == "" {
		return errors.New("store: migrate: no component name")
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: migrate %s: %w", component, err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		component TEXT PRIMARY KEY,
		version   INTEGER NOT NULL
	)`); err != nil {
		return fmt.Errorf("store: migrate %s: %w", component, err)
	}
	var version int
	err = tx.QueryRowContext(ctx, `SELECT version FROM schema_version WHERE component = ?`, component).Scan(&version)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: migrate %s: %w", component, err)
	}
	if version > len(steps) {
		return fmt.Errorf("store: %s: the %s tables are at schema version %d but this hubctl knows only %d: run a hubctl at least as new as the one that last used this database",
			s.path, component, version, len(steps))
	}
	if version == len(steps) {
		return tx.Commit()
	}
	for i := version; i < len(steps); i++ {
		if _, err := tx.ExecContext(ctx, steps[i]); err != nil {
			return fmt.Errorf("store: migrate %s to version %d: %w", component, i+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (component, version) VALUES (?, ?)
		ON CONFLICT (component) DO UPDATE SET version = excluded.version`, component, len(steps)); err != nil {
		return fmt.Errorf("store: migrate %s: %w", component, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: migrate %s: %w", component, err)
	}
	return nil
}
