package filedrop

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubkit/hubkit/internal/audit"
	"github.com/hubkit/hubkit/internal/region"
	"github.com/hubkit/hubkit/internal/store"
)

// Test actors. alice is a consultant who sends; bob receives; carol is a
// logged-in user with nothing to do with it.
var (
	alice = Actor{UserKey: "851:alice", Kommune: 851, Name: "Alice Consultant", Email: "alice@aalborg.dk", Roles: []string{"consultant"}, IP: "192.0.2.1"}
	bob   = Actor{UserKey: "851:bob", Kommune: 851, Name: "Bob Professional", Email: "bob@aalborg.dk", Roles: []string{"professional"}, IP: "192.0.2.2"}
	carol = Actor{UserKey: "773:carol", Kommune: 773, Name: "Carol Other", Email: "carol@morsoe.dk", Roles: []string{"professional"}, IP: "192.0.2.3"}
)

// testClock is a settable clock.
type testClock struct{ ns atomic.Int64 }

func newTestClock() *testClock {
	c := &testClock{}
	c.ns.Store(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *testClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *testClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// env is an engine on a fresh data directory.
type env struct {
	t     testing.TB
	dir   string
	st    *store.Store
	log   *audit.Log
	d     *Drops
	clock *testClock
	opts  Options
}

func intp(n int) *int { return &n }

// testPolicy: 1 MiB files, 3 per drop, 30 days default, 90 maximum.
func testPolicy() region.FileDropPolicy {
	return region.FileDropPolicy{MaxFileBytes: 1 << 20, MaxFilesPerDrop: intp(3), DefaultRetentionDays: intp(30), MaxRetentionDays: intp(90)}
}

// newEnv opens an engine; adjust may change the options first.
func newEnv(t testing.TB, adjust ...func(*Options)) *env {
	t.Helper()
	return newEnvAt(t, t.TempDir(), adjust...)
}

// newEnvAt opens an engine on an existing data directory.
func newEnvAt(t testing.TB, dir string, adjust ...func(*Options)) *env {
	t.Helper()
	e := &env{t: t, dir: dir, clock: newTestClock()}
	// Recover's and the sweeper's notes would only clutter test output.
	e.opts = Options{Policy: testPolicy(), Now: e.clock.Now, Logger: slog.New(slog.DiscardHandler)}
	for _, f := range adjust {
		f(&e.opts)
	}
	e.open()
	t.Cleanup(e.close)
	return e
}

func (e *env) open() {
	e.t.Helper()
	var err error
	if e.st, err = store.Open(filepath.Join(e.dir, "hub.db")); err != nil {
		e.t.Fatal(err)
	}
	if e.log, err = audit.Open(filepath.Join(e.dir, audit.FileName), audit.WithClock(e.clock.Now)); err != nil {
		e.t.Fatal(err)
	}
	id, err := LoadOrCreateIdentity(e.dir)
	if err != nil {
		e.t.Fatal(err)
	}
	if e.d, err = Open(context.Background(), e.st, e.log, e.dir, id, e.opts); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) close() {
	if e.d != nil {
		e.d.Close()
		e.d = nil
	}
	if e.log != nil {
		e.log.Close()
		e.log = nil
	}
	if e.st != nil {
		e.st.Close()
		e.st = nil
	}
}

// reopen simulates a restart: everything is closed and opened again
// (which runs Recover).
func (e *env) reopen() {
	e.t.Helper()
	e.close()
	e.open()
}

var ctx = context.Background()

// data returns n deterministic pseudo-random bytes for seed.
func data(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n - n%8; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// spec is a valid drop spec to bob.
func spec() DropSpec {
	return DropSpec{CaseRef: "2026-0042", Purpose: PurposeSection12c, Recipients: []string{bob.UserKey}, Message: "Referat fra mødet"}
}

// mustCreate creates a draft from alice to bob.
func (e *env) mustCreate(s DropSpec) *Drop {
	e.t.Helper()
	dr, err := e.d.CreateDrop(ctx, alice, s)
	if err != nil {
		e.t.Fatalf("CreateDrop: %v", err)
	}
	return dr
}

func (e *env) mustAdd(a Actor, dropID, name string, b []byte) *File {
	e.t.Helper()
	f, err := e.d.AddFile(ctx, a, dropID, name, int64(len(b)), bytes.NewReader(b))
	if err != nil {
		e.t.Fatalf("AddFile(%s, %d bytes): %v", name, len(b), err)
	}
	return f
}

func (e *env) mustSeal(a Actor, dropID string) *Drop {
	e.t.Helper()
	dr, err := e.d.Seal(ctx, a, dropID)
	if err != nil {
		e.t.Fatalf("Seal: %v", err)
	}
	return dr
}

// download reads a file fully as a.
func (e *env) download(a Actor, dropID, fileID string) ([]byte, *File, error) {
	rc, f, err := e.d.Open(ctx, a, dropID, fileID)
	if err != nil {
		return nil, nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return b, f, err
}

// blobFiles lists every file under the blobs directory except the lock.
func (e *env) blobFiles() []string {
	e.t.Helper()
	var out []string
	root := filepath.Join(e.dir, BlobDir)
	err := filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !de.IsDir() && de.Name() != lockName {
			rel, _ := filepath.Rel(root, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// wantNoStrayBlobs checks that the blobs on disk are exactly the committed
// files and open uploads.
func (e *env) wantNoStrayBlobs() {
	e.t.Helper()
	known := map[string]bool{}
	rows, err := e.st.DB().Query(`SELECT id || '.age' FROM drop_files UNION ALL SELECT file_id || '.age.part' FROM upload_sessions`)
	if err != nil {
		e.t.Fatal(err)
	}
	for rows.Next() {
		var n string
		rows.Scan(&n)
		known[n] = true
	}
	rows.Close()
	for _, f := range e.blobFiles() {
		if !known[filepath.Base(f)] {
			e.t.Errorf("stray file in blobs: %s", f)
		}
	}
}

// records returns the audit records, optionally only those of type typ.
func (e *env) records(types ...string) []audit.Record {
	e.t.Helper()
	var out []audit.Record
	var buf bytes.Buffer
	if _, err := e.log.Export(func(r audit.Record) bool {
		if len(types) == 0 {
			return true
		}
		for _, t := range types {
			if r.Type == t {
				return true
			}
		}
		return false
	}, &buf); err != nil {
		e.t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		r, err := decodeRecord(line)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// wantErr fails unless errors.Is(err, target).
func wantErr(t testing.TB, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

// failingReader returns data, then fails as a dropped connection does.
type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// untouchable fails the test if it is read: for limits that must be
// enforced before a byte is read.
type untouchable struct{ t testing.TB }

func (u untouchable) Read([]byte) (int, error) {
	u.t.Error("the body was read although the request should have been refused first")
	return 0, io.EOF
}

// grepDir reports every file under dir that contains needle.
func grepDir(t testing.TB, dir string, needle []byte) []string {
	t.Helper()
	var hits []string
	filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, needle) {
			hits = append(hits, p)
		}
		return nil
	})
	return hits
}

func decodeRecord(line string) (audit.Record, error) {
	var r audit.Record
	err := json.Unmarshal([]byte(line), &r)
	return r, err
}

// ctxT shortens callback signatures in tests.
type ctxT = context.Context
