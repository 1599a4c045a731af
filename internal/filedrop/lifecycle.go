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

// CreateDrop creates a draft drop from spec, validated against the
// region's policy. The draft is seen by its sender only: add files with
// AddFile or the resumable uploads, then Seal it to deliver it.
func (d *Drops) CreateDrop(ctx context.Context, a Actor, spec DropSpec) (*Drop, error) {
	if err := checkActor(a); err != nil {
		return nil, err
	}
	now := d.now()
	v, err := d.validateSpec(spec, now)
	if err != nil {
		return nil, err
	}
	d.routeRecipients(v.recipients)
	id := newID()
	err = d.withTx(ctx, func(tx *sql.Tx) error {
		if err := insertDrop(ctx, tx, id, a.UserKey, a.Name, a.Email, a.Kommune, "", v, now); err != nil {
			return err
		}
		ev := actorEvent(EventCreate, a)
		ev.Case, ev.Subject = v.caseRef, id
		ev.Detail = map[string]string{
			"purpose":      string(v.purpose),
			"retain_until": v.retainUntil.Format(time.RFC3339),
			"recipients":   strconv.Itoa(len(v.recipients)),
		}
		return d.appendAudit(ctx, ev)
	})
	if err != nil {
		return nil, err
	}
	return d.Get(ctx, a, id)
}

// insertDrop writes a new draft and its recipients. E-mail recipients whose
// owner has logged in before are bound to that identity at once.
func insertDrop(ctx context.Context, tx *sql.Tx, id, senderKey, senderName, senderEmail string, senderKommune int, linkID string, v normalisedSpec, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO drops (id, state, sender_key, sender_name, sender_email, sender_kommune,
		link_id, case_ref, purpose, purpose_text, message, created_at, retain_until, one_shot)
		VALUES (?, 'draft', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		id, senderKey, senderName, senderEmail, senderKommune, linkID, v.caseRef, string(v.purpose),
		v.purposeText, v.message, nanos(now), nanos(v.retainUntil), v.oneShot)
	if err != nil {
		return fmt.Errorf("filedrop: create drop: %w", err)
	}
	for _, r := range v.recipients {
		userKey := r.userKey
		if r.region != "" {
			// Another hub's user: named here, delivered there.
			userKey = ""
		} else if r.email != "" {
			err := tx.QueryRowContext(ctx, `SELECT user_key FROM recipient_identities WHERE email = ?`, r.email).Scan(&userKey)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("filedrop: create drop: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO drop_recipients (drop_id, named, user_key, email, region) VALUES (?, ?, ?, ?, ?)`,
			id, r.named, userKey, r.email, r.region); err != nil {
			return fmt.Errorf("filedrop: create drop: %w", err)
		}
	}
	return nil
}

// Get returns a drop the actor sent or received. Anyone else, and anyone
// after the drop has ended, gets ErrNotFound.
func (d *Drops) Get(ctx context.Context, a Actor, dropID string) (*Drop, error) {
	r, as, err := d.access(ctx, d.db, a, dropID)
	if err != nil {
		return nil, err
	}
	return d.toDrop(ctx, d.db, r, as)
}

// Inbox lists the sealed, unexpired drops the actor received, newest first.
func (d *Drops) Inbox(ctx context.Context, a Actor) ([]*Drop, error) {
	if err := checkActor(a); err != nil {
		return nil, err
	}
	return d.listDrops(ctx, roleRecipient, `SELECT `+dropCols+` FROM drops d
		WHERE d.state = 'sealed' AND d.retain_until > ?
		AND EXISTS (SELECT 1 FROM drop_recipients r WHERE r.drop_id = d.id AND r.user_key = ?)
		ORDER BY d.sealed_at DESC, d.id`, d.now().UnixNano(), a.UserKey)
}

// Sent lists the actor's own drops, drafts included, newest first.
func (d *Drops) Sent(ctx context.Context, a Actor) ([]*Drop, error) {
	if err := checkActor(a); err != nil {
		return nil, err
	}
	return d.listDrops(ctx, roleSender, `SELECT `+dropCols+` FROM drops
		WHERE sender_key = ? AND state IN ('draft', 'sealed') AND retain_until > ?
		ORDER BY created_at DESC, id`, a.UserKey, d.now().UnixNano())
}

// Seal delivers a draft: in one transaction it becomes visible to its
// recipients and can no longer change. A drop is sealed only with at least
// one file and no resumable upload still open, so a recipient never sees a
// drop with a file missing. Recipients with a known e-mail address are
// then notified (Options.Notify).
func (d *Drops) Seal(ctx context.Context, a Actor, dropID string) (*Drop, error) {
	err := d.withTx(ctx, func(tx *sql.Tx) error {
		r, err := d.senderDraft(ctx, tx, a, dropID)
		if err != nil {
			return err
		}
		ev := actorEvent(EventSeal, a)
		return d.sealTx(ctx, tx, r, ev)
	})
	if err != nil {
		return nil, err
	}
	d.notifyRecipients(dropID)
	d.kickCourier()
	return d.Get(ctx, a, dropID)
}

// sealTx seals r inside tx and audits it, with one EventDeliver per
// recipient so that an export per person shows what they were sent.
func (d *Drops) sealTx(ctx context.Context, tx *sql.Tx, r *dropRow, ev audit.Event) error {
	if r.fileCount == 0 {
		return ErrNoFiles
	}
	var open int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM upload_sessions WHERE drop_id = ?`, r.id).Scan(&open); err != nil {
		return fmt.Errorf("filedrop: seal: %w", err)
	}
	if open > 0 {
		return fmt.Errorf("%w: %d resumable upload(s) to this drop are open; finish or abort them first", ErrUploadsPending, open)
	}
	now := d.now()
	if _, err := tx.ExecContext(ctx, `UPDATE drops SET state = 'sealed', sealed_at = ? WHERE id = ? AND state = 'draft'`, nanos(now), r.id); err != nil {
		return fmt.Errorf("filedrop: seal: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT named, user_key, region FROM drop_recipients WHERE drop_id = ? ORDER BY named`, r.id)
	if err != nil {
		return fmt.Errorf("filedrop: seal: %w", err)
	}
	var recips [][3]string
	for rows.Next() {
		var named, key, region string
		if err := rows.Scan(&named, &key, &region); err != nil {
			rows.Close()
			return fmt.Errorf("filedrop: seal: %w", err)
		}
		recips = append(recips, [3]string{named, key, region})
	}
	rows.Close()
	if _, err := d.queueForwards(ctx, tx, r.id); err != nil {
		return err
	}
	ev.Case, ev.Subject = r.caseRef, r.id
	ev.Detail = map[string]string{
		"files":        strconv.Itoa(r.fileCount),
		"bytes":        itoa(r.totalBytes),
		"recipients":   strconv.Itoa(len(recips)),
		"retain_until": fromNanos(r.retainUntil).Format(time.RFC3339),
	}
	if err := d.appendAudit(ctx, ev); err != nil {
		return err
	}
	for _, rc := range recips {
		dev := ev
		dev.Type = EventDeliver
		dev.Subject = rc[0]
		if rc[1] != "" {
			dev.Subject = rc[1]
		}
		dev.Detail = map[string]string{"drop": r.id}
		if rc[2] != "" {
			dev.Detail["region"] = rc[2]
			dev.Detail["pending"] = "forwarded to the region's hub"
		} else if rc[1] == "" {
			dev.Detail["pending"] = "e-mail recipient not yet logged in"
		}
		if err := d.appendAudit(ctx, dev); err != nil {
			return err
		}
	}
	d.crash("seal-before-commit")
	return nil
}

// Withdraw ends a drop the actor sent, sealed or draft: at once nobody
// sees it any more, and its files are deleted before Withdraw returns.
// Only the sender may withdraw (and, for a drop uploaded through a link,
// the link's creator); to anyone else the drop does not exist.
func (d *Drops) Withdraw(ctx context.Context, a Actor, dropID string) error {
	err := d.withTx(ctx, func(tx *sql.Tx) error {
		r, as, err := d.access(ctx, tx, a, dropID)
		if err != nil {
			return err
		}
		// A drop that came through an upload link has no sender who could
		// withdraw it; the consultant who made the link, its only
		// recipient, may delete it (an upload that was a mistake, or spam).
		if as != roleSender && (r.linkID == "" || as != roleRecipient) {
			return ErrNotFound
		}
		ev := actorEvent(EventWithdraw, a)
		ev.Case, ev.Subject = r.caseRef, r.id
		ev.Detail = map[string]string{"files": strconv.Itoa(r.fileCount), "bytes": itoa(r.totalBytes), "was": r.state}
		return d.endTx(ctx, tx, r.id, StateWithdrawn, ev)
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			ev := actorEvent(EventWithdraw, a)
			ev.Subject, ev.Reason = idOrMalformed(dropID), reasonNotFound
			d.auditFailure(ctx, ev)
		}
		return err
	}
	d.kickCourier() // other regions' hubs that have the drop must hear of it
	if _, _, err := d.purge(context.WithoutCancel(ctx), dropID); err != nil {
		// The drop is already invisible; the sweeper finishes the deletion.
		d.logger.Error("filedrop: withdrawn drop not yet deleted; the sweeper will retry", "drop", dropID, "err", err)
		return fmt.Errorf("filedrop: drop withdrawn, but deleting its files failed (the sweeper retries): %w", err)
	}
	return nil
}
