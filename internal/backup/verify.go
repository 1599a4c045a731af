package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"filippo.io/age"
)

// VerifyResult is what Verify found.
type VerifyResult struct {
	Snapshot      string
	Objects       int   // the snapshot's own objects, present with their hashes
	Blobs         int   // blobs present with their hashes
	Bytes         int64 // read
	ExpiredPruned int   // blobs of drops past retention, deleted by prune
	Decrypted     bool  // the state was decrypted and checked (with an identity)
	Check         *CheckResult
	Problems      []string
	Warnings      []string
}

// Verify checks snapshot m in tg. Without an identity: every object and
// blob is present with the size and SHA-256 the manifest records (a blob
// missing because its drop is past retention is counted, not a problem),
// and every other snapshot's manifest is signed by the same hub key.
// With id, the store, audit log and keys are also decrypted into a
// private scratch directory and checked as a restore would be (Check):
// the audit chain verifies to the manifest's head and every file the
// store references is among the manifest's blobs.
func Verify(ctx context.Context, tg Target, m *Manifest, id age.Identity, progress io.Writer, now time.Time) (*VerifyResult, error) {
	res := &VerifyResult{Snapshot: m.Name}
	bad := func(format string, args ...any) { res.Problems = append(res.Problems, fmt.Sprintf(format, args...)) }
	p := newProgress(progress, "verify "+m.Name)
	defer p.done()
	if snaps, err := List(ctx, tg); err != nil {
		return nil, err
	} else {
		for _, s := range snaps {
			switch {
			case s.Err != nil:
				bad("snapshot %s: %v", s.Name, s.Err)
			case s.Manifest != nil && s.Manifest.SigningKey != m.SigningKey:
				bad("snapshot %s is signed by key %q, %s by %q: one of them did not come from this hub", s.Name, s.Manifest.SigningKey, m.Name, m.SigningKey)
			}
		}
	}
	if m.SigningKey == "" {
		// Tolerated only while every snapshot is unsigned (a hub without a
		// file drop has no signing key); one unsigned among signed ones is
		// a problem above.
		res.Warnings = append(res.Warnings, "the manifest is not signed (the hub had no keys/federation.key): edits to it cannot be detected")
	}
	for _, o := range m.Objects {
		if err := readAll(ctx, tg, o.Key, o.Size, o.SHA256, p); err != nil {
			bad("%v", err)
			continue
		}
		res.Objects++
	}
	p.total = len(m.Blobs)
	for _, b := range m.Blobs {
		err := readAll(ctx, tg, BlobKey(b.File), b.Size, b.SHA256, p)
		switch {
		case errors.Is(err, ErrNotExist) && !b.RetainUntil.After(now):
			res.ExpiredPruned++
		case errors.Is(err, ErrNotExist):
			bad("blob %s of drop %s (retained until %s) is missing", BlobKey(b.File), b.Drop, b.RetainUntil.Format(time.RFC3339))
		case err != nil:
			bad("%v", err)
		default:
			res.Blobs++
		}
	}
	res.Bytes = p.bytes.Load()
	if id != nil && len(res.Problems) == 0 {
		scratch, err := os.MkdirTemp("", "hubkit-verify-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(scratch)
		if err := fetchState(ctx, tg, m, scratch, id, p); err != nil {
			bad("%v", err)
		} else {
			res.Decrypted = true
			c, _ := check(ctx, scratch, m, false)
			res.Check = c
			res.Problems = append(res.Problems, c.Problems...)
		}
	}
	if len(res.Problems) > 0 {
		return res, fmt.Errorf("backup: snapshot %s in %s fails verification:\n  %s", m.Name, tg, strings.Join(res.Problems, "\n  "))
	}
	return res, nil
}

// readAll reads an object to the end, checking size and hash.
func readAll(ctx context.Context, tg Target, key string, size int64, sum string, p *progress) error {
	r, err := tg.Get(ctx, key)
	if err != nil {
		return err
	}
	defer r.Close()
	hr := newHashingReader(&countingReader{r: r, p: p}, sum, key)
	if _, err := io.Copy(io.Discard, hr); err != nil {
		return err
	}
	if hr.n != size {
		return fmt.Errorf("%s has %d bytes, the manifest says %d", key, hr.n, size)
	}
	p.object()
	return nil
}
