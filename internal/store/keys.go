package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"time"
)

// Keys returns the public halves of the hub's keys this store has seen,
// by key file name.
func (s *Store) Keys(ctx context.Context) (map[string]string, error) {
	return readKeys(ctx, s.db)
}

// RecordKey records the public half of a key file. A key once recorded is
// never replaced: a different one under the same name is an error.
func (s *Store) RecordKey(ctx context.Context, name, public string) error {
	res, err := s.db.ExecContext(ctx, `INSERT INTO hub_keys (name, public, recorded_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO NOTHING`, name, public, time.Now().UnixNano())
	if err != nil {
		return fmt.Errorf("store: record key: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	var have string
	if err := s.db.QueryRowContext(ctx, `SELECT public FROM hub_keys WHERE name = ?`, name).Scan(&have); err != nil {
		return fmt.Errorf("store: record key: %w", err)
	}
	if have != public {
		return fmt.Errorf("store: %s: the store knows another key (%s) than %s", name, have, public)
	}
	return nil
}

func readKeys(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) (map[string]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT name, public FROM hub_keys`)
	if err != nil {
		return nil, fmt.Errorf("store: keys: %w", err)
	}
	defer rows.Close()
	keys := map[string]string{}
	for rows.Next() {
		var n, p string
		if err := rows.Scan(&n, &p); err != nil {
			return nil, fmt.Errorf("store: keys: %w", err)
		}
		keys[n] = p
	}
	return keys, rows.Err()
}

// OpenReadOnly opens an existing database for inspection, creating and
// changing nothing (no migration, no journal-mode switch).
func OpenReadOnly(path string) (*sql.DB, error) {
	q := url.Values{"mode": {"ro"}, "_pragma": {fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds())}}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	return db, nil
}
