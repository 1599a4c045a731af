package filedrop

import (
	"bytes"
	"errors"
	"io"
	"os"
	"sync"
	"testing"
)

// TestResumeAfterDroppedConnection: half a file arrives, the connection
// drops mid-chunk, the hub restarts; the client asks where it stands and
// sends the rest; the file is whole and its SHA-256 right.
func TestResumeAfterDroppedConnection(t *testing.T) {
	e := newEnv(t)
	dr := e.mustCreate(spec())
	content := data(11, 700_000)
	up, err := e.d.BeginUpload(ctx, alice, dr.ID, "video.mp4", int64(len(content)))
	if err != nil {
		t.Fatal(err)
	}
	off, err := e.d.WriteChunk(ctx, alice, up, 0, bytes.NewReader(content[:200_000]))
	if err != nil || off != 200_000 {
		t.Fatalf("first chunk: offset %d, %v", off, err)
	}
	// The second chunk is cut off after 150 001 bytes (not a multiple of
	// 64, so the hash state holds buffered plaintext).
	pr, pw := io.Pipe()
	go func() {
		pw.Write(content[200_000:350_001])
		pw.CloseWithError(io.ErrUnexpectedEOF)
	}()
	off, err = e.d.WriteChunk(ctx, alice, up, 200_000, pr)
	wantErr(t, "cut-off chunk", err, ErrIncomplete)
	if off != 350_001 {
		t.Fatalf("after the cut the offset is %d, want 350001 (the bytes that arrived are kept)", off)
	}

	e.reopen()

	got, err := e.d.UploadOffset(ctx, alice, up)
	if err != nil || got != 350_001 {
		t.Fatalf("UploadOffset after restart = %d, %v", got, err)
	}
	// A client that lost its state finds the upload again.
	ups, err := e.d.Uploads(ctx, alice, dr.ID)
	if err != nil || len(ups) != 1 || ups[0] != (UploadStatus{ID: up, DropID: dr.ID, Name: "video.mp4", Size: int64(len(content)), Offset: 350_001}) {
		t.Fatalf("Uploads = %+v, %v", ups, err)
	}
	if _, err := e.d.Uploads(ctx, bob, dr.ID); err != ErrNotFound {
		t.Fatalf("Uploads by someone else = %v", err)
	}
	// A chunk for a stale offset is refused with the right one.
	_, err = e.d.WriteChunk(ctx, alice, up, 200_000, bytes.NewReader(content[200_000:]))
	var oe *OffsetError
	if !errors.As(err, &oe) || oe.Want != 350_001 || !errors.Is(err, ErrOffset) {
		t.Fatalf("stale offset: %v", err)
	}
	// Not finished yet.
	_, err = e.d.FinishUpload(ctx, alice, up)
	wantErr(t, "finish before the end", err, ErrIncomplete)
	// The rest, in two chunks.
	if off, err = e.d.WriteChunk(ctx, alice, up, 350_001, bytes.NewReader(content[350_001:600_000])); err != nil {
		t.Fatal(err)
	}
	if off, err = e.d.WriteChunk(ctx, alice, up, off, bytes.NewReader(content[600_000:])); err != nil || off != int64(len(content)) {
		t.Fatalf("last chunk: %d, %v", off, err)
	}
	f, err := e.d.FinishUpload(ctx, alice, up)
	if err != nil {
		t.Fatal(err)
	}
	if f.SHA256 != sha(content) || f.Size != int64(len(content)) || f.Name != "video.mp4" {
		t.Fatalf("File = %+v, want SHA-256 %s", f, sha(content))
	}
	if _, err := e.d.UploadOffset(ctx, alice, up); err != ErrNotFound {
		t.Errorf("the finished upload is still open: %v", err)
	}
	e.mustSeal(alice, dr.ID)
	b, _, err := e.download(bob, dr.ID, f.ID)
	if err != nil || !bytes.Equal(b, content) {
		t.Fatalf("download: %d bytes, %v", len(b), err)
	}
	var segs int
	e.st.DB().QueryRow(`SELECT segments FROM drop_files WHERE id = ?`, f.ID).Scan(&segs)
	if segs != 4 {
		t.Errorf("blob has %d segments, want 4 (one per stored chunk)", segs)
	}
	e.wantNoStrayBlobs()
}

// TestHashStateHoldsNoPlaintext: the saved SHA-256 state contains the
// bytes not yet hashed; it must be stored encrypted.
func TestHashStateHoldsNoPlaintext(t *testing.T) {
	e := newEnv(t)
	dr := e.mustCreate(spec())
	chunk := bytes.Repeat([]byte("SECRET-TAIL-"), 20) // 240 bytes: 48 of them wait in the hash buffer
	up, err := e.d.BeginUpload(ctx, alice, dr.ID, "a.txt", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.d.WriteChunk(ctx, alice, up, 0, bytes.NewReader(chunk)); err != nil {
		t.Fatal(err)
	}
	var state []byte
	if err := e.st.DB().QueryRow(`SELECT hash_state FROM upload_sessions WHERE id = ?`, up).Scan(&state); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(state, []byte("SECRET")) {
		t.Fatal("the stored hash state holds plaintext")
	}
	if hits := grepDir(t, e.dir, []byte("SECRET-TAIL")); len(hits) > 0 {
		t.Fatalf("plaintext on disk: %v", hits)
	}
}

func TestResumableRefusals(t *testing.T) {
	e := newEnv(t)
	dr := e.mustCreate(spec())
	up, err := e.d.BeginUpload(ctx, alice, dr.ID, "a.bin", 1000)
	if err != nil {
		t.Fatal(err)
	}
	// Someone else's upload does not exist for them.
	for _, a := range []Actor{bob, carol} {
		if _, err := e.d.UploadOffset(ctx, a, up); err != ErrNotFound {
			t.Errorf("UploadOffset by %s: %v", a.UserKey, err)
		}
		if _, err := e.d.WriteChunk(ctx, a, up, 0, untouchable{t}); err != ErrNotFound {
			t.Errorf("WriteChunk by %s: %v", a.UserKey, err)
		}
		if _, err := e.d.FinishUpload(ctx, a, up); err != ErrNotFound {
			t.Errorf("FinishUpload by %s: %v", a.UserKey, err)
		}
		if err := e.d.AbortUpload(ctx, a, up); err != ErrNotFound {
			t.Errorf("AbortUpload by %s: %v", a.UserKey, err)
		}
	}
	if _, err := e.d.WriteChunk(ctx, alice, "../../etc", 0, untouchable{t}); err != ErrNotFound {
		t.Errorf("malformed upload id: %v", err)
	}
	// A chunk past the announced size is refused whole.
	off, err := e.d.WriteChunk(ctx, alice, up, 0, bytes.NewReader(data(1, 1001)))
	wantErr(t, "chunk past the size", err, ErrTooLarge)
	if off != 0 {
		t.Errorf("offset after a refused chunk = %d", off)
	}
	if got, _ := e.d.UploadOffset(ctx, alice, up); got != 0 {
		t.Errorf("UploadOffset after a refused chunk = %d", got)
	}
	// Announcements the policy refuses.
	_, err = e.d.BeginUpload(ctx, alice, dr.ID, "big.bin", 1<<20+1)
	wantErr(t, "announced too large", err, ErrTooLarge)
	_, err = e.d.BeginUpload(ctx, alice, dr.ID, "empty.bin", 0)
	wantErr(t, "announced empty", err, ErrEmptyFile)
	_, err = e.d.BeginUpload(ctx, alice, dr.ID, "x.bin", -1)
	wantErr(t, "no size", err, ErrInvalid)
	_, err = e.d.BeginUpload(ctx, alice, dr.ID, "run.bat", 10)
	wantErr(t, "refused name", err, ErrRefusedType)
	_, err = e.d.BeginUpload(ctx, bob, dr.ID, "x.bin", 10)
	wantErr(t, "upload to someone else's drop", err, ErrNotFound)

	// An executable is refused at the end, and the upload is gone.
	up2, err := e.d.BeginUpload(ctx, alice, dr.ID, "innocent.pdf", 100)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.d.WriteChunk(ctx, alice, up2, 0, bytes.NewReader(append([]byte("MZ"), data(2, 98)...))); err != nil {
		t.Fatal(err)
	}
	_, err = e.d.FinishUpload(ctx, alice, up2)
	wantErr(t, "executable content", err, ErrRefusedType)
	if _, err := e.d.UploadOffset(ctx, alice, up2); err != ErrNotFound {
		t.Errorf("refused upload still open: %v", err)
	}

	// Abort removes the part file.
	if err := e.d.AbortUpload(ctx, alice, up); err != nil {
		t.Fatal(err)
	}
	if b := e.blobFiles(); len(b) != 0 {
		t.Errorf("aborted uploads left %v", b)
	}
	if got, _ := e.d.Get(ctx, alice, dr.ID); len(got.Files) != 0 {
		t.Errorf("files after refusals: %+v", got.Files)
	}
}

// TestConcurrentChunks: two chunks for the same offset at once; exactly
// one is stored, the other is told the new offset.
func TestConcurrentChunks(t *testing.T) {
	e := newEnv(t)
	dr := e.mustCreate(spec())
	content := data(3, 400_000)
	up, err := e.d.BeginUpload(ctx, alice, dr.ID, "a.bin", int64(len(content)))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() {
			_, errs[i] = e.d.WriteChunk(ctx, alice, up, 0, bytes.NewReader(content[:200_000]))
		})
	}
	wg.Wait()
	ok, offsetErrs := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ErrOffset):
			offsetErrs++
		default:
			t.Fatal(err)
		}
	}
	if ok != 1 || offsetErrs != 1 {
		t.Fatalf("%d stored, %d offset errors; want one each", ok, offsetErrs)
	}
	if _, err := e.d.WriteChunk(ctx, alice, up, 200_000, bytes.NewReader(content[200_000:])); err != nil {
		t.Fatal(err)
	}
	f, err := e.d.FinishUpload(ctx, alice, up)
	if err != nil || f.SHA256 != sha(content) {
		t.Fatalf("FinishUpload = %+v, %v", f, err)
	}
}

// TestCorruptBlobDetected: a blob changed on disk is reported as
// ErrCorrupt instead of being handed out as if it were whole.
func TestCorruptBlobDetected(t *testing.T) {
	e := newEnv(t)
	content := data(9, 300_000)
	dr := e.mustCreate(spec())
	f := e.mustAdd(alice, dr.ID, "a.bin", content)
	e.mustSeal(alice, dr.ID)
	path := e.d.blobPath(f.ID)

	// A flipped byte in the ciphertext fails age's authentication.
	b, _ := os.ReadFile(path)
	orig := append([]byte(nil), b...)
	b[len(b)/2] ^= 1
	os.WriteFile(path, b, 0o600)
	if _, _, err := e.download(bob, dr.ID, f.ID); !errors.Is(err, ErrCorrupt) {
		t.Errorf("flipped byte: %v, want ErrCorrupt", err)
	}
	// A second, validly encrypted segment appended by someone with the
	// public key changes the content; the recorded hash catches it.
	os.WriteFile(path, orig, 0o600)
	fh, _ := os.OpenFile(path, os.O_RDWR, 0)
	st, _ := fh.Stat()
	seg, err := beginSegment(fh, st.Size(), e.d.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	seg.Write([]byte("appended"))
	seg.finish()
	fh.Close()
	if _, _, err := e.download(bob, dr.ID, f.ID); !errors.Is(err, ErrCorrupt) {
		t.Errorf("appended segment: %v, want ErrCorrupt", err)
	}
	// A truncated blob.
	os.WriteFile(path, orig[:len(orig)-100], 0o600)
	if _, _, err := e.download(bob, dr.ID, f.ID); !errors.Is(err, ErrCorrupt) {
		t.Errorf("truncated: %v, want ErrCorrupt", err)
	}
}
