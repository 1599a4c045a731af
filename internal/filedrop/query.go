package filedrop

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// querier is what both *sql.DB and *sql.Tx offer.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// dropRow is one row of drops.
type dropRow struct {
	id, state                          string
	senderKey, senderName, senderEmail string
	senderKommune                      int
	linkID, caseRef, purpose           string
	purposeText, message               string
	createdAt, sealedAt, retainUntil   int64
	endedAt, purgedAt                  int64
	fileCount                          int
	totalBytes                         int64
	origin                             string
}

const dropCols = `id, state, sender_key, sender_name, sender_email, sender_kommune, link_id, case_ref, purpose,
	purpose_text, message, created_at, sealed_at, retain_until, ended_at, purged_at, file_count, total_bytes, origin`

func scanDrop(sc interface{ Scan(...any) error }) (*dropRow, error) {
	var r dropRow
	err := sc.Scan(&r.id, &r.state, &r.senderKey, &r.senderName, &r.senderEmail, &r.senderKommune, &r.linkID,
		&r.caseRef, &r.purpose, &r.purposeText, &r.message, &r.createdAt, &r.sealedAt, &r.retainUntil,
		&r.endedAt, &r.purgedAt, &r.fileCount, &r.totalBytes, &r.origin)
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// live reports whether the drop may still be seen at all at time now (in
// nanoseconds): not ended, and not past its retention even if the sweeper
// has not come round yet.
func (r *dropRow) live(now int64) bool {
	return (r.state == string(StateDraft) || r.state == string(StateSealed)) && r.retainUntil > now
}

// role is how an actor relates to a drop.
type role int

const (
	roleNone role = iota
	roleSender
	roleRecipient
)

func (r role) String() string {
	switch r {
	case roleSender:
		return "sender"
	case roleRecipient:
		return "recipient"
	}
	return "none"
}

// access loads a drop the actor may see, and says as whom. A sender sees
// their drafts and sealed drops; a recipient sees sealed drops only. All
// else, including ended and expired drops, is ErrNotFound.
func (d *Drops) access(ctx context.Context, q querier, a Actor, dropID string) (*dropRow, role, error) {
	if !validID(dropID) || checkActor(a) != nil {
		return nil, roleNone, ErrNotFound
	}
	r, err := scanDrop(q.QueryRowContext(ctx, `SELECT `+dropCols+` FROM drops WHERE id = ?`, dropID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, roleNone, ErrNotFound
	}
	if err != nil {
		return nil, roleNone, fmt.Errorf("filedrop: %w", err)
	}
	if !r.live(d.now().UnixNano()) {
		return nil, roleNone, ErrNotFound
	}
	if r.senderKey == a.UserKey {
		return r, roleSender, nil
	}
	if r.state != string(StateSealed) {
		return nil, roleNone, ErrNotFound
	}
	var one int
	err = q.QueryRowContext(ctx, `SELECT 1 FROM drop_recipients WHERE drop_id = ? AND user_key = ?`, dropID, a.UserKey).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, roleNone, ErrNotFound
	}
	if err != nil {
		return nil, roleNone, fmt.Errorf("filedrop: %w", err)
	}
	return r, roleRecipient, nil
}

// senderDraft loads a drop that the actor sent and that is still a draft:
// the only kind that takes files.
func (d *Drops) senderDraft(ctx context.Context, q querier, a Actor, dropID string) (*dropRow, error) {
	r, as, err := d.access(ctx, q, a, dropID)
	if err != nil {
		return nil, err
	}
	if as != roleSender {
		// A recipient may know the drop exists, but it is not theirs to change.
		return nil, ErrNotFound
	}
	if r.state != string(StateDraft) {
		return nil, ErrNotDraft
	}
	return r, nil
}

// toDrop builds the view of r for an actor in role as.
func (d *Drops) toDrop(ctx context.Context, q querier, r *dropRow, as role) (*Drop, error) {
	dr := &Drop{
		ID:    r.id,
		State: State(r.state),
		Sender: Sender{
			UserKey: r.senderKey, Name: r.senderName, Email: r.senderEmail,
			Kommune: r.senderKommune, LinkID: r.linkID, Region: r.origin,
		},
		CaseRef:     r.caseRef,
		Purpose:     Purpose(r.purpose),
		PurposeText: r.purposeText,
		Message:     r.message,
		CreatedAt:   fromNanos(r.createdAt),
		SealedAt:    fromNanos(r.sealedAt),
		RetainUntil: fromNanos(r.retainUntil),
	}
	files, err := d.files(ctx, q, r.id)
	if err != nil {
		return nil, err
	}
	dr.Files = files
	if as == roleSender {
		rows, err := q.QueryContext(ctx, `SELECT named, user_key, email, region FROM drop_recipients WHERE drop_id = ? ORDER BY named`, r.id)
		if err != nil {
			return nil, fmt.Errorf("filedrop: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var rc Recipient
			if err := rows.Scan(&rc.Named, &rc.UserKey, &rc.Email, &rc.Region); err != nil {
				return nil, fmt.Errorf("filedrop: %w", err)
			}
			dr.Recipients = append(dr.Recipients, rc)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("filedrop: %w", err)
		}
	}
	return dr, nil
}

// fileRow is one row of drop_files.
type fileRow struct {
	File
	segments  int
	blobBytes int64
}

const fileCols = `id, drop_id, name, size, sha256, media_type, created_at, segments, blob_bytes`

func scanFile(sc interface{ Scan(...any) error }) (*fileRow, error) {
	var f fileRow
	var created int64
	if err := sc.Scan(&f.ID, &f.DropID, &f.Name, &f.Size, &f.SHA256, &f.MediaType, &created, &f.segments, &f.blobBytes); err != nil {
		return nil, err
	}
	f.CreatedAt = fromNanos(created)
	return &f, nil
}

// files lists a drop's files in the order they were stored.
func (d *Drops) files(ctx context.Context, q querier, dropID string) ([]File, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+fileCols+` FROM drop_files WHERE drop_id = ? ORDER BY created_at, name, id`, dropID)
	if err != nil {
		return nil, fmt.Errorf("filedrop: %w", err)
	}
	defer rows.Close()
	var out []File
	for rows.Next() {
		f, err := scanFile(rows)
		if err != nil {
			return nil, fmt.Errorf("filedrop: %w", err)
		}
		out = append(out, f.File)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("filedrop: %w", err)
	}
	return out, nil
}

// listDrops runs a query returning dropCols and builds each drop for role as.
func (d *Drops) listDrops(ctx context.Context, as role, query string, args ...any) ([]*Drop, error) {
	rows, err := d.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("filedrop: %w", err)
	}
	var list []*dropRow
	for rows.Next() {
		r, err := scanDrop(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("filedrop: %w", err)
		}
		list = append(list, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("filedrop: %w", err)
	}
	out := make([]*Drop, 0, len(list))
	for _, r := range list {
		dr, err := d.toDrop(ctx, d.db, r, as)
		if err != nil {
			return nil, err
		}
		out = append(out, dr)
	}
	return out, nil
}
