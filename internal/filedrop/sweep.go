package filedrop

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hubkit/hubkit/internal/audit"
)

// AbandonAfter is how long a draft, or a resumable upload, may sit without
// activity before the sweeper deletes it.
const AbandonAfter = 24 * time.Hour

// SweepResult counts what one Sweep did.
type SweepResult struct {
	Expired   int   // drops that reached their retention date
	Abandoned int   // drafts without activity for AbandonAfter
	Purged    int   // drops whose files were deleted and metadata reduced (the above, withdrawals, interrupted link uploads)
	Files     int   // blobs deleted
	Bytes     int64 // plaintext bytes those blobs held
	Uploads   int   // abandoned resumable uploads removed
	Links     int   // expired upload links deleted
}

// Sweep deletes what has outlived its time as of now:
//
//   - drops past their retention date (sealed or draft) end as expired;
//   - drafts without activity for AbandonAfter end as abandoned;
//   - resumable uploads without a chunk for AbandonAfter are removed;
//   - every ended drop (expired, abandoned, withdrawn) is purged: its
//     blobs are deleted, then its metadata is reduced to a tombstone;
//   - upload links past their expiry are deleted.
//
// The tombstone keeps only what is not case content: the drop id, state,
// purpose category, link id, the dates (created, sealed, retain-until,
// ended, purged) and the number and total size of its files. Case
// reference, message, purpose text, sender, recipients and file names and
// hashes are deleted; the audit log keeps the record of who did what for
// which case, and that is what an export per case or person reads.
//
// Each ending is audited (EventExpire, by SystemActor) in the same
// transaction that makes the drop invisible. Sweep is idempotent and
// resumes work a crash interrupted: a drop that ended but was not purged
// is purged by the next Sweep (or by Recover at the next start).
func (d *Drops) Sweep(ctx context.Context, now time.Time) (SweepResult, error) {
	var res SweepResult
	now = now.UTC()
	cutoff := nanos(now.Add(-AbandonAfter))

	ended, err := d.endWhere(ctx, StateExpired, reasonRetention,
		`state IN ('draft', 'sealed') AND retain_until <= ?`, nanos(now))
	res.Expired += ended
	if err != nil {
		return res, err
	}
	n, err := d.abandonUploads(ctx, cutoff)
	res.Uploads += n
	if err != nil {
		return res, err
	}
	ended, err = d.endWhere(ctx, StateAbandoned, reasonAbandoned,
		`state = 'draft' AND max(created_at,
			coalesce((SELECT max(f.created_at) FROM drop_files f WHERE f.drop_id = drops.id), 0),
			coalesce((SELECT max(s.updated_at) FROM upload_sessions s WHERE s.drop_id = drops.id), 0)) <= ?`, cutoff)
	res.Abandoned += ended
	if err != nil {
		return res, err
	}
	purged, files, bytes, err := d.purgeEnded(ctx)
	res.Purged, res.Files, res.Bytes = purged, files, bytes
	if err != nil {
		return res, err
	}
	res.Links, err = d.expireLinks(ctx, now)
	return res, err
}

// RunSweeper sweeps now and then every interval until ctx ends, logging
// what it did (counts only) and any error. It returns ctx's error.
func (d *Drops) RunSweeper(ctx context.Context, every time.Duration) error {
	if every <= 0 {
		return errors.New("filedrop: sweeper interval must be positive")
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		res, err := d.Sweep(ctx, d.now())
		switch {
		case err != nil && ctx.Err() == nil:
			d.logger.Error("filedrop: sweep failed; retrying at the next interval", "err", err)
		case res != (SweepResult{}):
			d.logger.Info("filedrop: sweep", "expired", res.Expired, "abandoned", res.Abandoned, "purged", res.Purged,
				"files", res.Files, "bytes", res.Bytes, "uploads", res.Uploads, "links", res.Links)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// endWhere ends every live drop matching cond (SQL over drops), one
// transaction and one audit record each.
func (d *Drops) endWhere(ctx context.Context, state State, reason, cond string, args ...any) (int, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT `+dropCols+` FROM drops WHERE `+cond, args...)
	if err != nil {
		return 0, fmt.Errorf("filedrop: sweep: %w", err)
	}
	var list []*dropRow
	for rows.Next() {
		r, err := scanDrop(rows)
		if err != nil {
			rows.Close()
			return 0, fmt.Errorf("filedrop: sweep: %w", err)
		}
		list = append(list, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("filedrop: sweep: %w", err)
	}
	n := 0
	for _, r := range list {
		ev := audit.Event{Type: EventExpire, Outcome: audit.Success, Actor: SystemActor, Reason: reason,
			Case: r.caseRef, Subject: r.id, Detail: map[string]string{
				"files": strconv.Itoa(r.fileCount), "bytes": itoa(r.totalBytes), "was": r.state,
				"retain_until": fromNanos(r.retainUntil).Format(time.RFC3339),
			}}
		if err := d.withTx(ctx, func(tx *sql.Tx) error { return d.endTx(ctx, tx, r.id, state, ev) }); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// endTx makes a live drop invisible by moving it to an ended state, and
// audits that in the same transaction. Its blobs go in purge, after the
// commit: deleting a file cannot be rolled back, so it comes only once
// the drop's end is certain.
func (d *Drops) endTx(ctx context.Context, tx *sql.Tx, id string, state State, ev audit.Event) error {
	res, err := tx.ExecContext(ctx, `UPDATE drops SET state = ?, ended_at = ? WHERE id = ? AND state IN ('draft', 'sealed')`,
		string(state), nanos(d.now()), id)
	if err != nil {
		return fmt.Errorf("filedrop: end drop: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrNotFound
	}
	if err := endForwardsTx(ctx, tx, id, state); err != nil {
		return err
	}
	return d.appendAudit(ctx, ev)
}

// purgeEnded purges every ended drop not yet purged.
func (d *Drops) purgeEnded(ctx context.Context) (drops, files int, bytes int64, err error) {
	rows, err := d.db.QueryContext(ctx, `SELECT id FROM drops WHERE state NOT IN ('draft', 'sealed') AND purged_at = 0`)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("filedrop: sweep: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, 0, 0, fmt.Errorf("filedrop: sweep: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, 0, 0, fmt.Errorf("filedrop: sweep: %w", err)
	}
	for _, id := range ids {
		f, b, err := d.purge(ctx, id)
		if err != nil {
			return drops, files, bytes, err
		}
		drops, files, bytes = drops+1, files+f, bytes+b
	}
	return drops, files, bytes, nil
}

// purge deletes an ended drop's blobs (files and open uploads), then
// reduces its metadata to the tombstone. If deleting a blob fails the
// metadata stays, so the next sweep tries again: metadata never points to
// nothing while a blob still exists.
func (d *Drops) purge(ctx context.Context, id string) (files int, bytes int64, err error) {
	var state string
	if err := d.db.QueryRowContext(ctx, `SELECT state FROM drops WHERE id = ?`, id).Scan(&state); err != nil {
		return 0, 0, fmt.Errorf("filedrop: purge: %w", err)
	}
	if state == string(StateDraft) || state == string(StateSealed) {
		return 0, 0, fmt.Errorf("filedrop: purge: drop %s is still %s", id, state)
	}
	rows, err := d.db.QueryContext(ctx, `SELECT id, size FROM drop_files WHERE drop_id = ?
		UNION ALL SELECT file_id, 0 FROM upload_sessions WHERE drop_id = ?`, id, id)
	if err != nil {
		return 0, 0, fmt.Errorf("filedrop: purge: %w", err)
	}
	type blob struct {
		id   string
		size int64
	}
	var blobs []blob
	for rows.Next() {
		var b blob
		if err := rows.Scan(&b.id, &b.size); err != nil {
			rows.Close()
			return 0, 0, fmt.Errorf("filedrop: purge: %w", err)
		}
		blobs = append(blobs, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, 0, fmt.Errorf("filedrop: purge: %w", err)
	}
	for _, b := range blobs {
		if !validID(b.id) {
			continue
		}
		if err := d.removeBlob(b.id); err != nil {
			return files, bytes, err
		}
		files++
		bytes += b.size
	}
	err = d.withTx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{
			`DELETE FROM drop_files WHERE drop_id = ?`,
			`DELETE FROM drop_recipients WHERE drop_id = ?`,
			`DELETE FROM upload_sessions WHERE drop_id = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return fmt.Errorf("filedrop: purge: %w", err)
			}
		}
		_, err := tx.ExecContext(ctx, `UPDATE drops SET sender_key = '', sender_name = '', sender_email = '',
			sender_kommune = 0, case_ref = '', purpose_text = '', message = '', purged_at = ?
			WHERE id = ? AND state NOT IN ('draft', 'sealed')`, nanos(d.now()), id)
		if err != nil {
			return fmt.Errorf("filedrop: purge: %w", err)
		}
		return nil
	})
	return files, bytes, err
}

// abandonUploads removes resumable uploads without a chunk since cutoff.
// An upload whose chunk is being written right now is left alone.
func (d *Drops) abandonUploads(ctx context.Context, cutoff int64) (int, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT s.id, s.file_id, s.drop_id, s.owner_key, d.case_ref
		FROM upload_sessions s JOIN drops d ON d.id = s.drop_id WHERE s.updated_at <= ?`, cutoff)
	if err != nil {
		return 0, fmt.Errorf("filedrop: sweep: %w", err)
	}
	type up struct{ id, fileID, dropID, owner, caseRef string }
	var list []up
	for rows.Next() {
		var u up
		if err := rows.Scan(&u.id, &u.fileID, &u.dropID, &u.owner, &u.caseRef); err != nil {
			rows.Close()
			return 0, fmt.Errorf("filedrop: sweep: %w", err)
		}
		list = append(list, u)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("filedrop: sweep: %w", err)
	}
	n := 0
	for _, u := range list {
		unlock, ok := d.uploads.tryLock(u.id)
		if !ok {
			continue
		}
		ev := audit.Event{Type: EventUploadAbort, Outcome: audit.Success, Actor: SystemActor, Reason: reasonAbandoned,
			Case: u.caseRef, Subject: u.dropID, Detail: map[string]string{"upload": u.id, "owner": u.owner}}
		err := d.removeUpload(ctx, u.id, u.fileID, ev)
		unlock()
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// removeUpload deletes an upload session (audited) and then its part file.
func (d *Drops) removeUpload(ctx context.Context, uploadID, fileID string, ev audit.Event) error {
	err := d.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM upload_sessions WHERE id = ?`, uploadID)
		if err != nil {
			return fmt.Errorf("filedrop: remove upload: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrNotFound
		}
		return d.appendAudit(ctx, ev)
	})
	if err != nil {
		return err
	}
	// Without its row the part file is an orphan; should this fail, Recover
	// removes it at the next start.
	if err := d.removeBlob(fileID); err != nil {
		d.logger.Error("filedrop: removing an abandoned upload's part file failed", "upload", uploadID, "err", err)
	}
	return nil
}
