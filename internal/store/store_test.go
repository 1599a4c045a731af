package store

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func openTest(t *testing.T) *Store {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "data", "hub.db"))
}

func openAt(t *testing.T, path string) *Store {
	t.Helper()
	st, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestPragmas(t *testing.T) {
	st := openTest(t)
	ctx := context.Background()
	// Every pooled connection gets the settings, not just the first.
	c1, err := st.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	c2, err := st.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	for _, tt := range []struct{ pragma, want string }{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"foreign_keys", "1"},
		{"busy_timeout", "5000"},
		{"secure_delete", "1"},
	} {
		for _, c := range []*sql.Conn{c1, c2} {
			var got string
			if err := c.QueryRowContext(ctx, "PRAGMA "+tt.pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("PRAGMA %s = %s, want %s", tt.pragma, got, tt.want)
			}
		}
	}
}

func TestFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "hub.db")
	st := openAt(t, path)
	// Write something so the WAL and shared-memory files exist.
	if err := st.CreateSession(context.Background(), testSession(t, t0)); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{
		dir:           0o700,
		path:          0o600,
		path + "-wal": 0o600,
		path + "-shm": 0o600,
	} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %v, want %v", p, got, want)
		}
	}
	st.Close()

	// A loosened file is tightened on the next open.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	openAt(t, path)
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode after reopen %v, want 0600", fi.Mode().Perm())
	}
}

func TestOpenRejectsBadPaths(t *testing.T) {
	for _, p := range []string{"", filepath.Join(t.TempDir(), "hub?mode=ro.db")} {
		if st, err := Open(p); err == nil {
			st.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
	}
}

func schemaVersion(t *testing.T, st *Store, component string) int {
	t.Helper()
	var v int
	if err := st.DB().QueryRow(`SELECT version FROM schema_version WHERE component = ?`, component).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hub.db")
	st := openAt(t, path)
	if v := schemaVersion(t, st, "store"); v != len(migrations) {
		t.Fatalf("store schema version %d, want %d", v, len(migrations))
	}
	steps := []string{
		`CREATE TABLE drops (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
		 INSERT INTO drops (name) VALUES ('first');`,
	}
	if err := st.Migrate(ctx, "filedrop", steps); err != nil {
		t.Fatal(err)
	}
	st.Close()

	// Reopening runs nothing again (the INSERT would duplicate the row).
	st = openAt(t, path)
	if err := st.Migrate(ctx, "filedrop", steps); err != nil {
		t.Fatal(err)
	}
	steps = append(steps, `ALTER TABLE drops ADD COLUMN purpose TEXT NOT NULL DEFAULT 'x';`)
	if err := st.Migrate(ctx, "filedrop", steps); err != nil {
		t.Fatal(err)
	}
	var n int
	var purpose string
	if err := st.DB().QueryRow(`SELECT count(*), max(purpose) FROM drops`).Scan(&n, &purpose); err != nil {
		t.Fatal(err)
	}
	if n != 1 || purpose != "x" || schemaVersion(t, st, "filedrop") != 2 {
		t.Errorf("after migrations: %d rows, purpose %q, version %d", n, purpose, schemaVersion(t, st, "filedrop"))
	}

	// A failing step rolls back every pending step of the call.
	bad := append(steps, `CREATE TABLE a (x INTEGER);`, `THIS IS NOT SQL;`)
	if err := st.Migrate(ctx, "filedrop", bad); err == nil || !strings.Contains(err.Error(), "version 4") {
		t.Errorf("bad step: %v, want error naming version 4", err)
	}
	if err := st.DB().QueryRow(`SELECT count(*) FROM a`).Scan(&n); err == nil {
		t.Error("table of step 3 exists after step 4 failed")
	}
	if v := schemaVersion(t, st, "filedrop"); v != 2 {
		t.Errorf("version after failed migration %d, want 2", v)
	}

	// An older hubctl refuses a newer schema.
	if err := st.Migrate(ctx, "filedrop", steps[:1]); err == nil || !strings.Contains(err.Error(), "at schema version 2") {
		t.Errorf("downgrade: %v", err)
	}
}

// Two hub processes start at once on a fresh database.
func TestConcurrentOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.db")
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			st, err := Open(path)
			if err == nil {
				err = st.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
