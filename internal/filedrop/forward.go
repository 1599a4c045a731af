package filedrop

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/hubkit/hubkit/internal/audit"
)

// Drops cross regional borders because the citizens they concern move:
// a consultant in Aalborg sends to a professional in Odense, who logs in
// at Region Syddanmark's hub, not Nordjylland's. Each hub keeps the drops
// of its own region's users, so a drop with recipients elsewhere is
// forwarded: when it is sealed, one forward per other region is queued in
// the same transaction (a durable outbox), and a background loop hands
// each to the Courier, which re-encrypts the files to that hub's key and
// delivers them. The receiving hub stores the drop with Receive, exactly
// as a local upload is stored, checking every file against the SHA-256
// the sender recorded. A withdrawal follows the drop; expiry needs no
// message, since both hubs hold the same retention date.

// Router says which region's hub a recipient belongs to: the region id,
// or "" for this hub (its own users, and anyone it cannot place).
type Router func(userKey, email string) string

// Courier carries forwards to other regions' hubs (package federation).
type Courier interface {
	// Deliver hands a parcel to region's hub. An error wrapping
	// ErrPermanent will not get better by retrying.
	// open streams a file's plaintext, checked against its SHA-256.
	Deliver(ctx context.Context, region string, p *Parcel, open ParcelOpener) error
	// Withdraw tells region's hub that the drop with id dropID (this
	// hub's id, Parcel.ID) was withdrawn by its sender.
	Withdraw(ctx context.Context, region, dropID string) error
}

// ParcelOpener opens a file of a parcel (see Drops.OpenParcelFile).
type ParcelOpener func(ctx context.Context, f ParcelFile) (io.ReadCloser, error)

// ErrPermanent marks a Courier error that retrying will not cure (the
// other hub refused the parcel).
var ErrPermanent = errors.New("refused by the receiving hub")

// Parcel is a sealed drop as it travels to another region's hub: the
// drop, the recipients in that region, and its files.
type Parcel struct {
	ID          string       `json:"id"` // the drop's id on the sending hub
	CaseRef     string       `json:"case_ref"`
	Purpose     Purpose      `json:"purpose"`
	PurposeText string       `json:"purpose_text,omitempty"`
	Message     string       `json:"message,omitempty"`
	SealedAt    time.Time    `json:"sealed_at"`
	RetainUntil time.Time    `json:"retain_until"`
	Sender      ParcelSender `json:"sender"`
	// Recipients are as the sender named them: login identities or
	// e-mail addresses, only those of the receiving region.
	Recipients []string     `json:"recipients"`
	Files      []ParcelFile `json:"files"`
}

// ParcelSender is who sent a parcel, on the sending hub.
type ParcelSender struct {
	UserKey string `json:"user_key"`
	Name    string `json:"name"`
	Email   string `json:"email,omitempty"`
	Kommune int    `json:"kommune"`
}

// ParcelFile is one file of a parcel. The content travels separately,
// in order (Drops.OpenParcelFile on the sending side, a FileSource on
// the receiving side).
type ParcelFile struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Size      int64  `json:"size"`
	SHA256    string `json:"sha256"`
	MediaType string `json:"media_type,omitempty"`
}

// Forward is the state of a drop's delivery to another region's hub, as
// its sender sees it.
type Forward struct {
	Region      string
	State       string // pending, delivered, failed, withdrawing, done
	Attempts    int
	LastError   string
	DeliveredAt time.Time
}

// Forward states.
const (
	forwardPending  = "pending"     // to be delivered
	forwardDone     = "delivered"   // the other hub has it
	forwardFailed   = "failed"      // refused for good; the sender is told
	forwardWithdraw = "withdrawing" // delivered, then withdrawn here: tell the other hub
	forwardEnded    = "done"        // nothing more to do
)

// Audit events of forwarding.
const (
	EventForward         = "drop.forward"          // a drop was delivered to another region's hub (or refused there)
	EventReceive         = "drop.receive"          // a drop arrived from another region's hub
	EventForwardWithdraw = "drop.forward_withdraw" // the other hub was told of a withdrawal
)

// peerActorPrefix starts the sender key of a drop that arrived from
// another hub: "peer:<region>:<user key there>". No login has it.
const peerActorPrefix = "peer:"

// backoff is the wait before retry n (1-based): 15 s doubling to an hour.
func backoff(n int) time.Duration {
	d := 15 * time.Second
	for i := 1; i < n && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}

// routeRecipients sets the region of every recipient that belongs to
// another hub.
func (d *Drops) routeRecipients(rs []recipientSpec) {
	if d.opts.Route == nil {
		return
	}
	for i := range rs {
		if reg := d.opts.Route(rs[i].userKey, rs[i].email); reg != "" && reg != d.opts.Region {
			rs[i].region = reg
		}
	}
}

// queueForwards records, inside the sealing transaction, one forward per
// other region that recipients of the drop belong to.
func (d *Drops) queueForwards(ctx context.Context, tx *sql.Tx, dropID string) (int, error) {
	res, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO forwards (drop_id, region, state, next_try)
		SELECT DISTINCT drop_id, region, 'pending', ? FROM drop_recipients WHERE drop_id = ? AND region <> ''`,
		nanos(d.now()), dropID)
	if err != nil {
		return 0, fmt.Errorf("filedrop: queue forwards: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// endForwardsTx runs when a drop ends: undelivered forwards are dropped,
// and delivered ones of a withdrawn drop are queued to tell the other hub.
func endForwardsTx(ctx context.Context, tx *sql.Tx, dropID string, state State) error {
	_, err := tx.ExecContext(ctx, `UPDATE forwards SET next_try = 0, state = CASE
		WHEN state = 'delivered' AND ? = 'withdrawn' THEN 'withdrawing' ELSE 'done' END
		WHERE drop_id = ? AND state IN ('pending', 'delivered')`, string(state), dropID)
	if err != nil {
		return fmt.Errorf("filedrop: end forwards: %w", err)
	}
	return nil
}

// kickCourier wakes the forwarding loop.
func (d *Drops) kickCourier() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// RunCourier delivers queued forwards until ctx ends: at once when a
// drop is sealed or withdrawn, and every interval for retries. It
// returns at once when no Courier is configured.
func (d *Drops) RunCourier(ctx context.Context, every time.Duration) error {
	if d.opts.Courier == nil {
		return nil
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := d.DeliverDue(ctx); err != nil && ctx.Err() == nil {
			d.logger.Error("filedrop: forwarding", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		case <-d.kick:
		}
	}
}

// DeliverDue makes one attempt at every forward that is due, and returns
// how many succeeded.
func (d *Drops) DeliverDue(ctx context.Context) (int, error) {
	if d.opts.Courier == nil {
		return 0, nil
	}
	type due struct{ dropID, region, state string }
	rows, err := d.db.QueryContext(ctx, `SELECT drop_id, region, state FROM forwards
		WHERE state IN ('pending', 'withdrawing') AND next_try <= ? ORDER BY next_try LIMIT 100`, nanos(d.now()))
	if err != nil {
		return 0, fmt.Errorf("filedrop: forwards: %w", err)
	}
	var list []due
	for rows.Next() {
		var f due
		if err := rows.Scan(&f.dropID, &f.region, &f.state); err != nil {
			rows.Close()
			return 0, fmt.Errorf("filedrop: forwards: %w", err)
		}
		list = append(list, f)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("filedrop: forwards: %w", err)
	}
	ok := 0
	for _, f := range list {
		if ctx.Err() != nil {
			return ok, ctx.Err()
		}
		var err error
		if f.state == forwardPending {
			err = d.forwardOne(ctx, f.dropID, f.region)
		} else {
			err = d.withdrawOne(ctx, f.dropID, f.region)
		}
		if err == nil {
			ok++
		}
	}
	return ok, nil
}

// forwardOne delivers one drop to one region's hub and records the result.
func (d *Drops) forwardOne(ctx context.Context, dropID, region string) error {
	p, err := d.parcel(ctx, dropID, region)
	if err != nil {
		return d.forwardFailed(ctx, dropID, region, err)
	}
	open := func(ctx context.Context, f ParcelFile) (io.ReadCloser, error) { return d.OpenParcelFile(ctx, p, f) }
	if err := d.opts.Courier.Deliver(ctx, region, p, open); err != nil {
		return d.forwardFailed(ctx, dropID, region, err)
	}
	return d.withTx(context.WithoutCancel(ctx), func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE forwards SET state = 'delivered', delivered_at = ?, attempts = attempts + 1, last_error = ''
			WHERE drop_id = ? AND region = ? AND state = 'pending'`, nanos(d.now()), dropID, region)
		if err != nil {
			return fmt.Errorf("filedrop: forwards: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			// Withdrawn while it travelled: the other hub has it now, so
			// it must hear of the withdrawal.
			if _, err := tx.ExecContext(ctx, `UPDATE forwards SET state = 'withdrawing', next_try = 0 WHERE drop_id = ? AND region = ?`,
				dropID, region); err != nil {
				return fmt.Errorf("filedrop: forwards: %w", err)
			}
			d.kickCourier()
		}
		ev := audit.Event{Type: EventForward, Outcome: audit.Success, Actor: SystemActor, Case: p.CaseRef, Subject: dropID,
			Detail: map[string]string{"region": region, "files": strconv.Itoa(len(p.Files)), "recipients": strconv.Itoa(len(p.Recipients))}}
		return d.appendAudit(ctx, ev)
	})
}

// forwardFailed records a failed attempt: retried later, or given up for
// good when the other hub refused the parcel or the drop is gone.
func (d *Drops) forwardFailed(ctx context.Context, dropID, region string, cause error) error {
	ctx = context.WithoutCancel(ctx)
	permanent := errors.Is(cause, ErrPermanent) || errors.Is(cause, ErrNotFound)
	msg := cause.Error()
	if len(msg) > 500 {
		msg = msg[:500]
	}
	var attempts int
	err := d.withTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT attempts FROM forwards WHERE drop_id = ? AND region = ?`, dropID, region).Scan(&attempts); err != nil {
			return fmt.Errorf("filedrop: forwards: %w", err)
		}
		attempts++
		state := forwardPending
		if permanent {
			state = forwardFailed
		}
		res, err := tx.ExecContext(ctx, `UPDATE forwards SET state = ?, attempts = ?, next_try = ?, last_error = ?
			WHERE drop_id = ? AND region = ? AND state = 'pending'`,
			state, attempts, nanos(d.now().Add(backoff(attempts))), msg, dropID, region)
		if err != nil {
			return fmt.Errorf("filedrop: forwards: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 || !permanent {
			return nil // retried later, or the drop ended meanwhile and nothing is owed
		}
		var caseRef string
		tx.QueryRowContext(ctx, `SELECT case_ref FROM drops WHERE id = ?`, dropID).Scan(&caseRef)
		ev := audit.Event{Type: EventForward, Outcome: audit.Failure, Actor: SystemActor, Case: caseRef, Subject: dropID,
			Reason: "refused", Detail: map[string]string{"region": region, "error": msg}}
		return d.appendAudit(ctx, ev)
	})
	if err != nil {
		d.logger.Error("filedrop: recording a failed forward", "drop", dropID, "region", region, "err", err)
	}
	d.logger.Warn("filedrop: forwarding a drop to another region's hub failed", "drop", dropID, "region", region,
		"attempt", attempts, "permanent", permanent, "err", cause)
	return cause
}

// withdrawOne tells region's hub that a drop it received was withdrawn.
func (d *Drops) withdrawOne(ctx context.Context, dropID, region string) error {
	if err := d.opts.Courier.Withdraw(ctx, region, dropID); err != nil {
		d.withTx(context.WithoutCancel(ctx), func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE forwards SET attempts = attempts + 1, next_try = ?, last_error = ?
				WHERE drop_id = ? AND region = ?`, nanos(d.now().Add(backoff(2))), err.Error(), dropID, region)
			return err
		})
		d.logger.Warn("filedrop: telling another region's hub of a withdrawal failed; retrying", "drop", dropID, "region", region, "err", err)
		return err
	}
	return d.withTx(context.WithoutCancel(ctx), func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE forwards SET state = 'done', last_error = '' WHERE drop_id = ? AND region = ?`, dropID, region); err != nil {
			return fmt.Errorf("filedrop: forwards: %w", err)
		}
		var caseRef string
		tx.QueryRowContext(ctx, `SELECT case_ref FROM drops WHERE id = ?`, dropID).Scan(&caseRef)
		return d.appendAudit(ctx, audit.Event{Type: EventForwardWithdraw, Outcome: audit.Success, Actor: SystemActor,
			Case: caseRef, Subject: dropID, Detail: map[string]string{"region": region}})
	})
}

// parcel builds what is sent to region's hub: a sealed, live drop.
func (d *Drops) parcel(ctx context.Context, dropID, region string) (*Parcel, error) {
	r, err := scanDrop(d.db.QueryRowContext(ctx, `SELECT `+dropCols+` FROM drops WHERE id = ?`, dropID))
	if err != nil {
		return nil, fmt.Errorf("filedrop: %w", err)
	}
	if r.state != string(StateSealed) || !r.live(d.now().UnixNano()) {
		return nil, ErrNotFound
	}
	p := &Parcel{ID: r.id, CaseRef: r.caseRef, Purpose: Purpose(r.purpose), PurposeText: r.purposeText, Message: r.message,
		SealedAt: fromNanos(r.sealedAt), RetainUntil: fromNanos(r.retainUntil),
		Sender: ParcelSender{UserKey: r.senderKey, Name: r.senderName, Email: r.senderEmail, Kommune: r.senderKommune}}
	rows, err := d.db.QueryContext(ctx, `SELECT named FROM drop_recipients WHERE drop_id = ? AND region = ? ORDER BY named`, dropID, region)
	if err != nil {
		return nil, fmt.Errorf("filedrop: %w", err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("filedrop: %w", err)
		}
		p.Recipients = append(p.Recipients, n)
	}
	rows.Close()
	files, err := d.files(ctx, d.db, dropID)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		p.Files = append(p.Files, ParcelFile{ID: f.ID, Name: f.Name, Size: f.Size, SHA256: f.SHA256, MediaType: f.MediaType})
	}
	return p, nil
}

// OpenParcelFile opens a file of a parcel for the Courier: the plaintext,
// checked against its size and SHA-256 as it streams, like a download.
func (d *Drops) OpenParcelFile(ctx context.Context, p *Parcel, f ParcelFile) (io.ReadCloser, error) {
	if !validID(f.ID) {
		return nil, ErrNotFound
	}
	var state string
	var retain int64
	err := d.db.QueryRowContext(ctx, `SELECT d.state, d.retain_until FROM drop_files f JOIN drops d ON d.id = f.drop_id
		WHERE f.id = ? AND f.drop_id = ?`, f.ID, p.ID).Scan(&state, &retain)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && (state != string(StateSealed) || retain <= d.now().UnixNano())) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("filedrop: %w", err)
	}
	return openBlob(d.blobPath(f.ID), d.id, true, f.Size, f.SHA256)
}

// Decrypt opens an age stream encrypted to this hub's recipient: a file
// another hub sent here.
func (d *Drops) Decrypt(r io.Reader) (io.Reader, error) { return age.Decrypt(r, d.id) }

// Forwards lists the deliveries of a drop to other regions' hubs, for
// its sender.
func (d *Drops) Forwards(ctx context.Context, a Actor, dropID string) ([]Forward, error) {
	_, as, err := d.access(ctx, d.db, a, dropID)
	if err != nil {
		return nil, err
	}
	if as != roleSender {
		return nil, nil
	}
	rows, err := d.db.QueryContext(ctx, `SELECT region, state, attempts, last_error, delivered_at FROM forwards WHERE drop_id = ? ORDER BY region`, dropID)
	if err != nil {
		return nil, fmt.Errorf("filedrop: %w", err)
	}
	defer rows.Close()
	var out []Forward
	for rows.Next() {
		var f Forward
		var at int64
		if err := rows.Scan(&f.Region, &f.State, &f.Attempts, &f.LastError, &at); err != nil {
			return nil, fmt.Errorf("filedrop: %w", err)
		}
		f.DeliveredAt = fromNanos(at)
		out = append(out, f)
	}
	return out, rows.Err()
}

// Receive stores a drop another region's hub forwarded: from is that
// region's id, p the parcel (already authenticated by the caller), and
// next yields its files in the parcel's order. Each file is stored as an
// upload is (scanned, encrypted to this hub's key, flushed) and must
// match the size and SHA-256 the parcel names; then the drop is sealed
// to the named recipients in one transaction. Anything wrong leaves
// nothing visible. A parcel that was received before is not stored
// twice: Receive returns the existing drop's id, so the sender may retry
// a delivery whose answer it missed.
//
// The retention date is the sender's, shortened to this region's maximum.
func (d *Drops) Receive(ctx context.Context, from string, p *Parcel, next FileSource) (string, error) {
	if from == "" || from == d.opts.Region || strings.ContainsAny(from, ": ") {
		return "", fmt.Errorf("%w: %q is not another region", ErrPermanent, from)
	}
	if !validID(p.ID) {
		return "", fmt.Errorf("%w: parcel id %q", ErrPermanent, p.ID)
	}
	var existing, state string
	err := d.db.QueryRowContext(ctx, `SELECT id, state FROM drops WHERE origin = ? AND origin_id = ? AND state IN ('draft', 'sealed', 'withdrawn', 'expired')
		ORDER BY created_at DESC LIMIT 1`, from, p.ID).Scan(&existing, &state)
	switch {
	case err == nil && state == string(StateSealed):
		return existing, nil
	case err == nil && state == string(StateDraft):
		return "", fmt.Errorf("the parcel is being received right now; try again later")
	case err == nil:
		return "", fmt.Errorf("%w: the drop was %s here", ErrPermanent, state)
	case !errors.Is(err, sql.ErrNoRows):
		return "", fmt.Errorf("filedrop: %w", err)
	}
	now := d.now()
	until := p.RetainUntil.UTC()
	if max := now.Add(time.Duration(d.pol.maxDays) * 24 * time.Hour); until.After(max) {
		until = max
	}
	if !until.After(now) {
		return "", fmt.Errorf("%w: the drop's retention has ended", ErrPermanent)
	}
	spec := DropSpec{CaseRef: p.CaseRef, Purpose: p.Purpose, PurposeText: p.PurposeText, Message: p.Message,
		RetainUntil: until, Recipients: p.Recipients, OneShot: true}
	v, err := d.validateSpec(spec, now)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrPermanent, err)
	}
	for _, r := range v.recipients {
		if d.opts.Route != nil {
			if reg := d.opts.Route(r.userKey, r.email); reg != "" && reg != d.opts.Region {
				return "", fmt.Errorf("%w: recipient %s belongs to region %s, not here", ErrPermanent, r.named, reg)
			}
		}
	}
	switch n := len(p.Files); {
	case n == 0:
		return "", fmt.Errorf("%w: no files", ErrPermanent)
	case n > d.pol.maxFiles:
		return "", fmt.Errorf("%w: %d files; this region takes at most %d per drop", ErrPermanent, n, d.pol.maxFiles)
	}
	senderName, err := checkText("sender.name", p.Sender.Name, 200, false)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrPermanent, err)
	}
	senderEmail, err := checkText("sender.email", p.Sender.Email, 254, false)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrPermanent, err)
	}
	senderKey := peerActorPrefix + from + ":" + p.Sender.UserKey
	actor := peerActorPrefix + from
	dropID := newID()
	err = d.withTx(ctx, func(tx *sql.Tx) error {
		if err := insertDrop(ctx, tx, dropID, senderKey, senderName, senderEmail, p.Sender.Kommune, "", v, now); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE drops SET origin = ?, origin_id = ? WHERE id = ?`, from, p.ID, dropID)
		if err != nil {
			return fmt.Errorf("filedrop: receive: %w", err)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	fail := func(err error) (string, error) {
		ev := audit.Event{Type: EventReceive, Actor: actor, Case: v.caseRef, Subject: dropID, Reason: reasonFor(err),
			Detail: map[string]string{"region": from, "origin_id": p.ID}}
		d.abandonDraft(ctx, dropID, ev)
		return "", err
	}
	for i, want := range p.Files {
		u, err := next()
		if err == io.EOF {
			return fail(fmt.Errorf("%w: %d of %d files arrived", ErrIncomplete, i, len(p.Files)))
		}
		if err != nil {
			return fail(fmt.Errorf("%w: %v", ErrIncomplete, err))
		}
		name, err := d.checkName(want.Name)
		if err != nil {
			return fail(fmt.Errorf("%w: %v", ErrPermanent, err))
		}
		if want.Size < 0 {
			return fail(fmt.Errorf("%w: file %d has no size", ErrPermanent, i+1))
		}
		if err := d.checkDeclared(want.Size); err != nil {
			return fail(fmt.Errorf("%w: file %d: %v", ErrPermanent, i+1, err))
		}
		if err := d.checkSpace(want.Size); err != nil {
			return fail(err)
		}
		in, err := d.ingest(ctx, u.Body, want.Size, d.pol.maxFileBytes, tooLarge(d.pol.maxFileBytes))
		if err != nil {
			return fail(err)
		}
		if in.sha256 != strings.ToLower(want.SHA256) {
			d.discardUncommitted(in.fileID)
			return fail(fmt.Errorf("%w: file %d does not match the SHA-256 its sender recorded", ErrCorrupt, i+1))
		}
		ev := audit.Event{Type: EventUpload, Actor: actor, Case: v.caseRef, Detail: map[string]string{"name": name, "region": from}}
		if _, err := d.commitFile(ctx, dropID, name, in, d.pol.maxFiles, ev, nil); err != nil {
			d.discardUncommitted(in.fileID)
			return fail(err)
		}
	}
	if _, err := next(); err != io.EOF {
		return fail(fmt.Errorf("%w: more files arrived than the parcel names", ErrPermanent))
	}
	err = d.withTx(context.WithoutCancel(ctx), func(tx *sql.Tx) error {
		r, err := scanDrop(tx.QueryRowContext(ctx, `SELECT `+dropCols+` FROM drops WHERE id = ?`, dropID))
		if err != nil {
			return fmt.Errorf("filedrop: %w", err)
		}
		ev := audit.Event{Type: EventReceive, Outcome: audit.Success, Actor: actor}
		if err := d.sealTx(ctx, tx, r, ev); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return fail(err)
	}
	d.notifyRecipients(dropID)
	return dropID, nil
}

// ReceiveWithdrawal ends a drop that another region's hub forwarded here
// and its sender has now withdrawn. Unknown or already ended drops are
// not an error: the message may come twice, or after expiry.
func (d *Drops) ReceiveWithdrawal(ctx context.Context, from, originID string) error {
	if !validID(originID) {
		return fmt.Errorf("%w: drop id %q", ErrPermanent, originID)
	}
	var id, caseRef string
	var files int
	var bytes int64
	err := d.db.QueryRowContext(ctx, `SELECT id, case_ref, file_count, total_bytes FROM drops WHERE origin = ? AND origin_id = ? AND state = 'sealed'`,
		from, originID).Scan(&id, &caseRef, &files, &bytes)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("filedrop: %w", err)
	}
	ev := audit.Event{Type: EventWithdraw, Outcome: audit.Success, Actor: peerActorPrefix + from, Case: caseRef, Subject: id,
		Detail: map[string]string{"files": strconv.Itoa(files), "bytes": itoa(bytes), "region": from, "origin_id": originID}}
	err = d.withTx(ctx, func(tx *sql.Tx) error { return d.endTx(ctx, tx, id, StateWithdrawn, ev) })
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if _, _, err := d.purge(context.WithoutCancel(ctx), id); err != nil {
		d.logger.Error("filedrop: withdrawn drop not yet deleted; the sweeper will retry", "drop", id, "err", err)
	}
	return nil
}

// abandonDraft deletes a draft that failed to fill, and its files.
func (d *Drops) abandonDraft(ctx context.Context, dropID string, ev audit.Event) {
	ctx = context.WithoutCancel(ctx)
	ev.Outcome = audit.Failure
	if err := d.withTx(ctx, func(tx *sql.Tx) error { return d.endTx(ctx, tx, dropID, StateAbandoned, ev) }); err != nil {
		d.logger.Error("filedrop: abandoning a failed draft; Recover finishes it at the next start", "drop", dropID, "err", err)
		return
	}
	if _, _, err := d.purge(ctx, dropID); err != nil {
		d.logger.Error("filedrop: deleting a failed draft's files; the sweeper retries", "drop", dropID, "err", err)
	}
}
