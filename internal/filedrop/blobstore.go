package filedrop

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Blob file names. A committed blob is <id>.age; a resumable upload grows
// in <id>.age.part; a single-shot upload is written to <id>.age.tmp-<rand>.
// Recover tells them apart by these suffixes.
const (
	blobSuffix = ".age"
	partSuffix = ".age.part"
	tmpInfix   = ".age.tmp-"
)

// newID returns 128 random bits as 32 hex digits: the ids of drops, files,
// uploads and links. They are unguessable, but access never rests on that:
// every lookup also checks the actor.
func newID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails since Go 1.24 (it crashes the program instead)
	return hex.EncodeToString(b[:])
}

// validID reports whether s looks like an id from newID. Anything else is
// not looked up at all, and in particular never becomes part of a path.
func validID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isLowerHex(s[i]) {
			return false
		}
	}
	return true
}

func isLowerHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' }

// blobDir is the fan-out directory of a file id: 256 directories keep any
// one directory small.
func (d *Drops) blobDir(fileID string) string { return filepath.Join(d.blobs, fileID[:2]) }

func (d *Drops) blobPath(fileID string) string {
	return filepath.Join(d.blobDir(fileID), fileID+blobSuffix)
}

func (d *Drops) partPath(fileID string) string {
	return filepath.Join(d.blobDir(fileID), fileID+partSuffix)
}

// createTemp creates a new, empty temporary blob for fileID, mode 0600.
func (d *Drops) createTemp(fileID string) (*os.File, error) {
	dir := d.blobDir(fileID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("filedrop: %w", err)
	}
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, fmt.Errorf("filedrop: random: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, fileID+tmpInfix+hex.EncodeToString(rnd[:])), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("filedrop: create blob: %w", err)
	}
	return f, nil
}

// install makes the fully written and flushed file at tmp the blob of
// fileID: rename, then flush the directory so the rename survives a crash.
func (d *Drops) install(tmp, fileID string) error {
	final := d.blobPath(fileID)
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("filedrop: install blob: %w", err)
	}
	if err := syncDir(filepath.Dir(final)); err != nil {
		return err
	}
	return nil
}

// markPending records, before a blob is installed under its final name,
// that it is not committed yet: the proof Recover needs to delete it if
// the commit never comes. The row does not follow the request's
// cancellation: the blob is complete on disk.
func (d *Drops) markPending(ctx context.Context, fileID string) error {
	if _, err := d.db.ExecContext(context.WithoutCancel(ctx), `INSERT INTO pending_blobs (file_id, created_at) VALUES (?, ?)`,
		fileID, nanos(d.now())); err != nil {
		return fmt.Errorf("filedrop: record pending blob: %w", err)
	}
	return nil
}

// unmarkPending forgets a pending blob whose upload failed after its blob
// was removed. A row left behind (the delete failed) is harmless: Recover
// removes rows without a blob.
func (d *Drops) unmarkPending(fileID string) {
	d.db.ExecContext(context.Background(), `DELETE FROM pending_blobs WHERE file_id = ?`, fileID)
}

// discardUncommitted removes the blob of an upload that failed before its
// commit, and its pending row.
func (d *Drops) discardUncommitted(fileID string) {
	if d.removeBlob(fileID) == nil {
		d.unmarkPending(fileID)
	}
}

// removeBlob deletes a file's blob (and any part or temp file of it) and
// flushes the directory. A blob already gone is not an error.
func (d *Drops) removeBlob(fileID string) error {
	var errs []error
	for _, p := range []string{d.blobPath(fileID), d.partPath(fileID)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := syncDir(d.blobDir(fileID)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("filedrop: remove blob: %w", errors.Join(errs...))
	}
	return nil
}

// syncDir flushes a directory, so that files created, renamed or removed
// in it stay so after a crash.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("filedrop: sync %s: %w", dir, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("filedrop: sync %s: %w", dir, err)
	}
	return nil
}
