package filedrop

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode/utf8"
)

// Upload links let someone without a municipal login (a citizen, a
// lawyer, a crisis centre) send files to a consultant. The consultant
// creates a link; its token is the only key; what is uploaded through it
// arrives in the consultant's inbox as a sealed drop bound to the link's
// case. A link is single-purpose: one submission (of up to MaxFiles files)
// spends it. It cannot list or download anything.

// Link limits.
const (
	DefaultLinkExpiry     = 7 * 24 * time.Hour
	MaxLinkExpiry         = 30 * 24 * time.Hour
	MinPassphraseLen      = 8
	maxPassphraseLen      = 1024
	MaxPassphraseFailures = 5 // wrong passphrases before a link is locked
	tokenBytes            = 32
)

// LinkSpec is what a consultant fills in to create an upload link.
type LinkSpec struct {
	CaseRef     string
	Purpose     Purpose
	PurposeText string
	// Expiry is how long the link works: 0 means DefaultLinkExpiry, more
	// than MaxLinkExpiry is refused.
	Expiry time.Duration
	// MaxFiles bounds the submission's files: 0 means the policy's files
	// per drop, which is also the most allowed.
	MaxFiles int
	// MaxBytes bounds all files of the submission together: 0 means the
	// policy's maximum file size; at most MaxFiles times that. Each file
	// is also held to the policy's maximum file size.
	MaxBytes int64
	// Passphrase, if set (at least MinPassphraseLen characters), must be
	// given with the upload. Tell it to the uploader another way than the
	// link (by phone): then a forwarded or intercepted link is not enough.
	Passphrase string
	// RetentionDays of the drop the submission creates; 0 means the
	// policy's default. Counted from the submission.
	RetentionDays int
}

// Link is an upload link as its creator sees it.
type Link struct {
	ID string
	// Token goes into the URL handed to the uploader. It is returned by
	// CreateLink only: the hub keeps just its SHA-256, so a lost link
	// cannot be shown again (create a new one).
	Token         string
	CaseRef       string
	Purpose       Purpose
	PurposeText   string
	MaxFiles      int
	MaxBytes      int64
	RetentionDays int
	HasPassphrase bool
	CreatedAt     time.Time
	ExpiresAt     time.Time
	SpentAt       time.Time // zero until used
	RevokedAt     time.Time // zero unless revoked or locked after wrong passphrases
	DropID        string    // the drop the submission became
}

// LinkInfo is what the upload page may show an anonymous visitor: the
// limits, never the case or the consultant.
type LinkInfo struct {
	MaxFiles        int
	MaxBytes        int64 // all files together
	MaxFileBytes    int64 // each file
	ExpiresAt       time.Time
	NeedsPassphrase bool
}

// LinkSubmission is an anonymous visitor's upload through a link.
type LinkSubmission struct {
	Token      string
	Passphrase string
	Message    string // optional note to the consultant, ≤ MaxMessageLen characters
	IP         string // the visitor's address: for rate limiting and the audit log
}

// Upload is one file of a link submission.
type Upload struct {
	Name string
	Size int64 // announced size, or -1 if unknown
	Body io.Reader
}

// FileSource yields the files of a submission one at a time, and io.EOF
// after the last. A multipart form fits it (each part is read before the
// next is asked for); Files makes one from a list.
type FileSource func() (Upload, error)

// Files returns a FileSource over uploads.
func Files(uploads ...Upload) FileSource {
	return func() (Upload, error) {
		if len(uploads) == 0 {
			return Upload{}, io.EOF
		}
		u := uploads[0]
		uploads = uploads[1:]
		return u, nil
	}
}

// Receipt is what the uploader is shown after a submission: what arrived,
// with checksums to compare against their own files.
type Receipt struct {
	Files      []ReceiptFile
	ReceivedAt time.Time
}

// ReceiptFile is one file of a Receipt.
type ReceiptFile struct {
	Name   string
	Size   int64
	SHA256 string
}

// CreateLink creates an upload link into the actor's inbox. Only actors
// with the link role (Options.LinkRole, by default "consultant") may.
func (d *Drops) CreateLink(ctx context.Context, a Actor, spec LinkSpec) (*Link, error) {
	if err := checkActor(a); err != nil {
		return nil, err
	}
	if !a.HasRole(d.pol.linkRole) {
		return nil, fmt.Errorf("%w: only users with the %s role may create upload links", ErrForbidden, d.pol.linkRole)
	}
	now := d.now()
	l := &Link{ID: newID(), CreatedAt: now, MaxFiles: spec.MaxFiles, MaxBytes: spec.MaxBytes, RetentionDays: spec.RetentionDays}
	var err error
	if l.CaseRef, err = NormaliseCaseRef(spec.CaseRef); err != nil {
		return nil, err
	}
	if l.Purpose, l.PurposeText, err = checkPurpose(spec.Purpose, spec.PurposeText); err != nil {
		return nil, err
	}
	switch {
	case spec.Expiry < 0 || spec.Expiry > MaxLinkExpiry:
		return nil, invalid("expiry", "a link works for at most %d days", int(MaxLinkExpiry/(24*time.Hour)))
	case spec.Expiry == 0:
		spec.Expiry = DefaultLinkExpiry
	}
	l.ExpiresAt = now.Add(spec.Expiry)
	switch {
	case l.MaxFiles < 0 || l.MaxFiles > d.pol.maxFiles:
		return nil, invalid("max_files", "between 1 and %d (the region's files per drop)", d.pol.maxFiles)
	case l.MaxFiles == 0:
		l.MaxFiles = d.pol.maxFiles
	}
	switch limit := int64(l.MaxFiles) * d.pol.maxFileBytes; {
	case l.MaxBytes < 0 || l.MaxBytes > limit:
		return nil, invalid("max_bytes", "between 1 and %d bytes (max files × the region's maximum file size)", limit)
	case l.MaxBytes == 0:
		l.MaxBytes = d.pol.maxFileBytes
	}
	switch {
	case l.RetentionDays < 0 || l.RetentionDays > d.pol.maxDays:
		return nil, invalid("retention", "between 1 and %d days", d.pol.maxDays)
	case l.RetentionDays == 0:
		l.RetentionDays = d.pol.defaultDays
	}
	passHash := ""
	if spec.Passphrase != "" {
		switch n := utf8.RuneCountInString(spec.Passphrase); {
		case n < MinPassphraseLen:
			return nil, invalid("passphrase", "at least %d characters", MinPassphraseLen)
		case len(spec.Passphrase) > maxPassphraseLen:
			return nil, invalid("passphrase", "at most %d bytes", maxPassphraseLen)
		}
		if passHash, err = hashPassphrase(spec.Passphrase); err != nil {
			return nil, err
		}
		l.HasPassphrase = true
	}
	raw := make([]byte, tokenBytes)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("filedrop: random: %w", err)
	}
	l.Token = base64.RawURLEncoding.EncodeToString(raw)
	sum := sha256.Sum256([]byte(l.Token))
	err = d.withTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO upload_links (id, token_hash, owner_key, owner_name, owner_email,
			owner_kommune, case_ref, purpose, purpose_text, retention_days, max_files, max_bytes, pass_hash, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			l.ID, sum[:], a.UserKey, a.Name, a.Email, a.Kommune, l.CaseRef, string(l.Purpose), l.PurposeText,
			l.RetentionDays, l.MaxFiles, l.MaxBytes, passHash, nanos(now), nanos(l.ExpiresAt)); err != nil {
			return fmt.Errorf("filedrop: create link: %w", err)
		}
		ev := actorEvent(EventLinkCreate, a)
		ev.Case, ev.Subject = l.CaseRef, l.ID
		ev.Detail = map[string]string{
			"expires_at": l.ExpiresAt.Format(time.RFC3339), "max_files": strconv.Itoa(l.MaxFiles),
			"max_bytes": itoa(l.MaxBytes), "passphrase": strconv.FormatBool(l.HasPassphrase), "purpose": string(l.Purpose),
		}
		return d.appendAudit(ctx, ev)
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// linkRow is one row of upload_links.
type linkRow struct {
	Link
	ownerKey, ownerName, ownerEmail string
	ownerKommune                    int
	passHash                        string
	failed                          int
	claimedAt                       int64
}

const linkCols = `id, owner_key, owner_name, owner_email, owner_kommune, case_ref, purpose, purpose_text, retention_days,
	max_files, max_bytes, pass_hash, failed_attempts, created_at, expires_at, claimed_at, spent_at, revoked_at, drop_id`

func scanLink(sc interface{ Scan(...any) error }) (*linkRow, error) {
	var l linkRow
	var purpose string
	var created, expires, spent, revoked int64
	if err := sc.Scan(&l.ID, &l.ownerKey, &l.ownerName, &l.ownerEmail, &l.ownerKommune, &l.CaseRef, &purpose, &l.PurposeText,
		&l.RetentionDays, &l.MaxFiles, &l.MaxBytes, &l.passHash, &l.failed, &created, &expires, &l.claimedAt, &spent, &revoked, &l.DropID); err != nil {
		return nil, err
	}
	l.Purpose = Purpose(purpose)
	l.HasPassphrase = l.passHash != ""
	l.CreatedAt, l.ExpiresAt, l.SpentAt, l.RevokedAt = fromNanos(created), fromNanos(expires), fromNanos(spent), fromNanos(revoked)
	return &l, nil
}

// usable reports whether a link still takes a submission at time now.
func (l *linkRow) usable(now time.Time) bool {
	return l.SpentAt.IsZero() && l.RevokedAt.IsZero() && l.ExpiresAt.After(now)
}

// Links lists the actor's own links, newest first (without tokens).
func (d *Drops) Links(ctx context.Context, a Actor) ([]Link, error) {
	if err := checkActor(a); err != nil {
		return nil, err
	}
	rows, err := d.db.QueryContext(ctx, `SELECT `+linkCols+` FROM upload_links WHERE owner_key = ? ORDER BY created_at DESC, id`, a.UserKey)
	if err != nil {
		return nil, fmt.Errorf("filedrop: %w", err)
	}
	defer rows.Close()
	var out []Link
	for rows.Next() {
		l, err := scanLink(rows)
		if err != nil {
			return nil, fmt.Errorf("filedrop: %w", err)
		}
		out = append(out, l.Link)
	}
	return out, rows.Err()
}

// RevokeLink stops a link of the actor's from taking a submission.
func (d *Drops) RevokeLink(ctx context.Context, a Actor, linkID string) error {
	if err := checkActor(a); err != nil {
		return err
	}
	if !validID(linkID) {
		return ErrNotFound
	}
	return d.withTx(ctx, func(tx *sql.Tx) error {
		l, err := scanLink(tx.QueryRowContext(ctx, `SELECT `+linkCols+` FROM upload_links WHERE id = ? AND owner_key = ?`, linkID, a.UserKey))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("filedrop: %w", err)
		}
		if !l.RevokedAt.IsZero() || !l.SpentAt.IsZero() {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE upload_links SET revoked_at = ? WHERE id = ?`, nanos(d.now()), linkID); err != nil {
			return fmt.Errorf("filedrop: %w", err)
		}
		ev := actorEvent(EventLinkRevoke, a)
		ev.Case, ev.Subject = l.CaseRef, l.ID
		return d.appendAudit(ctx, ev)
	})
}

// lookupLink finds a link by its token. A token that is not of the form
// CreateLink makes is not looked up.
func (d *Drops) lookupLink(ctx context.Context, token string) (*linkRow, error) {
	raw, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(raw) != tokenBytes {
		return nil, ErrLinkUnavailable
	}
	sum := sha256.Sum256([]byte(token))
	l, err := scanLink(d.db.QueryRowContext(ctx, `SELECT `+linkCols+` FROM upload_links WHERE token_hash = ?`, sum[:]))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrLinkUnavailable
	}
	if err != nil {
		return nil, fmt.Errorf("filedrop: %w", err)
	}
	return l, nil
}
