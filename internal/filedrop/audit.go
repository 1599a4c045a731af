package filedrop

import (
	"context"
	"strconv"

	"github.com/hubkit/hubkit/internal/audit"
)

// Audit event types. Every record carries Case (the case reference, when
// the actor may know it) and Subject (the drop id, or the link id for link
// events; for EventDeliver and EventBind the recipient), and Actor: the
// user key, "link:<id>" for an upload through a link, or SystemActor.
// hubctl audit export --case and --person select on exactly these fields.
const (
	EventCreate      = "drop.create"         // a draft was created
	EventUpload      = "drop.upload"         // a file was stored (or refused: Outcome failure)
	EventSeal        = "drop.seal"           // the drop became visible to its recipients
	EventDeliver     = "drop.deliver"        // one per recipient at sealing; Subject is the recipient
	EventDownload    = "drop.download"       // a file was handed out (or refused)
	EventWithdraw    = "drop.withdraw"       // the sender withdrew the drop; its files are deleted
	EventExpire      = "drop.expire"         // retention ended (or a draft was abandoned); files deleted
	EventBind        = "drop.recipient_bind" // an e-mail recipient logged in and was bound to their identity
	EventLinkCreate  = "link.create"
	EventLinkUse     = "link.use" // a submission through a link (or a refused attempt)
	EventLinkRevoke  = "link.revoke"
	EventLinkExpire  = "link.expire"       // an unused link passed its expiry and was deleted
	EventUploadAbort = "drop.upload_abort" // a resumable upload was given up (by its owner or the sweeper)
)

// SystemActor is the Actor of records the engine writes on its own (expiry, recovery).
const SystemActor = "system:filedrop"

// Reasons in failure records and in the sweeper's records.
const (
	reasonNotFound    = "not_found"
	reasonTooLarge    = "too_large"
	reasonTooMany     = "too_many_files"
	reasonEmpty       = "empty"
	reasonType        = "type_refused"
	reasonInfected    = "infected"
	reasonScanFailed  = "scan_failed"
	reasonIncomplete  = "incomplete"
	reasonStorageFull = "storage_full"
	reasonCorrupt     = "corrupt"
	reasonRetention   = "retention"
	reasonAbandoned   = "abandoned"
	reasonInterrupted = "interrupted"
	reasonPassphrase  = "wrong_passphrase"
	reasonUnavailable = "link_unavailable"
	reasonRateLimited = "rate_limited"
	reasonLocked      = "locked_after_failures"
)

// linkActor is how an upload through a link appears in the audit log.
func linkActor(linkID string) string { return "link:" + linkID }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// appendAudit writes ev. An error means the action must not happen (or,
// inside a transaction, must be rolled back): an unaudited action is worse
// than a refused one.
func (d *Drops) appendAudit(ctx context.Context, ev audit.Event) error {
	_, err := d.log.Append(ctx, ev)
	return err
}

// auditFailure records a refused action. It is best effort: the action is
// refused anyway, so a failing log only costs the record, which is logged.
func (d *Drops) auditFailure(ctx context.Context, ev audit.Event) {
	ev.Outcome = audit.Failure
	if _, err := d.log.Append(context.WithoutCancel(ctx), ev); err != nil {
		d.logger.Error("filedrop: audit log write failed", "type", ev.Type, "reason", ev.Reason, "err", err)
	}
}

// actorEvent is an event by a logged-in user.
func actorEvent(typ string, a Actor) audit.Event {
	return audit.Event{Type: typ, Outcome: audit.Success, Actor: a.UserKey, Kommune: a.Kommune, IP: a.IP}
}

// idOrMalformed keeps junk a client sent out of the audit log while still
// recording that something was asked for.
func idOrMalformed(id string) string {
	if validID(id) {
		return id
	}
	return "(malformed id)"
}
