package filedrop

import (
	"bytes"
	"errors"
	"testing"

	"github.com/hubkit/hubkit/internal/clamav/clamdtest"
)

// TestMalwareScan runs uploads through a real clamd (with a test database
// that knows EICAR): infected files are refused, clean ones pass, and a
// scanner that cannot be reached refuses everything (fail closed).
func TestMalwareScan(t *testing.T) {
	srv := clamdtest.Start(t, clamdtest.Options{StreamMaxLength: 4 << 20})
	e := newEnv(t, func(o *Options) { o.Scanner = srv.Client })
	dr := e.mustCreate(spec())
	eicar := []byte(clamdtest.EICAR)
	// EICAR well past the first age chunk and clamd chunk (64 KiB).
	embedded := append(append(data(1, 100_000), eicar...), data(2, 1000)...)

	t.Run("EICAR refused", func(t *testing.T) {
		for name, content := range map[string][]byte{"eicar.txt": eicar, "embedded.bin": embedded} {
			_, err := e.d.AddFile(ctx, alice, dr.ID, name, int64(len(content)), bytes.NewReader(content))
			var ie *InfectedError
			if !errors.As(err, &ie) || ie.Signature != clamdtest.Signature {
				t.Fatalf("%s: AddFile = %v, want InfectedError %s", name, err, clamdtest.Signature)
			}
		}
		if b := e.blobFiles(); len(b) != 0 {
			t.Fatalf("infected uploads left %v", b)
		}
		var infected int
		for _, r := range e.records(EventUpload) {
			if r.Outcome == "failure" && r.Reason == reasonInfected {
				infected++
			}
		}
		if infected != 2 {
			t.Errorf("%d infected uploads audited, want 2", infected)
		}
	})

	t.Run("clean file passes", func(t *testing.T) {
		content := data(3, 300_000)
		f := e.mustAdd(alice, dr.ID, "clean.bin", content)
		if f.SHA256 != sha(content) {
			t.Fatalf("SHA-256 %s, want %s", f.SHA256, sha(content))
		}
	})

	t.Run("resumable upload scanned at the end", func(t *testing.T) {
		// The signature is split across two chunks, with a restart between:
		// no per-chunk scan could see it.
		up, err := e.d.BeginUpload(ctx, alice, dr.ID, "split.bin", int64(len(embedded)))
		if err != nil {
			t.Fatal(err)
		}
		cut := 100_000 + 30
		if _, err := e.d.WriteChunk(ctx, alice, up, 0, bytes.NewReader(embedded[:cut])); err != nil {
			t.Fatal(err)
		}
		e.reopen()
		if _, err := e.d.WriteChunk(ctx, alice, up, int64(cut), bytes.NewReader(embedded[cut:])); err != nil {
			t.Fatal(err)
		}
		_, err = e.d.FinishUpload(ctx, alice, up)
		if !errors.Is(err, ErrInfected) {
			t.Fatalf("FinishUpload = %v, want ErrInfected", err)
		}
		if _, err := e.d.UploadOffset(ctx, alice, up); err != ErrNotFound {
			t.Errorf("the infected upload is still open: %v", err)
		}
		got, _ := e.d.Get(ctx, alice, dr.ID)
		if len(got.Files) != 1 {
			t.Errorf("drop has %d files, want only the clean one", len(got.Files))
		}
	})

	t.Run("clamd stopped", func(t *testing.T) {
		dr2 := e.mustCreate(spec())
		up, err := e.d.BeginUpload(ctx, alice, dr2.ID, "later.bin", 1000)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.d.WriteChunk(ctx, alice, up, 0, bytes.NewReader(data(5, 1000))); err != nil {
			t.Fatal(err)
		}
		srv.Stop()
		_, err = e.d.AddFile(ctx, alice, dr2.ID, "clean.txt", 5, bytes.NewReader([]byte("clean")))
		wantErr(t, "AddFile with clamd stopped", err, ErrScanFailed)
		_, err = e.d.FinishUpload(ctx, alice, up)
		wantErr(t, "FinishUpload with clamd stopped", err, ErrScanFailed)
		// The upload stays, to be finished when clamd is back.
		if off, err := e.d.UploadOffset(ctx, alice, up); err != nil || off != 1000 {
			t.Errorf("upload after a failed scan: %d, %v", off, err)
		}
		if got, _ := e.d.Get(ctx, alice, dr2.ID); len(got.Files) != 0 {
			t.Errorf("unscanned file stored: %+v", got.Files)
		}
		e.wantNoStrayBlobs()
	})
}

// TestScanSizeLimit: a file larger than clamd's StreamMaxLength cannot be
// scanned, so it is refused, not waved through.
func TestScanSizeLimit(t *testing.T) {
	srv := clamdtest.Start(t, clamdtest.Options{StreamMaxLength: 200_000})
	e := newEnv(t, func(o *Options) { o.Scanner = srv.Client })
	dr := e.mustCreate(spec())
	_, err := e.d.AddFile(ctx, alice, dr.ID, "big.bin", -1, bytes.NewReader(data(1, 600_000)))
	wantErr(t, "file over StreamMaxLength", err, ErrScanFailed)
	if b := e.blobFiles(); len(b) != 0 {
		t.Fatalf("left %v", b)
	}
}
