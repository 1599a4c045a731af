package filedrop

import (
	"slices"
	"time"

	"github.com/hubkit/hubkit/internal/store"
)

// Actor is who asks: a logged-in user as their session knows them. Every
// engine call that reads or changes a drop takes one and checks it; the
// HTTP layer does not need to repeat the checks.
type Actor struct {
	UserKey string // "851:sub" or "tid:oid"; required
	Kommune int
	Name    string
	Email   string
	Roles   []string
	IP      string // client address, for the audit log
}

// ActorFromSession is the actor of a logged-in request.
func ActorFromSession(s *store.Session, ip string) Actor {
	return Actor{UserKey: s.UserKey, Kommune: s.Kommune, Name: s.Name, Email: s.Email, Roles: slices.Clone(s.Roles), IP: ip}
}

// HasRole reports whether the actor has role.
func (a Actor) HasRole(role string) bool { return slices.Contains(a.Roles, role) }

// Purpose is the legal basis a drop is shared under.
type Purpose string

// The purposes a sender chooses from.
const (
	PurposeConsent          Purpose = "consent"            // the citizen consented
	PurposeAnonymisedAdvice Purpose = "anonymised_advice"  // advice on an anonymised case
	PurposeSection12c       Purpose = "section_12c_advice" // advice under serviceloven § 12 c
	PurposeOther            Purpose = "other"              // explained in PurposeText
)

// Purposes lists the valid purposes in the order a form shows them.
var Purposes = []Purpose{PurposeConsent, PurposeAnonymisedAdvice, PurposeSection12c, PurposeOther}

// Valid reports whether p is one of Purposes.
func (p Purpose) Valid() bool { return slices.Contains(Purposes, p) }

// State is where a drop is in its life.
type State string

// States. Only sealed drops are seen by recipients; drafts only by their
// sender; the ended states by nobody (their metadata is reduced, see Sweep).
const (
	StateDraft     State = "draft"
	StateSealed    State = "sealed"
	StateWithdrawn State = "withdrawn"
	StateExpired   State = "expired"
	StateAbandoned State = "abandoned" // a draft never sealed, or a failed link upload
)

// DropSpec is what a sender fills in to create a drop.
type DropSpec struct {
	// CaseRef is the case the drop belongs to (journal number or the
	// consultant's own reference): 1–64 characters, letters, digits,
	// space and . - _ / : #. Required: it is how the audit log is exported
	// per case.
	CaseRef     string
	Purpose     Purpose
	PurposeText string // required for PurposeOther, empty otherwise; ≤ 200 characters
	// RetentionDays, or RetainUntil, sets when the drop is deleted; give at
	// most one. Neither means the policy's default; more than the policy's
	// maximum is refused.
	RetentionDays int
	RetainUntil   time.Time
	Message       string // optional, ≤ 2000 characters
	// Recipients are login identities ("851:sub", "tid:oid") or e-mail
	// addresses; 1 to MaxRecipients. An address is bound to a login
	// identity when its owner first logs in (ResolveRecipient).
	Recipients []string
	// OneShot marks a draft whose files all arrive in the request that
	// creates it (a plain form post). Recover abandons such a draft that a
	// crash left unsealed, so no half-sent drop is ever seen; drafts filled
	// by resumable uploads survive restarts.
	OneShot bool
}

// MaxRecipients bounds DropSpec.Recipients.
const MaxRecipients = 50

// Drop is a drop as an actor may see it.
type Drop struct {
	ID          string
	State       State
	Sender      Sender
	CaseRef     string
	Purpose     Purpose
	PurposeText string
	Message     string
	CreatedAt   time.Time
	SealedAt    time.Time // zero while a draft
	RetainUntil time.Time // deleted then, whatever happens
	// Recipients are listed for the sender only: a recipient is not told
	// who else received the drop.
	Recipients []Recipient
	Files      []File
}

// Sender is who made a drop.
type Sender struct {
	UserKey string // a user key, or "link:<id>" for a drop uploaded through a link
	Name    string
	Email   string
	Kommune int
	LinkID  string // set for link uploads
	Region  string // set for a drop forwarded from another region's hub: that region
}

// Recipient is one person a drop is for.
type Recipient struct {
	Named   string // as the sender named them
	UserKey string // the login identity; empty until an e-mail recipient first logs in, and for Region's users
	Email   string
	Region  string // another region, whose hub the drop was forwarded to; "" = this hub
}

// File is one stored file of a drop.
type File struct {
	ID        string
	DropID    string
	Name      string // sanitised; safe as a download name
	Size      int64  // bytes of plaintext
	SHA256    string // of the plaintext, lower-case hex: show it so people can compare
	MediaType string // sniffed from the content (net/http.DetectContentType)
	CreatedAt time.Time
}
