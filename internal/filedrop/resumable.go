package filedrop

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"

	"filippo.io/age"

	"github.com/hubkit/hubkit/internal/audit"
)

// Resumable uploads let a large file survive a dropped connection without
// its plaintext ever reaching the disk. The client announces the file
// (BeginUpload), sends it in chunks at the offset the engine has (WriteChunk,
// any size, in order), asks where it stands after a failure (UploadOffset),
// and ends with FinishUpload. This is the engine half of a tus-like
// protocol (Upload-Offset, PATCH at that offset, HEAD to resume); the HTTP
// layer maps it.
//
// Each chunk becomes one age segment appended to the upload's part file,
// flushed, and only then counted in the session row, so a crash or a cut
// connection loses at most the chunk in flight; bytes of a cut chunk that
// did arrive are kept, as tus does. The running SHA-256 of the plaintext is
// kept in the row as its marshalled state (encoding.BinaryMarshaler), so
// resuming never needs plaintext already sent. That state holds up to 63
// bytes of not-yet-hashed plaintext, so it is stored age-encrypted too.

// UploadStatus is where a resumable upload stands.
type UploadStatus struct {
	ID     string
	DropID string
	Name   string
	Size   int64 // announced total
	Offset int64 // bytes stored so far; the next chunk starts here
}

// BeginUpload announces a file of totalSize bytes for a draft drop of the
// actor's and returns the upload's id. The announced size counts against
// the policy at once, and the upload holds one of the drop's file places
// until it is finished or aborted.
func (d *Drops) BeginUpload(ctx context.Context, a Actor, dropID, name string, totalSize int64) (string, error) {
	if err := checkActor(a); err != nil {
		return "", err
	}
	ev := actorEvent(EventUpload, a)
	ev.Subject = idOrMalformed(dropID)
	fail := func(err error) (string, error) {
		ev.Reason = reasonFor(err)
		d.auditFailure(ctx, ev)
		return "", err
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
	if totalSize < 0 {
		return fail(invalid("size", "a resumable upload must announce its size"))
	}
	if err := d.checkDeclared(totalSize); err != nil {
		return fail(err)
	}
	if err := d.checkRoom(ctx, dropID, d.pol.maxFiles); err != nil {
		return fail(err)
	}
	if err := d.checkSpace(totalSize); err != nil {
		return fail(err)
	}
	uploadID, fileID := newID(), newID()
	if err := d.createPart(fileID); err != nil {
		return "", err
	}
	state, err := d.sealHashState(sha256.New())
	if err != nil {
		d.removeBlob(fileID)
		return "", err
	}
	now := nanos(d.now())
	_, err = d.db.ExecContext(ctx, `INSERT INTO upload_sessions (id, drop_id, owner_key, file_id, name, total_size,
		committed, blob_bytes, segments, hash_state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?, 0, ?, ?, ?)`,
		uploadID, dropID, a.UserKey, fileID, clean, totalSize, len(blobMagic), state, now, now)
	if err != nil {
		d.removeBlob(fileID)
		return "", fmt.Errorf("filedrop: begin upload: %w", err)
	}
	return uploadID, nil
}

// createPart creates an upload's part file holding just the blob header.
func (d *Drops) createPart(fileID string) error {
	if err := os.MkdirAll(d.blobDir(fileID), 0o700); err != nil {
		return fmt.Errorf("filedrop: %w", err)
	}
	f, err := os.OpenFile(d.partPath(fileID), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("filedrop: begin upload: %w", err)
	}
	err = writeMagic(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncDir(d.blobDir(fileID))
	}
	if err != nil {
		os.Remove(d.partPath(fileID))
		return fmt.Errorf("filedrop: begin upload: %w", err)
	}
	return nil
}

// session is one row of upload_sessions.
type session struct {
	id, dropID, owner, fileID, name string
	total, committed, blobBytes     int64
	segments                        int
	hashState                       []byte
	updatedAt                       int64
}

// loadSession returns the actor's open upload; anyone else's is ErrNotFound.
func (d *Drops) loadSession(ctx context.Context, q querier, a Actor, uploadID string) (*session, error) {
	if !validID(uploadID) || checkActor(a) != nil {
		return nil, ErrNotFound
	}
	var s session
	err := q.QueryRowContext(ctx, `SELECT id, drop_id, owner_key, file_id, name, total_size, committed, blob_bytes,
		segments, hash_state, updated_at FROM upload_sessions WHERE id = ? AND owner_key = ?`, uploadID, a.UserKey).Scan(
		&s.id, &s.dropID, &s.owner, &s.fileID, &s.name, &s.total, &s.committed, &s.blobBytes, &s.segments, &s.hashState, &s.updatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("filedrop: %w", err)
	}
	return &s, nil
}

// UploadOffset returns how many bytes of the upload are stored: after a
// dropped connection, the client sends the rest from there.
func (d *Drops) UploadOffset(ctx context.Context, a Actor, uploadID string) (int64, error) {
	s, err := d.loadSession(ctx, d.db, a, uploadID)
	if err != nil {
		return 0, err
	}
	return s.committed, nil
}

// Uploads lists the actor's open uploads to a drop, so a client that lost
// its state (a reloaded page) can resume them.
func (d *Drops) Uploads(ctx context.Context, a Actor, dropID string) ([]UploadStatus, error) {
	if _, err := d.senderDraft(ctx, d.db, a, dropID); err != nil {
		return nil, err
	}
	rows, err := d.db.QueryContext(ctx, `SELECT id, name, total_size, committed FROM upload_sessions
		WHERE drop_id = ? AND owner_key = ? ORDER BY created_at, id`, dropID, a.UserKey)
	if err != nil {
		return nil, fmt.Errorf("filedrop: %w", err)
	}
	defer rows.Close()
	var out []UploadStatus
	for rows.Next() {
		u := UploadStatus{DropID: dropID}
		if err := rows.Scan(&u.ID, &u.Name, &u.Size, &u.Offset); err != nil {
			return nil, fmt.Errorf("filedrop: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// WriteChunk appends the bytes of r to the upload, which must stand at
// offset (otherwise an *OffsetError says where it does). It returns the
// new offset. If r fails part-way (the connection dropped), the bytes that
// arrived are kept and the error is returned with the offset to resume
// from. Chunks of one upload are serialised: a chunk sent while an earlier
// one is still being written waits for it.
func (d *Drops) WriteChunk(ctx context.Context, a Actor, uploadID string, offset int64, r io.Reader) (int64, error) {
	if !validID(uploadID) {
		return 0, ErrNotFound
	}
	unlock, err := d.uploads.lock(ctx, uploadID)
	if err != nil {
		return 0, err
	}
	defer unlock()
	s, err := d.loadSession(ctx, d.db, a, uploadID)
	if err != nil {
		return 0, err
	}
	if _, err := d.senderDraft(ctx, d.db, a, s.dropID); err != nil {
		return 0, err
	}
	if offset != s.committed {
		return s.committed, &OffsetError{Got: offset, Want: s.committed}
	}
	remaining := s.total - s.committed
	if err := d.checkSpace(remaining); err != nil {
		return s.committed, err
	}
	h, err := d.openHashState(s.hashState)
	if err != nil {
		return s.committed, err
	}
	f, err := os.OpenFile(d.partPath(s.fileID), os.O_RDWR, 0)
	if err != nil {
		return s.committed, fmt.Errorf("%w: upload's part file: %v", ErrCorrupt, err)
	}
	defer f.Close()
	// Whatever lies past the committed segments is a chunk a crash cut off.
	if err := f.Truncate(s.blobBytes); err != nil {
		return s.committed, fmt.Errorf("filedrop: %w", err)
	}
	seg, err := beginSegment(f, s.blobBytes, d.to)
	if err != nil {
		return s.committed, err
	}
	defer seg.abort()
	d.inflight.Add(1)
	n, readErr, writeErr := pump(ctx, r, remaining, seg, h)
	d.inflight.Add(-1)
	d.received.Add(n)
	discard := func(err error) (int64, error) {
		seg.abort() // no write may land after the truncation
		f.Truncate(s.blobBytes)
		return s.committed, err
	}
	switch {
	case writeErr != nil:
		return discard(writeErr)
	case n > remaining:
		return discard(fmt.Errorf("%w: the chunk goes past the announced size of %d bytes", ErrTooLarge, s.total))
	case n == 0:
		if readErr != nil {
			return discard(fmt.Errorf("%w: no bytes arrived: %v", ErrIncomplete, readErr))
		}
		return discard(nil)
	}
	end, err := seg.finish()
	if err != nil {
		return discard(err)
	}
	if err := f.Sync(); err != nil {
		return discard(fmt.Errorf("filedrop: flush part: %w", err))
	}
	d.crash("chunk-synced")
	state, err := d.sealHashState(h)
	if err != nil {
		return discard(err)
	}
	// The bytes are on disk: record them even if the client has gone.
	cctx := context.WithoutCancel(ctx)
	res, err := d.db.ExecContext(cctx, `UPDATE upload_sessions SET committed = ?, blob_bytes = ?, segments = segments + 1,
		hash_state = ?, updated_at = ? WHERE id = ? AND committed = ?`,
		s.committed+n, end, state, nanos(d.now()), s.id, s.committed)
	if err == nil {
		if k, _ := res.RowsAffected(); k != 1 {
			err = errors.New("the upload changed underneath")
		}
	}
	if err != nil {
		return discard(fmt.Errorf("filedrop: record chunk: %w", err))
	}
	offset = s.committed + n
	if readErr != nil {
		return offset, fmt.Errorf("%w: the chunk was cut off; %d bytes of it are stored, resume from offset %d: %v", ErrIncomplete, n, offset, readErr)
	}
	return offset, nil
}

// FinishUpload commits a completely sent upload as a file of its drop. With
// a scanner configured, the stored file is decrypted once more and streamed
// to clamd (a scan cannot span a dropped connection, so it runs on the
// whole file here); that pass also checks the SHA-256 against the one
// computed while the chunks arrived.
func (d *Drops) FinishUpload(ctx context.Context, a Actor, uploadID string) (*File, error) {
	if !validID(uploadID) {
		return nil, ErrNotFound
	}
	unlock, err := d.uploads.lock(ctx, uploadID)
	if err != nil {
		return nil, err
	}
	defer unlock()
	s, err := d.loadSession(ctx, d.db, a, uploadID)
	if err != nil {
		return nil, err
	}
	ev := actorEvent(EventUpload, a)
	ev.Subject = s.dropID
	ev.Detail = map[string]string{"name": s.name, "upload": s.id}
	fail := func(err error) (*File, error) {
		ev.Reason = reasonFor(err)
		d.auditFailure(ctx, ev)
		return nil, err
	}
	row, err := d.senderDraft(ctx, d.db, a, s.dropID)
	if err != nil {
		return fail(err)
	}
	ev.Case = row.caseRef
	if s.committed != s.total {
		return fail(fmt.Errorf("%w: %d of %d bytes are stored; send the rest from offset %d", ErrIncomplete, s.committed, s.total, s.committed))
	}
	h, err := d.openHashState(s.hashState)
	if err != nil {
		return fail(err)
	}
	in := &ingested{fileID: s.fileID, size: s.total, sha256: hex.EncodeToString(h.Sum(nil)), segments: s.segments, blobBytes: s.blobBytes}
	if in.mediaType, err = d.inspectPart(ctx, in); err != nil {
		if errors.Is(err, ErrInfected) || errors.Is(err, ErrRefusedType) || errors.Is(err, ErrCorrupt) {
			// The content itself is refused: the upload is over.
			d.dropSession(ctx, s)
		}
		return fail(err)
	}
	if err := os.Rename(d.partPath(s.fileID), d.blobPath(s.fileID)); err != nil {
		return fail(fmt.Errorf("filedrop: install blob: %w", err))
	}
	if err := syncDir(d.blobDir(s.fileID)); err != nil {
		return fail(err)
	}
	d.crash("finish-renamed")
	f, err := d.commitFile(ctx, s.dropID, s.name, in, d.pol.maxFiles, ev, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM upload_sessions WHERE id = ?`, s.id)
		return err
	})
	if err != nil {
		// Put the part back so the client can retry; if the drop is gone,
		// the sweeper removes the upload with it.
		os.Rename(d.blobPath(s.fileID), d.partPath(s.fileID))
		syncDir(d.blobDir(s.fileID))
		return fail(err)
	}
	return f, nil
}

// inspectPart reads the finished part: always its first bytes, for the
// media type and the executable check; with a scanner, all of it, through
// clamd, checking size and SHA-256 on the way.
func (d *Drops) inspectPart(ctx context.Context, in *ingested) (mediaType string, err error) {
	br, err := openBlob(d.partPath(in.fileID), d.id, true, in.size, in.sha256)
	if err != nil {
		return "", err
	}
	defer br.Close()
	sn := &sniffer{}
	if d.opts.Scanner == nil {
		if _, err := io.CopyN(sn, br, sniffLen); err != nil && err != io.EOF {
			return "", err
		}
	} else {
		scan, err := d.opts.Scanner.NewStream(ctx)
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrScanFailed, err)
		}
		defer scan.Close()
		_, readErr, writeErr := pump(ctx, br, in.size, sn, scanWriter{scan})
		var se *scanError
		switch {
		case errors.As(writeErr, &se):
			return "", fmt.Errorf("%w: %v", ErrScanFailed, se.err)
		case writeErr != nil:
			return "", writeErr
		case readErr != nil:
			return "", readErr
		}
		if err := verdict(scan); err != nil {
			return "", err
		}
	}
	if sn.executable() && !d.pol.allowExec {
		return "", fmt.Errorf("%w: the content is a program (executable), whatever its name says", ErrRefusedType)
	}
	return sn.mediaType(), nil
}

// AbortUpload gives up an upload and deletes what was stored of it.
func (d *Drops) AbortUpload(ctx context.Context, a Actor, uploadID string) error {
	if !validID(uploadID) {
		return ErrNotFound
	}
	unlock, err := d.uploads.lock(ctx, uploadID)
	if err != nil {
		return err
	}
	defer unlock()
	s, err := d.loadSession(ctx, d.db, a, uploadID)
	if err != nil {
		return err
	}
	return d.dropSession(ctx, s)
}

// dropSession removes an upload (audited as aborted) and its part file.
func (d *Drops) dropSession(ctx context.Context, s *session) error {
	var caseRef string
	d.db.QueryRowContext(ctx, `SELECT case_ref FROM drops WHERE id = ?`, s.dropID).Scan(&caseRef)
	ev := audit.Event{Type: EventUploadAbort, Outcome: audit.Success, Actor: s.owner, Case: caseRef, Subject: s.dropID,
		Detail: map[string]string{"upload": s.id, "name": s.name, "stored": itoa(s.committed), "size": itoa(s.total)}}
	return d.removeUpload(context.WithoutCancel(ctx), s.id, s.fileID, ev)
}

// sealHashState marshals a SHA-256 state and encrypts it to the hub.
func (d *Drops) sealHashState(h hash.Hash) ([]byte, error) {
	m, ok := h.(encoding.BinaryMarshaler)
	if !ok {
		return nil, errors.New("filedrop: SHA-256 state cannot be saved")
	}
	state, err := m.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("filedrop: save hash state: %w", err)
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, d.to)
	if err != nil {
		return nil, fmt.Errorf("filedrop: save hash state: %w", err)
	}
	w.Write(state)
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("filedrop: save hash state: %w", err)
	}
	return buf.Bytes(), nil
}

// openHashState restores a SHA-256 from sealHashState's output.
func (d *Drops) openHashState(b []byte) (hash.Hash, error) {
	r, err := age.Decrypt(bytes.NewReader(b), d.id)
	if err != nil {
		return nil, fmt.Errorf("%w: upload hash state: %v", ErrCorrupt, err)
	}
	state, err := io.ReadAll(io.LimitReader(r, 1024))
	if err != nil {
		return nil, fmt.Errorf("%w: upload hash state: %v", ErrCorrupt, err)
	}
	h := sha256.New()
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
		return nil, fmt.Errorf("%w: upload hash state: %v", ErrCorrupt, err)
	}
	return h, nil
}
