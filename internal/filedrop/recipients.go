package filedrop

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hubkit/hubkit/internal/audit"
)

// notifyTimeout bounds one notification in the background.
const notifyTimeout = time.Minute

// ResolveRecipient binds an e-mail address to a login identity; the login
// handler calls it after every successful login with the user's key and
// e-mail claim. Drops that named the address, and are waiting for it, are
// then delivered to that identity, and later drops to the address go to it
// directly. It returns how many drops were bound now.
//
// The first identity to present an address keeps it: a later login with
// the same address but another identity (another municipality's IdP
// asserting it) binds nothing, and the mismatch is audited. The address is
// as trustworthy as the municipal IdP that asserted it.
func (d *Drops) ResolveRecipient(ctx context.Context, userKey, email string) (int, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if userKey == "" || email == "" {
		return 0, nil
	}
	if _, err := parseRecipient("email", email); err != nil || !strings.Contains(email, "@") {
		return 0, nil // not a usable address: nothing can have been sent to it
	}
	type bound struct{ dropID, caseRef string }
	var drops []bound
	err := d.withTx(ctx, func(tx *sql.Tx) error {
		var owner string
		err := tx.QueryRowContext(ctx, `SELECT user_key FROM recipient_identities WHERE email = ?`, email).Scan(&owner)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if _, err := tx.ExecContext(ctx, `INSERT INTO recipient_identities (email, user_key, first_seen) VALUES (?, ?, ?)`,
				email, userKey, nanos(d.now())); err != nil {
				return fmt.Errorf("filedrop: resolve recipient: %w", err)
			}
		case err != nil:
			return fmt.Errorf("filedrop: resolve recipient: %w", err)
		case owner != userKey:
			ev := audit.Event{Type: EventBind, Outcome: audit.Failure, Actor: userKey, Reason: "email_bound_to_other_identity",
				Subject: email, Detail: map[string]string{"bound_to": owner}}
			return d.appendAudit(ctx, ev)
		}
		rows, err := tx.QueryContext(ctx, `SELECT r.drop_id, d.case_ref FROM drop_recipients r JOIN drops d ON d.id = r.drop_id
			WHERE r.email = ? AND r.user_key = '' AND r.region = '' AND d.state IN ('draft', 'sealed')`, email)
		if err != nil {
			return fmt.Errorf("filedrop: resolve recipient: %w", err)
		}
		for rows.Next() {
			var b bound
			if err := rows.Scan(&b.dropID, &b.caseRef); err != nil {
				rows.Close()
				return fmt.Errorf("filedrop: resolve recipient: %w", err)
			}
			drops = append(drops, b)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("filedrop: resolve recipient: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE drop_recipients SET user_key = ? WHERE email = ? AND user_key = '' AND region = ''`, userKey, email); err != nil {
			return fmt.Errorf("filedrop: resolve recipient: %w", err)
		}
		for _, b := range drops {
			ev := audit.Event{Type: EventBind, Outcome: audit.Success, Actor: userKey, Case: b.caseRef, Subject: userKey,
				Detail: map[string]string{"drop": b.dropID, "email": email}}
			if err := d.appendAudit(ctx, ev); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(drops), nil
}

// notifyRecipients mails, in the background, every recipient of a sealed
// drop whose address is known: named by e-mail, or bound to an identity
// that presented one. The mail itself carries no case content (package
// notify), and the log here names the drop only.
func (d *Drops) notifyRecipients(dropID string) {
	if d.opts.Notify == nil {
		return
	}
	rows, err := d.db.QueryContext(d.bgCtx, `SELECT DISTINCT coalesce(nullif(r.email, ''),
		(SELECT i.email FROM recipient_identities i WHERE i.user_key = r.user_key ORDER BY i.first_seen LIMIT 1), '')
		FROM drop_recipients r WHERE r.drop_id = ? AND r.region = ''`, dropID)
	if err != nil {
		d.logger.Error("filedrop: list recipients to notify", "drop", dropID, "err", err)
		return
	}
	var emails []string
	for rows.Next() {
		var e string
		if rows.Scan(&e) == nil && e != "" {
			emails = append(emails, e)
		}
	}
	rows.Close()
	if len(emails) == 0 {
		return
	}
	d.bg.Go(func() {
		failed := 0
		for _, e := range emails {
			ctx, cancel := context.WithTimeout(d.bgCtx, notifyTimeout)
			if err := d.opts.Notify(ctx, e); err != nil {
				failed++
			}
			cancel()
		}
		if failed > 0 {
			d.logger.Warn("filedrop: some recipients could not be notified by e-mail", "drop", dropID, "failed", failed, "of", len(emails))
		}
	})
}
