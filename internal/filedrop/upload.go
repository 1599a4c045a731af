package filedrop

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/hubkit/hubkit/internal/audit"
	"github.com/hubkit/hubkit/internal/clamav"
)

// AddFile stores one file in a draft drop of the actor's, streaming r with
// constant memory. declaredSize is the size the client announced (-1 if
// unknown); the upload fails if a different number of bytes arrives.
//
// While r streams, in one pass, the engine enforces the size limit
// (stopping at MaxFileBytes+1 bytes), computes the plaintext's SHA-256,
// sends it to clamd (when a scanner is configured) and age-encrypts it
// into a temporary blob. Only when all of that succeeded is the blob
// flushed, renamed into place and its metadata committed; on any failure
// the temporary blob is removed and nothing is visible. Plaintext never
// touches the disk.
func (d *Drops) AddFile(ctx context.Context, a Actor, dropID, name string, declaredSize int64, r io.Reader) (*File, error) {
	if err := checkActor(a); err != nil {
		return nil, err
	}
	ev := actorEvent(EventUpload, a)
	ev.Subject = idOrMalformed(dropID)
	fail := func(err error) (*File, error) {
		ev.Reason = reasonFor(err)
		d.auditFailure(ctx, ev)
		return nil, err
	}
	row, err := d.senderDraft(ctx, d.db, a, dropID)
	if err != nil {
		return fail(err)
	}
	ev.Case = row.caseRef
	clean, err := d.checkName(name)
	if err != nil {
		return fail(err)
	}
	ev.Detail = map[string]string{"name": clean}
	if err := d.checkDeclared(declaredSize); err != nil {
		return fail(err)
	}
	if err := d.checkRoom(ctx, dropID, d.pol.maxFiles); err != nil {
		return fail(err)
	}
	if err := d.checkSpace(declaredSize); err != nil {
		return fail(err)
	}
	in, err := d.ingest(ctx, r, declaredSize, d.pol.maxFileBytes, tooLarge(d.pol.maxFileBytes))
	if err != nil {
		return fail(err)
	}
	f, err := d.commitFile(ctx, dropID, clean, in, d.pol.maxFiles, ev, nil)
	if err != nil {
		d.discardUncommitted(in.fileID)
		return fail(err)
	}
	return f, nil
}

func tooLarge(limit int64) error {
	return fmt.Errorf("%w: the limit is %d bytes", ErrTooLarge, limit)
}

// checkName sanitises a file name and refuses refused extensions. The
// extension is judged after sanitising, so "invoice.pdf\u202e.exe" and
// "setup.exe." do not slip through.
func (d *Drops) checkName(name string) (string, error) {
	clean := SanitizeName(name)
	if ext := strings.ToLower(filepath.Ext(clean)); d.pol.refusedExt[ext] {
		return "", fmt.Errorf("%w: files ending in %s are not accepted (programs and scripts); put it in a zip archive if it really is case material", ErrRefusedType, ext)
	}
	return clean, nil
}

// checkDeclared refuses an announced size that cannot be accepted, before
// a byte is read.
func (d *Drops) checkDeclared(size int64) error {
	switch {
	case size == 0:
		return fmt.Errorf("%w: the file has no content", ErrEmptyFile)
	case size > d.pol.maxFileBytes:
		return tooLarge(d.pol.maxFileBytes)
	case size < -1:
		return invalid("size", "%d is not a size", size)
	}
	return nil
}

// checkRoom refuses a new file when the drop's files plus its open uploads
// already reach max.
func (d *Drops) checkRoom(ctx context.Context, dropID string, max int) error {
	var n int
	err := d.db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM drop_files WHERE drop_id = ?)
		+ (SELECT count(*) FROM upload_sessions WHERE drop_id = ?)`, dropID, dropID).Scan(&n)
	if err != nil {
		return fmt.Errorf("filedrop: %w", err)
	}
	if n >= max {
		return fmt.Errorf("%w: a drop holds at most %d files (counting uploads in progress)", ErrTooManyFiles, max)
	}
	return nil
}

// ingested is a blob that is installed under its final name but not yet
// committed: until commitFile, Recover would remove it.
type ingested struct {
	fileID    string
	size      int64
	sha256    string
	mediaType string
	segments  int
	blobBytes int64
}

// scanError marks an error of the clamd stream inside a tee.
type scanError struct{ err error }

func (e *scanError) Error() string { return e.err.Error() }
func (e *scanError) Unwrap() error { return e.err }

type scanWriter struct{ s *clamav.Stream }

func (w scanWriter) Write(p []byte) (int, error) {
	n, err := w.s.Write(p)
	if err != nil {
		return n, &scanError{err}
	}
	return n, nil
}

// ingest streams r into a new blob of one segment (see AddFile).
func (d *Drops) ingest(ctx context.Context, r io.Reader, declared, limit int64, limitErr error) (*ingested, error) {
	in := &ingested{fileID: newID(), segments: 1}
	f, err := d.createTemp(in.fileID)
	if err != nil {
		return nil, err
	}
	tmp := f.Name()
	installed := false
	defer func() {
		if !installed {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := writeMagic(f); err != nil {
		return nil, err
	}
	seg, err := beginSegment(f, int64(len(blobMagic)), d.to)
	if err != nil {
		return nil, err
	}
	defer seg.abort()
	h := sha256.New()
	sn := &sniffer{}
	sinks := []io.Writer{seg, h, sn}
	var scan *clamav.Stream
	if d.opts.Scanner != nil {
		if scan, err = d.opts.Scanner.NewStream(ctx); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrScanFailed, err)
		}
		defer scan.Close()
		sinks = append(sinks, scanWriter{scan})
	}
	d.inflight.Add(1)
	n, readErr, writeErr := pump(ctx, r, limit, sinks...)
	d.inflight.Add(-1)
	d.received.Add(n)
	var se *scanError
	switch {
	case errors.As(writeErr, &se):
		return nil, fmt.Errorf("%w: %v", ErrScanFailed, se.err)
	case writeErr != nil:
		return nil, writeErr
	case readErr != nil && ctx.Err() != nil:
		return nil, fmt.Errorf("%w: %v", ErrIncomplete, ctx.Err())
	case readErr != nil:
		return nil, fmt.Errorf("%w: reading the upload failed after %d bytes: %v", ErrIncomplete, n, readErr)
	case n > limit:
		return nil, limitErr
	case n == 0:
		return nil, fmt.Errorf("%w: the file has no content", ErrEmptyFile)
	case declared >= 0 && n < declared:
		return nil, fmt.Errorf("%w: %d of the announced %d bytes arrived", ErrIncomplete, n, declared)
	case declared >= 0 && n > declared:
		return nil, invalid("size", "%d bytes arrived but %d were announced", n, declared)
	}
	if in.blobBytes, err = seg.finish(); err != nil {
		return nil, err
	}
	if scan != nil {
		if err := verdict(scan); err != nil {
			return nil, err
		}
	}
	if sn.executable() && !d.pol.allowExec {
		return nil, fmt.Errorf("%w: the content is a program (executable), whatever its name says", ErrRefusedType)
	}
	in.size, in.sha256, in.mediaType = n, hex.EncodeToString(h.Sum(nil)), sn.mediaType()
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("filedrop: flush blob: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("filedrop: close blob: %w", err)
	}
	d.crash("ingest-synced")
	if err := d.markPending(ctx, in.fileID); err != nil {
		return nil, err
	}
	if err := d.install(tmp, in.fileID); err != nil {
		d.unmarkPending(in.fileID)
		return nil, err
	}
	installed = true
	d.crash("ingest-renamed")
	return in, nil
}

// verdict turns clamd's answer into an error unless the data was clean.
func verdict(s *clamav.Stream) error {
	res, err := s.Result()
	switch {
	case err != nil:
		return fmt.Errorf("%w: %v", ErrScanFailed, err)
	case !res.Clean:
		return &InfectedError{Signature: res.Signature}
	}
	return nil
}

// commitFile records an installed blob as a file of dropID, in one
// transaction with its audit record (ev, completed here) and extra (the
// resumable upload deletes its session there). The drop must still be a
// live draft with room for the file; if not, or on any error, nothing is
// recorded and the caller removes the blob.
func (d *Drops) commitFile(ctx context.Context, dropID, name string, in *ingested, maxFiles int, ev audit.Event, extra func(*sql.Tx) error) (*File, error) {
	// The blob is complete: a client that hangs up now still gets its file
	// committed, so the commit does not follow the request's cancellation.
	ctx = context.WithoutCancel(ctx)
	now := d.now()
	f := &File{ID: in.fileID, DropID: dropID, Name: name, Size: in.size, SHA256: in.sha256, MediaType: in.mediaType, CreatedAt: now}
	err := d.withTx(ctx, func(tx *sql.Tx) error {
		var state string
		var retain int64
		var count int
		err := tx.QueryRowContext(ctx, `SELECT state, retain_until, file_count FROM drops WHERE id = ?`, dropID).Scan(&state, &retain, &count)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return ErrNotFound
		case err != nil:
			return fmt.Errorf("filedrop: %w", err)
		case retain <= nanos(now):
			return ErrNotFound
		case state != string(StateDraft):
			return ErrNotDraft
		case count >= maxFiles:
			return fmt.Errorf("%w: a drop holds at most %d files", ErrTooManyFiles, maxFiles)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO drop_files (id, drop_id, name, size, sha256, media_type, segments, blob_bytes, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, f.ID, dropID, name, f.Size, f.SHA256, f.MediaType, in.segments, in.blobBytes, nanos(now)); err != nil {
			return fmt.Errorf("filedrop: record file: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE drops SET file_count = file_count + 1, total_bytes = total_bytes + ? WHERE id = ?`, f.Size, dropID); err != nil {
			return fmt.Errorf("filedrop: record file: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM pending_blobs WHERE file_id = ?`, f.ID); err != nil {
			return fmt.Errorf("filedrop: record file: %w", err)
		}
		if extra != nil {
			if err := extra(tx); err != nil {
				return err
			}
		}
		ev.Outcome = audit.Success
		ev.Subject = dropID
		ev.Detail = map[string]string{"file": f.ID, "name": name, "size": itoa(f.Size), "sha256": f.SHA256, "type": f.MediaType}
		d.crash("commit-before")
		return d.appendAudit(ctx, ev)
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// reasonFor names an error in a failure record.
func reasonFor(err error) string {
	if IsStorageFull(err) {
		return reasonStorageFull
	}
	for _, c := range []struct {
		target error
		reason string
	}{
		{ErrNotFound, reasonNotFound},
		{ErrTooLarge, reasonTooLarge},
		{ErrTooManyFiles, reasonTooMany},
		{ErrEmptyFile, reasonEmpty},
		{ErrRefusedType, reasonType},
		{ErrInfected, reasonInfected},
		{ErrScanFailed, reasonScanFailed},
		{ErrIncomplete, reasonIncomplete},
		{ErrCorrupt, reasonCorrupt},
		{ErrNotDraft, "not_draft"},
		{ErrInvalid, "invalid"},
		{ErrLinkUnavailable, reasonUnavailable},
		{ErrWrongPassphrase, reasonPassphrase},
		{ErrRateLimited, reasonRateLimited},
		{ErrOffset, "offset"},
		{ErrNoFiles, "no_files"},
	} {
		if errors.Is(err, c.target) {
			return c.reason
		}
	}
	return "error"
}
