package filedrop

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// countingReader counts what was read from it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestUploadLimits: every refused upload leaves nothing behind (no file
// record, no blob, no temporary file) and is audited with its reason.
func TestUploadLimits(t *testing.T) {
	const max = 1 << 20
	tests := []struct {
		name     string
		fileName string
		declared int64
		body     func(t *testing.T) io.Reader
		want     error
		reason   string
		// readAtMost bounds how much of the body may be read (-1: no bound).
		readAtMost int64
	}{
		{"over the limit, size unknown", "big.bin", -1,
			func(*testing.T) io.Reader { return bytes.NewReader(data(1, 5*max)) }, ErrTooLarge, reasonTooLarge, max + 1},
		{"over the limit by one byte", "big.bin", -1,
			func(*testing.T) io.Reader { return bytes.NewReader(data(1, max+1)) }, ErrTooLarge, reasonTooLarge, max + 1},
		{"over the limit, announced", "big.bin", max + 1,
			func(t *testing.T) io.Reader { return untouchable{t} }, ErrTooLarge, reasonTooLarge, 0},
		{"more than announced", "a.bin", 10,
			func(*testing.T) io.Reader { return bytes.NewReader(data(2, 11)) }, ErrInvalid, "invalid", -1},
		{"less than announced", "a.bin", 100,
			func(*testing.T) io.Reader { return bytes.NewReader(data(2, 50)) }, ErrIncomplete, reasonIncomplete, -1},
		{"connection dropped", "a.bin", -1,
			func(*testing.T) io.Reader { return &failingReader{data: data(3, 100_000), err: io.ErrUnexpectedEOF} }, ErrIncomplete, reasonIncomplete, -1},
		{"empty, announced", "empty.txt", 0,
			func(t *testing.T) io.Reader { return untouchable{t} }, ErrEmptyFile, reasonEmpty, 0},
		{"empty, unannounced", "empty.txt", -1,
			func(*testing.T) io.Reader { return bytes.NewReader(nil) }, ErrEmptyFile, reasonEmpty, -1},
		{"refused extension", "faktura.pdf.exe", 3,
			func(t *testing.T) io.Reader { return untouchable{t} }, ErrRefusedType, reasonType, 0},
		{"refused extension behind a bidi override", "faktura\u202efdp.exe", 3,
			func(t *testing.T) io.Reader { return untouchable{t} }, ErrRefusedType, reasonType, 0},
		{"refused extension with trailing dots", "setup.EXE. . ", 3,
			func(t *testing.T) io.Reader { return untouchable{t} }, ErrRefusedType, reasonType, 0},
		{"program under an innocent name", "billede.jpg", -1,
			func(*testing.T) io.Reader { return bytes.NewReader(append([]byte("MZ\x90\x00"), data(4, 1000)...)) }, ErrRefusedType, reasonType, -1},
		{"ELF program", "notes.txt", -1,
			func(*testing.T) io.Reader {
				return bytes.NewReader(append([]byte("\x7fELF\x02\x01\x01"), data(4, 1000)...))
			}, ErrRefusedType, reasonType, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			dr := e.mustCreate(spec())
			cr := &countingReader{r: tc.body(t)}
			f, err := e.d.AddFile(ctx, alice, dr.ID, tc.fileName, tc.declared, cr)
			if !errors.Is(err, tc.want) {
				t.Fatalf("AddFile = %+v, %v; want %v", f, err, tc.want)
			}
			if tc.readAtMost >= 0 && cr.n > tc.readAtMost {
				t.Errorf("read %d bytes of the body; the limit must stop it at %d", cr.n, tc.readAtMost)
			}
			if got, _ := e.d.Get(ctx, alice, dr.ID); len(got.Files) != 0 {
				t.Errorf("refused file is visible: %+v", got.Files)
			}
			if b := e.blobFiles(); len(b) != 0 {
				t.Errorf("refused upload left files: %v", b)
			}
			recs := e.records(EventUpload)
			if len(recs) != 1 || recs[0].Outcome != "failure" || recs[0].Reason != tc.reason || recs[0].Case != "2026-0042" {
				t.Errorf("audit = %+v, want one failure with reason %s", recs, tc.reason)
			}
		})
	}
}

func TestTooManyFiles(t *testing.T) {
	e := newEnv(t)
	dr := e.mustCreate(spec())
	for i := range 3 {
		e.mustAdd(alice, dr.ID, "f.txt", []byte{byte('a' + i)})
	}
	_, err := e.d.AddFile(ctx, alice, dr.ID, "fourth.txt", 1, untouchable{t})
	wantErr(t, "fourth file", err, ErrTooManyFiles)
	if got, _ := e.d.Get(ctx, alice, dr.ID); len(got.Files) != 3 {
		t.Fatalf("%d files, want 3", len(got.Files))
	}
	e.wantNoStrayBlobs()

	// Open uploads count too, so a drop cannot be overfilled through them.
	dr2 := e.mustCreate(spec())
	e.mustAdd(alice, dr2.ID, "a.txt", []byte("a"))
	if _, err := e.d.BeginUpload(ctx, alice, dr2.ID, "b.bin", 10); err != nil {
		t.Fatal(err)
	}
	if _, err := e.d.BeginUpload(ctx, alice, dr2.ID, "c.bin", 10); err != nil {
		t.Fatal(err)
	}
	_, err = e.d.AddFile(ctx, alice, dr2.ID, "d.txt", 1, untouchable{t})
	wantErr(t, "file past open uploads", err, ErrTooManyFiles)
	_, err = e.d.BeginUpload(ctx, alice, dr2.ID, "e.bin", 10)
	wantErr(t, "upload past the limit", err, ErrTooManyFiles)
}

func TestSealRules(t *testing.T) {
	e := newEnv(t)
	dr := e.mustCreate(spec())
	_, err := e.d.Seal(ctx, alice, dr.ID)
	wantErr(t, "seal without files", err, ErrNoFiles)

	e.mustAdd(alice, dr.ID, "a.txt", []byte("a"))
	up, err := e.d.BeginUpload(ctx, alice, dr.ID, "b.bin", 10)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.d.Seal(ctx, alice, dr.ID)
	wantErr(t, "seal with an open upload", err, ErrUploadsPending)
	if err := e.d.AbortUpload(ctx, alice, up); err != nil {
		t.Fatal(err)
	}
	e.mustSeal(alice, dr.ID)

	_, err = e.d.Seal(ctx, alice, dr.ID)
	wantErr(t, "seal twice", err, ErrNotDraft)
	_, err = e.d.AddFile(ctx, alice, dr.ID, "late.txt", 1, untouchable{t})
	wantErr(t, "add to a sealed drop", err, ErrNotDraft)
	_, err = e.d.BeginUpload(ctx, alice, dr.ID, "late.bin", 10)
	wantErr(t, "upload to a sealed drop", err, ErrNotDraft)
	e.wantNoStrayBlobs()
}

// TestSealWhileUploading: a file whose upload finishes after the drop was
// sealed is refused; a sealed drop never changes.
func TestSealWhileUploading(t *testing.T) {
	e := newEnv(t)
	dr := e.mustCreate(spec())
	e.mustAdd(alice, dr.ID, "a.txt", []byte("a"))
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := e.d.AddFile(ctx, alice, dr.ID, "slow.bin", -1, pr)
		done <- err
	}()
	pw.Write(data(5, 100_000))
	e.mustSeal(alice, dr.ID)
	pw.Write(data(6, 100_000))
	pw.Close()
	wantErr(t, "upload finishing after the seal", <-done, ErrNotDraft)
	got, _ := e.d.Get(ctx, bob, dr.ID)
	if len(got.Files) != 1 {
		t.Fatalf("sealed drop has %d files, want 1", len(got.Files))
	}
	e.wantNoStrayBlobs()
}
