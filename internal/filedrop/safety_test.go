package filedrop

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// Below the free-space floor every way in refuses early with
// ErrStorageFull, before a byte is read, and audits it.
func TestSpaceFloorRefusesEarly(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MinFreeBytes = 1 << 62 })
	d := e.mustCreate(spec())
	_, err := e.d.AddFile(ctx, alice, d.ID, "a.pdf", -1, untouchable{t})
	if !errors.Is(err, ErrStorageFull) || !IsStorageFull(err) {
		t.Fatalf("AddFile below the floor: %v, want ErrStorageFull", err)
	}
	if _, err := e.d.BeginUpload(ctx, alice, d.ID, "b.pdf", 10); !errors.Is(err, ErrStorageFull) {
		t.Errorf("BeginUpload below the floor: %v", err)
	}
	recs := e.records(EventUpload)
	if len(recs) == 0 || recs[len(recs)-1].Reason != reasonStorageFull {
		t.Errorf("refusal not audited as %q: %+v", reasonStorageFull, recs)
	}
	e.wantNoStrayBlobs()

	// A negative floor is none.
	e2 := newEnv(t, func(o *Options) { o.MinFreeBytes = -1 })
	d2 := e2.mustCreate(spec())
	e2.mustAdd(alice, d2.ID, "a.pdf", data(1, 100))
}

// Recovery deletes a blob without a file record only when pending_blobs
// proves it is the orphan of an unfinished upload; one nothing explains
// is moved to quarantine, byte for byte.
func TestRecoverDeletesOnlyProvenOrphans(t *testing.T) {
	e := newEnv(t)
	d := e.mustCreate(spec())
	f := e.mustAdd(alice, d.ID, "kept.pdf", data(1, 1000))

	proven := newID()
	if err := e.d.markPending(ctx, proven); err != nil {
		t.Fatal(err)
	}
	unexplained := newID()
	content := []byte("a blob from a store that is older than the blobs")
	for _, id := range []string{proven, unexplained} {
		os.MkdirAll(e.d.blobDir(id), 0o700)
		if err := os.WriteFile(e.d.blobPath(id), content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e.reopen()
	res, err := e.d.Recover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res != (RecoverResult{}) {
		t.Errorf("a second Recover found work: %+v", res)
	}
	if _, err := os.Stat(e.d.blobPath(proven)); !os.IsNotExist(err) {
		t.Error("the proven orphan (pending, never committed) was not removed")
	}
	if _, err := os.Stat(e.d.blobPath(unexplained)); !os.IsNotExist(err) {
		t.Error("the unexplained blob is still among the blobs")
	}
	q, _ := filepath.Glob(filepath.Join(e.dir, QuarantineDir, "*", unexplained+blobSuffix))
	if len(q) != 1 {
		t.Fatalf("quarantined: %v", q)
	}
	if b, _ := os.ReadFile(q[0]); !bytes.Equal(b, content) {
		t.Error("the quarantined blob changed")
	}
	var n int
	e.st.DB().QueryRow(`SELECT count(*) FROM pending_blobs`).Scan(&n)
	if n != 0 {
		t.Errorf("%d pending rows left", n)
	}
	if got, _, err := e.download(alice, d.ID, f.ID); err != nil || !bytes.Equal(got, data(1, 1000)) {
		t.Errorf("the committed file after recovery: %v", err)
	}
}
