package backup_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/hubkit/hubkit/internal/audit"
	"github.com/hubkit/hubkit/internal/backup"
	"github.com/hubkit/hubkit/internal/federation"
	"github.com/hubkit/hubkit/internal/filedrop"
	"github.com/hubkit/hubkit/internal/region"
	"github.com/hubkit/hubkit/internal/store"
)

// testHub is a hub's data directory with the real file-drop engine open
// on it, as a running hub has it.
type testHub struct {
	t     testing.TB
	dir   string
	st    *store.Store
	log   *audit.Log
	drops *filedrop.Drops
	clock atomic.Int64 // Unix ns
}

var (
	sender    = filedrop.Actor{UserKey: "851:anna", Kommune: 851, Name: "Anna Konsulent", Email: "anna@aalborg.example", Roles: []string{"consultant"}, IP: "192.0.2.1"}
	recipient = "851:bo"
)

func intp(n int) *int { return &n }

func testPolicy() region.FileDropPolicy {
	return region.FileDropPolicy{MaxFileBytes: 64 << 20, MaxFilesPerDrop: intp(5), DefaultRetentionDays: intp(30), MaxRetentionDays: intp(90)}
}

func newTestHub(t testing.TB) *testHub {
	t.Helper()
	h := &testHub{t: t, dir: filepath.Join(t.TempDir(), "data")}
	h.clock.Store(time.Now().UnixNano())
	var err error
	if h.st, err = store.Open(filepath.Join(h.dir, filedrop.StoreFile)); err != nil {
		t.Fatal(err)
	}
	if h.log, err = audit.Open(filepath.Join(h.dir, audit.FileName)); err != nil {
		t.Fatal(err)
	}
	id, err := filedrop.LoadOrCreateIdentity(h.dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := federation.LoadOrCreateSigningKey(h.dir); err != nil {
		t.Fatal(err)
	}
	h.drops, err = filedrop.Open(context.Background(), h.st, h.log, h.dir, id, filedrop.Options{
		Policy: testPolicy(), Logger: slog.New(slog.DiscardHandler), Now: h.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.close)
	return h
}

func (h *testHub) now() time.Time { return time.Unix(0, h.clock.Load()).UTC() }

func (h *testHub) close() {
	if h.drops != nil {
		h.drops.Close()
		h.log.Close()
		h.st.Close()
		h.drops = nil
	}
}

// addDrop seals a drop with files of the given sizes and returns its id
// and the files' contents.
func (h *testHub) addDrop(retentionDays int, sizes ...int) (string, [][]byte) {
	h.t.Helper()
	ctx := context.Background()
	d, err := h.drops.CreateDrop(ctx, sender, filedrop.DropSpec{CaseRef: "SAG-2026-0001", Purpose: filedrop.PurposeSection12c,
		RetentionDays: retentionDays, Recipients: []string{recipient}})
	if err != nil {
		h.t.Fatal(err)
	}
	var contents [][]byte
	for i, n := range sizes {
		b := make([]byte, n)
		rand.Read(b)
		if _, err := h.drops.AddFile(ctx, sender, d.ID, "bilag-"+string(rune('a'+i))+".bin", int64(n), bytes.NewReader(b)); err != nil {
			h.t.Fatal(err)
		}
		contents = append(contents, b)
	}
	if _, err := h.drops.Seal(ctx, sender, d.ID); err != nil {
		h.t.Fatal(err)
	}
	return d.ID, contents
}

// operator is an operator's age key pair.
type operator struct {
	id  *age.X25519Identity
	pub string
}

func newOperator(t testing.TB) operator {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return operator{id: id, pub: id.Recipient().String()}
}

// backupNow takes a snapshot with op as the recipient.
func (h *testHub) backupNow(tg backup.Target, op operator) *backup.Result {
	h.t.Helper()
	res, err := backup.Backup(context.Background(), h.dir, tg, backup.Options{Recipients: []string{op.pub}, Region: "nordjylland", Version: "test",
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		h.t.Fatal(err)
	}
	return res
}
