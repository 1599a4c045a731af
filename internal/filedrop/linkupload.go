package filedrop

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/hubkit/hubkit/internal/audit"
)

// CheckLink tells the upload page whether a token is usable and what it
// allows, without using it up. It is rate-limited like LinkUpload.
func (d *Drops) CheckLink(ctx context.Context, token, ip string) (*LinkInfo, error) {
	if !d.links.allow(ip) {
		return nil, ErrRateLimited
	}
	l, err := d.lookupLink(ctx, token)
	if err != nil {
		return nil, err
	}
	if !l.usable(d.now()) || l.claimedAt != 0 {
		return nil, ErrLinkUnavailable
	}
	return &LinkInfo{MaxFiles: l.MaxFiles, MaxBytes: l.MaxBytes, MaxFileBytes: min(d.pol.maxFileBytes, l.MaxBytes),
		ExpiresAt: l.ExpiresAt, NeedsPassphrase: l.HasPassphrase}, nil
}

// LinkUpload takes a submission through an upload link. The files are
// streamed and stored one by one exactly as AddFile stores them, into a
// draft only the engine knows; when the last has arrived the draft is
// sealed into the link owner's inbox and the link is spent, in one
// transaction. If anything fails, the draft and its files are deleted and
// the link stays usable (unless it expired meanwhile), so the person can
// try again; a wrong passphrase counts towards locking the link.
//
// Refusals say as little as possible: an unknown, expired, used,
// revoked or busy link is the one ErrLinkUnavailable.
func (d *Drops) LinkUpload(ctx context.Context, sub LinkSubmission, next FileSource) (*Receipt, error) {
	ev := audit.Event{Type: EventLinkUse, Outcome: audit.Failure, IP: sub.IP}
	if !d.links.allow(sub.IP) {
		return nil, ErrRateLimited
	}
	now := d.now()
	l, err := d.lookupLink(ctx, sub.Token)
	if err != nil {
		if errors.Is(err, ErrLinkUnavailable) {
			ev.Reason = reasonUnavailable
			ev.Detail = map[string]string{"token": "unknown"}
			d.auditFailure(ctx, ev)
		}
		return nil, err
	}
	ev.Actor, ev.Case, ev.Subject = linkActor(l.ID), l.CaseRef, l.ID
	if !l.usable(now) || l.claimedAt != 0 {
		ev.Reason = reasonUnavailable
		ev.Detail = map[string]string{"spent": strconv.FormatBool(!l.SpentAt.IsZero()), "revoked": strconv.FormatBool(!l.RevokedAt.IsZero()),
			"expired": strconv.FormatBool(!l.ExpiresAt.After(now)), "busy": strconv.FormatBool(l.claimedAt != 0)}
		d.auditFailure(ctx, ev)
		return nil, ErrLinkUnavailable
	}
	if l.passHash != "" && !checkPassphrase(l.passHash, sub.Passphrase) {
		return nil, d.wrongPassphrase(ctx, l, ev)
	}
	message, err := checkText("message", sub.Message, MaxMessageLen, true)
	if err != nil {
		return nil, err
	}
	claimed, err := d.claimLink(ctx, l.ID, now)
	if err != nil {
		return nil, err
	}
	if !claimed {
		ev.Reason = reasonUnavailable
		ev.Detail = map[string]string{"busy": "true"}
		d.auditFailure(ctx, ev)
		return nil, ErrLinkUnavailable
	}
	rec, dropID, err := d.linkSubmit(ctx, l, message, sub.IP, next)
	if err != nil {
		ev.Reason = reasonFor(err)
		ev.Detail = map[string]string{"drop": dropID}
		d.abandonLinkDraft(ctx, l.ID, dropID, ev)
		return nil, err
	}
	d.notifyRecipients(dropID)
	return rec, nil
}

// wrongPassphrase counts a failed guess and locks the link after
// MaxPassphraseFailures of them.
func (d *Drops) wrongPassphrase(ctx context.Context, l *linkRow, ev audit.Event) error {
	ev.Reason = reasonPassphrase
	locked := l.failed+1 >= MaxPassphraseFailures
	err := d.withTx(context.WithoutCancel(ctx), func(tx *sql.Tx) error {
		q := `UPDATE upload_links SET failed_attempts = failed_attempts + 1 WHERE id = ?`
		args := []any{l.ID}
		if locked {
			q = `UPDATE upload_links SET failed_attempts = failed_attempts + 1, revoked_at = ? WHERE id = ?`
			args = []any{nanos(d.now()), l.ID}
			ev.Reason = reasonLocked
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("filedrop: %w", err)
		}
		ev.Detail = map[string]string{"failures": strconv.Itoa(l.failed + 1)}
		ev.Outcome = audit.Failure
		return d.appendAudit(ctx, ev)
	})
	if err != nil {
		return err
	}
	if locked {
		return fmt.Errorf("%w: the link is now locked after %d wrong passphrases; ask for a new link", ErrWrongPassphrase, MaxPassphraseFailures)
	}
	return ErrWrongPassphrase
}

// claimLink marks a link as in use, so that two submissions through the
// same link cannot run at once. It reports false if the link was taken,
// spent or revoked meanwhile.
func (d *Drops) claimLink(ctx context.Context, id string, now time.Time) (bool, error) {
	res, err := d.db.ExecContext(ctx, `UPDATE upload_links SET claimed_at = ?
		WHERE id = ? AND claimed_at = 0 AND spent_at = 0 AND revoked_at = 0 AND expires_at > ?`, nanos(now), id, nanos(now))
	if err != nil {
		return false, fmt.Errorf("filedrop: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// linkSubmit stores the submission's files in a fresh draft and seals it.
// It returns the draft's id even on failure, for the clean-up.
func (d *Drops) linkSubmit(ctx context.Context, l *linkRow, message, ip string, next FileSource) (*Receipt, string, error) {
	now := d.now()
	dropID := newID()
	actor := linkActor(l.ID)
	v := normalisedSpec{
		caseRef: l.CaseRef, purpose: l.Purpose, purposeText: l.PurposeText, message: message,
		retainUntil: now.Add(time.Duration(l.RetentionDays) * 24 * time.Hour),
		recipients:  []recipientSpec{{named: l.ownerKey, userKey: l.ownerKey}},
	}
	err := d.withTx(ctx, func(tx *sql.Tx) error {
		return insertDrop(ctx, tx, dropID, actor, "", "", 0, l.ID, v, now)
	})
	if err != nil {
		return nil, "", err
	}
	rec := &Receipt{}
	var used int64
	for {
		u, err := next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, dropID, fmt.Errorf("%w: reading the submission: %v", ErrIncomplete, err)
		}
		if len(rec.Files) >= l.MaxFiles {
			return nil, dropID, fmt.Errorf("%w: this link takes at most %d files", ErrTooManyFiles, l.MaxFiles)
		}
		name, err := d.checkName(u.Name)
		if err != nil {
			return nil, dropID, err
		}
		if err := d.checkDeclared(u.Size); err != nil {
			return nil, dropID, err
		}
		limit := min(d.pol.maxFileBytes, l.MaxBytes-used)
		limitErr := fmt.Errorf("%w: this link takes at most %d bytes in all, and %d per file", ErrTooLarge, l.MaxBytes, d.pol.maxFileBytes)
		if limit <= 0 || u.Size > limit {
			return nil, dropID, limitErr
		}
		if err := d.checkSpace(u.Size); err != nil {
			return nil, dropID, err
		}
		in, err := d.ingest(ctx, u.Body, u.Size, limit, limitErr)
		if err != nil {
			return nil, dropID, err
		}
		ev := audit.Event{Type: EventUpload, Actor: actor, Case: l.CaseRef, IP: ip}
		f, err := d.commitFile(ctx, dropID, name, in, l.MaxFiles, ev, nil)
		if err != nil {
			d.discardUncommitted(in.fileID)
			return nil, dropID, err
		}
		used += f.Size
		rec.Files = append(rec.Files, ReceiptFile{Name: f.Name, Size: f.Size, SHA256: f.SHA256})
	}
	if len(rec.Files) == 0 {
		return nil, dropID, fmt.Errorf("%w: choose at least one file", ErrNoFiles)
	}
	err = d.withTx(context.WithoutCancel(ctx), func(tx *sql.Tx) error {
		r, err := scanDrop(tx.QueryRowContext(ctx, `SELECT `+dropCols+` FROM drops WHERE id = ?`, dropID))
		if err != nil {
			return fmt.Errorf("filedrop: %w", err)
		}
		ev := audit.Event{Type: EventSeal, Outcome: audit.Success, Actor: actor, IP: ip}
		if err := d.sealTx(ctx, tx, r, ev); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE upload_links SET spent_at = ?, claimed_at = 0, drop_id = ? WHERE id = ? AND spent_at = 0`,
			nanos(d.now()), dropID, l.ID)
		if err != nil {
			return fmt.Errorf("filedrop: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrLinkUnavailable
		}
		use := audit.Event{Type: EventLinkUse, Outcome: audit.Success, Actor: actor, Case: l.CaseRef, Subject: l.ID, IP: ip,
			Detail: map[string]string{"drop": dropID, "files": strconv.Itoa(len(rec.Files)), "bytes": itoa(used)}}
		return d.appendAudit(ctx, use)
	})
	if err != nil {
		return nil, dropID, err
	}
	rec.ReceivedAt = d.now()
	return rec, dropID, nil
}

// abandonLinkDraft deletes a failed submission's draft and files and
// releases the link for another try.
func (d *Drops) abandonLinkDraft(ctx context.Context, linkID, dropID string, ev audit.Event) {
	ctx = context.WithoutCancel(ctx)
	err := d.withTx(ctx, func(tx *sql.Tx) error {
		if dropID != "" {
			if err := d.endTx(ctx, tx, dropID, StateAbandoned, ev); err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `UPDATE upload_links SET claimed_at = 0 WHERE id = ? AND spent_at = 0`, linkID)
		return err
	})
	if err != nil {
		d.logger.Error("filedrop: cleaning up a failed link upload; Recover finishes it at the next start", "link", linkID, "err", err)
		return
	}
	if dropID != "" {
		if _, _, err := d.purge(ctx, dropID); err != nil {
			d.logger.Error("filedrop: deleting a failed link upload's files; the sweeper retries", "link", linkID, "err", err)
		}
	}
}

// expireLinks deletes links past their expiry (except one in use right
// now), auditing those that were never used.
func (d *Drops) expireLinks(ctx context.Context, now time.Time) (int, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT `+linkCols+` FROM upload_links WHERE expires_at <= ? AND claimed_at = 0`, nanos(now))
	if err != nil {
		return 0, fmt.Errorf("filedrop: sweep links: %w", err)
	}
	var list []*linkRow
	for rows.Next() {
		l, err := scanLink(rows)
		if err != nil {
			rows.Close()
			return 0, fmt.Errorf("filedrop: sweep links: %w", err)
		}
		list = append(list, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("filedrop: sweep links: %w", err)
	}
	for i, l := range list {
		err := d.withTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `DELETE FROM upload_links WHERE id = ? AND claimed_at = 0`, l.ID); err != nil {
				return fmt.Errorf("filedrop: sweep links: %w", err)
			}
			if !l.SpentAt.IsZero() {
				return nil
			}
			ev := audit.Event{Type: EventLinkExpire, Outcome: audit.Success, Actor: SystemActor, Case: l.CaseRef, Subject: l.ID,
				Detail: map[string]string{"owner": l.ownerKey, "revoked": strconv.FormatBool(!l.RevokedAt.IsZero())}}
			return d.appendAudit(ctx, ev)
		})
		if err != nil {
			return i, err
		}
	}
	return len(list), nil
}
