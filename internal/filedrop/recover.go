package filedrop

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hubkit/hubkit/internal/audit"
)

// RecoverResult counts what Recover cleaned up.
type RecoverResult struct {
	TempRemoved    int // temporary blobs of single-shot uploads cut off by a crash
	OrphansRemoved int // proven orphans removed: part files without an upload, blobs of uncommitted uploads (pending_blobs)
	Quarantined    int // blobs nothing in the store explains: moved to <data>/quarantine, never deleted
	PartsRestored  int // finished uploads put back as parts (crash between rename and commit)
	PartsTrimmed   int // part files cut back to their last committed segment
	LinkUploads    int // link submissions a crash interrupted (their links stay usable)
	FormDrafts     int // one-shot drafts (plain form posts) a crash interrupted
	Purged         int // ended drops whose purge a crash interrupted
	Missing        int // committed files whose blob is missing (logged: data loss)
}

// Recover brings the blobs directory and the metadata back into agreement
// after a crash. Open runs it; it is safe to run again at any time the
// engine is idle. The write protocol makes every crash leave one of these
// states, each handled here:
//
//   - a temporary blob (<id>.age.tmp-*): an AddFile that never got to its
//     rename; removed.
//   - a blob (<id>.age) without a drop_files row: renamed but never
//     committed. If a resumable upload still owns that file id, the blob
//     is its finished part and is put back as <id>.age.part, so the client
//     can call FinishUpload again; if pending_blobs names it, it is the
//     orphan of an upload whose commit never came, and is removed.
//     Otherwise nothing proves what it is (a store restored from an older
//     backup, a blob copied in by hand): it is moved to quarantine, with an
//     error in the log, and never deleted.
//   - a part file (<id>.age.part) without an upload session: removed; with
//     one, cut back to the last segment the session committed (a chunk
//     the crash interrupted is discarded, the client resumes from
//     UploadOffset).
//   - a link submission in progress: its draft is abandoned and the link
//     released, so the person can submit again.
//   - a one-shot draft (a plain form post in progress): abandoned, its
//     committed files deleted; the sender sends again.
//   - an ended drop not yet purged: purged.
//
// Nothing visible changes: no drop becomes visible or loses a committed file.
func (d *Drops) Recover(ctx context.Context) (RecoverResult, error) {
	var res RecoverResult
	n, err := d.recoverLinkUploads(ctx)
	res.LinkUploads = n
	if err != nil {
		return res, err
	}
	if res.FormDrafts, err = d.recoverOneShotDrafts(ctx); err != nil {
		return res, err
	}
	if res.Purged, _, _, err = d.purgeEnded(ctx); err != nil {
		return res, err
	}
	dirs, err := os.ReadDir(d.blobs)
	if err != nil {
		return res, fmt.Errorf("filedrop: recover: %w", err)
	}
	for _, de := range dirs {
		if !de.IsDir() || !isFanOutDir(de.Name()) {
			continue
		}
		dir := filepath.Join(d.blobs, de.Name())
		entries, err := os.ReadDir(dir)
		if err != nil {
			return res, fmt.Errorf("filedrop: recover: %w", err)
		}
		changed := false
		for _, e := range entries {
			c, err := d.recoverFile(ctx, dir, e.Name(), &res)
			if err != nil {
				return res, err
			}
			changed = changed || c
		}
		if changed {
			if err := syncDir(dir); err != nil {
				return res, err
			}
		}
	}
	if err := d.forgetPending(ctx); err != nil {
		return res, err
	}
	if res.Missing, err = d.countMissing(ctx); err != nil {
		return res, err
	}
	if res.Quarantined > 0 {
		d.logger.Error("filedrop: blobs that no drop, upload or pending commit explains were moved to quarantine, not deleted; "+
			"check whether the store (hub.db) is older than the blobs (restored from an older backup?) and restore the matching one",
			"quarantined", res.Quarantined, "dir", d.quarantineDir())
	}
	if res != (RecoverResult{}) {
		d.logger.Info("filedrop: recovered after an unclean stop", "temp_removed", res.TempRemoved,
			"orphans_removed", res.OrphansRemoved, "quarantined", res.Quarantined, "parts_restored", res.PartsRestored, "parts_trimmed", res.PartsTrimmed,
			"link_uploads", res.LinkUploads, "purged", res.Purged, "missing", res.Missing)
	}
	return res, nil
}

// recoverFile handles one file of a blob directory; changed says whether
// the directory changed.
func (d *Drops) recoverFile(ctx context.Context, dir, name string, res *RecoverResult) (changed bool, err error) {
	path := filepath.Join(dir, name)
	switch {
	case strings.Contains(name, tmpInfix):
		res.TempRemoved++
		return true, removeIfExists(path)

	case strings.HasSuffix(name, partSuffix):
		id := strings.TrimSuffix(name, partSuffix)
		if !validID(id) {
			return false, nil
		}
		var blobBytes int64
		err := d.db.QueryRowContext(ctx, `SELECT blob_bytes FROM upload_sessions WHERE file_id = ?`, id).Scan(&blobBytes)
		if errors.Is(err, sql.ErrNoRows) {
			res.OrphansRemoved++
			return true, removeIfExists(path)
		}
		if err != nil {
			return false, fmt.Errorf("filedrop: recover: %w", err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			return false, fmt.Errorf("filedrop: recover: %w", err)
		}
		if fi.Size() > blobBytes {
			if err := truncateSync(path, blobBytes); err != nil {
				return false, err
			}
			res.PartsTrimmed++
		}
		return false, nil

	case strings.HasSuffix(name, blobSuffix):
		id := strings.TrimSuffix(name, blobSuffix)
		if !validID(id) {
			return false, nil
		}
		var one int
		err := d.db.QueryRowContext(ctx, `SELECT 1 FROM drop_files WHERE id = ?`, id).Scan(&one)
		if err == nil {
			return false, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return false, fmt.Errorf("filedrop: recover: %w", err)
		}
		err = d.db.QueryRowContext(ctx, `SELECT 1 FROM upload_sessions WHERE file_id = ?`, id).Scan(&one)
		if err == nil {
			if err := os.Rename(path, d.partPath(id)); err != nil {
				return false, fmt.Errorf("filedrop: recover: %w", err)
			}
			res.PartsRestored++
			return true, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return false, fmt.Errorf("filedrop: recover: %w", err)
		}
		err = d.db.QueryRowContext(ctx, `SELECT 1 FROM pending_blobs WHERE file_id = ?`, id).Scan(&one)
		if err == nil {
			res.OrphansRemoved++
			if err := removeIfExists(path); err != nil {
				return false, err
			}
			if _, err := d.db.ExecContext(ctx, `DELETE FROM pending_blobs WHERE file_id = ?`, id); err != nil {
				return false, fmt.Errorf("filedrop: recover: %w", err)
			}
			return true, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return false, fmt.Errorf("filedrop: recover: %w", err)
		}
		res.Quarantined++
		return true, d.quarantine(path)
	}
	return false, nil
}

// quarantineDir is where Recover moves blobs it cannot explain; one
// directory per hub process start, next to blobs/.
func (d *Drops) quarantineDir() string {
	if d.quarantineAt == "" {
		d.quarantineAt = d.now().Format("20060102T150405Z")
	}
	return filepath.Join(filepath.Dir(d.blobs), QuarantineDir, d.quarantineAt)
}

// QuarantineDir holds, below the data directory, blobs Recover could not
// explain. The hub never deletes anything there; see docs/operations.md.
const QuarantineDir = "quarantine"

func (d *Drops) quarantine(path string) error {
	dir := d.quarantineDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("filedrop: recover: quarantine: %w", err)
	}
	if err := os.Rename(path, filepath.Join(dir, filepath.Base(path))); err != nil {
		return fmt.Errorf("filedrop: recover: quarantine: %w", err)
	}
	d.logger.Error("filedrop: moved an unexplained blob to quarantine", "blob", filepath.Base(path), "dir", dir)
	return syncDir(dir)
}

// forgetPending removes pending_blobs rows that no longer need to prove
// anything: their blob is gone (the upload failed and cleaned up, or
// Recover removed it).
func (d *Drops) forgetPending(ctx context.Context) error {
	rows, err := d.db.QueryContext(ctx, `SELECT file_id FROM pending_blobs`)
	if err != nil {
		return fmt.Errorf("filedrop: recover: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("filedrop: recover: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("filedrop: recover: %w", err)
	}
	for _, id := range ids {
		if validID(id) {
			if _, err := os.Stat(d.blobPath(id)); err == nil {
				continue
			}
		}
		if _, err := d.db.ExecContext(ctx, `DELETE FROM pending_blobs WHERE file_id = ?`, id); err != nil {
			return fmt.Errorf("filedrop: recover: %w", err)
		}
	}
	return nil
}

// recoverOneShotDrafts abandons drafts whose request ended with the
// process: their sender never got an answer, so nothing of them may stay.
func (d *Drops) recoverOneShotDrafts(ctx context.Context) (int, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT id, sender_key, case_ref FROM drops WHERE state = 'draft' AND one_shot = 1 AND link_id = ''`)
	if err != nil {
		return 0, fmt.Errorf("filedrop: recover: %w", err)
	}
	type draft struct{ id, sender, caseRef string }
	var list []draft
	for rows.Next() {
		var dr draft
		if err := rows.Scan(&dr.id, &dr.sender, &dr.caseRef); err != nil {
			rows.Close()
			return 0, fmt.Errorf("filedrop: recover: %w", err)
		}
		list = append(list, dr)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("filedrop: recover: %w", err)
	}
	for _, dr := range list {
		ev := audit.Event{Type: EventExpire, Outcome: audit.Success, Actor: dr.sender, Reason: reasonInterrupted,
			Case: dr.caseRef, Subject: dr.id}
		if err := d.withTx(ctx, func(tx *sql.Tx) error { return d.endTx(ctx, tx, dr.id, StateAbandoned, ev) }); err != nil {
			return 0, fmt.Errorf("filedrop: recover: %w", err)
		}
	}
	return len(list), nil
}

// recoverLinkUploads abandons link submissions that were in progress when
// the process stopped, and releases their links.
func (d *Drops) recoverLinkUploads(ctx context.Context) (int, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT id, link_id, case_ref FROM drops WHERE state = 'draft' AND link_id <> ''`)
	if err != nil {
		return 0, fmt.Errorf("filedrop: recover: %w", err)
	}
	type draft struct{ id, link, caseRef string }
	var list []draft
	for rows.Next() {
		var dr draft
		if err := rows.Scan(&dr.id, &dr.link, &dr.caseRef); err != nil {
			rows.Close()
			return 0, fmt.Errorf("filedrop: recover: %w", err)
		}
		list = append(list, dr)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("filedrop: recover: %w", err)
	}
	for _, dr := range list {
		ev := audit.Event{Type: EventLinkUse, Outcome: audit.Failure, Actor: linkActor(dr.link), Reason: reasonInterrupted,
			Case: dr.caseRef, Subject: dr.link, Detail: map[string]string{"drop": dr.id}}
		err := d.withTx(ctx, func(tx *sql.Tx) error {
			if err := d.endTx(ctx, tx, dr.id, StateAbandoned, ev); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `UPDATE upload_links SET claimed_at = 0 WHERE id = ? AND spent_at = 0`, dr.link)
			return err
		})
		if err != nil {
			return 0, fmt.Errorf("filedrop: recover: %w", err)
		}
	}
	// Claims without a draft (the crash came before the draft was written).
	if _, err := d.db.ExecContext(ctx, `UPDATE upload_links SET claimed_at = 0 WHERE claimed_at <> 0 AND spent_at = 0`); err != nil {
		return 0, fmt.Errorf("filedrop: recover: %w", err)
	}
	return len(list), nil
}

// countMissing counts committed files whose blob is gone, and logs each:
// the engine never causes that, so it means lost or tampered storage.
func (d *Drops) countMissing(ctx context.Context) (int, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT f.id, f.drop_id FROM drop_files f JOIN drops d ON d.id = f.drop_id
		WHERE d.state IN ('draft', 'sealed')`)
	if err != nil {
		return 0, fmt.Errorf("filedrop: recover: %w", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id, drop string
		if err := rows.Scan(&id, &drop); err != nil {
			return n, fmt.Errorf("filedrop: recover: %w", err)
		}
		if !validID(id) {
			continue
		}
		if _, err := os.Stat(d.blobPath(id)); errors.Is(err, fs.ErrNotExist) {
			d.logger.Error("filedrop: a stored file's blob is missing; restore it from backup", "drop", drop, "file", id)
			n++
		}
	}
	return n, rows.Err()
}

// isFanOutDir reports whether name is one of the 256 blob directories
// (two lower-case hex digits).
func isFanOutDir(name string) bool {
	return len(name) == 2 && isLowerHex(name[0]) && isLowerHex(name[1])
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("filedrop: recover: %w", err)
	}
	return nil
}

func truncateSync(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("filedrop: recover: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("filedrop: recover: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("filedrop: recover: %w", err)
	}
	return nil
}
