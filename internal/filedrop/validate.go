package filedrop

import (
	"fmt"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/hubkit/hubkit/internal/kommune"
)

// Limits on free text.
const (
	MaxCaseRefLen     = 64   // characters
	MaxPurposeTextLen = 200  // characters
	MaxMessageLen     = 2000 // characters
	maxSubjectLen     = 255  // bytes of the subject part of a login identity
)

// caseRefPattern: starts with a letter or digit; then letters, digits,
// space and the separators journal numbers use (27.12.08-A00-1-26,
// SAG/2026:42, #1234).
var caseRefPattern = regexp.MustCompile(`^[\p{L}\p{N}][\p{L}\p{N} ._/:#-]*$`)

var guidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// NormaliseCaseRef returns the stored form of a case reference (trimmed,
// NFC) or an error saying what is wrong with it. The audit export per case
// matches it exactly, so callers of hubctl audit export --case may use it
// too.
func NormaliseCaseRef(s string) (string, error) {
	s = norm.NFC.String(strings.TrimSpace(s))
	switch n := utf8.RuneCountInString(s); {
	case n == 0:
		return "", invalid("case_ref", "a case reference is required (the journal number or your own reference)")
	case n > MaxCaseRefLen:
		return "", invalid("case_ref", "is %d characters; at most %d", n, MaxCaseRefLen)
	case strings.Contains(s, "  "):
		return "", invalid("case_ref", "has two spaces in a row")
	case !caseRefPattern.MatchString(s):
		return "", invalid("case_ref", "may hold letters, digits, spaces and . - _ / : # and must start with a letter or digit")
	}
	return s, nil
}

// checkText normalises a free-text field and refuses control characters
// (except newlines and tabs where multiline) and invisible format
// characters such as bidi overrides, which can make text display as
// something else.
func checkText(field, s string, max int, multiline bool) (string, error) {
	if !utf8.ValidString(s) {
		return "", invalid(field, "is not valid UTF-8")
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = norm.NFC.String(strings.TrimSpace(s))
	if n := utf8.RuneCountInString(s); n > max {
		return "", invalid(field, "is %d characters; at most %d", n, max)
	}
	for _, r := range s {
		if multiline && (r == '\n' || r == '\t') {
			continue
		}
		if unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) {
			return "", invalid(field, "contains the control or format character %U", r)
		}
	}
	return s, nil
}

// recipientSpec is one validated recipient.
type recipientSpec struct {
	named   string // user key, or lower-cased e-mail
	userKey string // set for login identities
	email   string // set for e-mail recipients
	region  string // another region whose hub the drop is forwarded to; "" = here
}

// parseRecipient accepts a login identity ("851:sub" for a municipality's
// own IdP, "<tenant GUID>:<oid>" for Entra ID) or a bare e-mail address.
func parseRecipient(field, s string) (recipientSpec, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return recipientSpec{}, invalid(field, "empty recipient")
	}
	if strings.Contains(s, "@") {
		a, err := mail.ParseAddress(s)
		if err != nil || a.Name != "" || a.Address != s || strings.ContainsAny(s, "\r\n<>,;") {
			return recipientSpec{}, invalid(field, "%q is not a single e-mail address", s)
		}
		e := strings.ToLower(s)
		return recipientSpec{named: e, email: e}, nil
	}
	prefix, subject, ok := strings.Cut(s, ":")
	if !ok || subject == "" {
		return recipientSpec{}, invalid(field, "%q is neither an e-mail address nor a login identity such as 851:<subject>", s)
	}
	if len(subject) > maxSubjectLen || strings.ContainsFunc(subject, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) {
		return recipientSpec{}, invalid(field, "the subject part of %q is longer than %d bytes or holds spaces or control characters", s, maxSubjectLen)
	}
	switch {
	case len(prefix) == 3 && isDigits(prefix):
		code, _ := strconv.Atoi(prefix)
		if _, ok := kommune.ByCode(code); !ok {
			return recipientSpec{}, invalid(field, "%s is not a Danish municipality code", prefix)
		}
	case guidPattern.MatchString(strings.ToLower(prefix)):
		prefix = strings.ToLower(prefix)
	default:
		return recipientSpec{}, invalid(field, "%q: a login identity starts with a 3-digit municipality code or an Entra tenant id", s)
	}
	key := prefix + ":" + subject
	return recipientSpec{named: key, userKey: key}, nil
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// normalisedSpec is a DropSpec after validation.
type normalisedSpec struct {
	caseRef     string
	purpose     Purpose
	purposeText string
	message     string
	retainUntil time.Time
	recipients  []recipientSpec
	oneShot     bool
}

// validateSpec checks a DropSpec against the policy, reporting the first
// problem as a *ValidationError.
func (d *Drops) validateSpec(spec DropSpec, now time.Time) (normalisedSpec, error) {
	v := normalisedSpec{oneShot: spec.OneShot}
	var err error
	if v.caseRef, err = NormaliseCaseRef(spec.CaseRef); err != nil {
		return v, err
	}
	if v.purpose, v.purposeText, err = checkPurpose(spec.Purpose, spec.PurposeText); err != nil {
		return v, err
	}
	if v.message, err = checkText("message", spec.Message, MaxMessageLen, true); err != nil {
		return v, err
	}
	if v.retainUntil, err = d.retention(spec.RetentionDays, spec.RetainUntil, now); err != nil {
		return v, err
	}
	switch n := len(spec.Recipients); {
	case n == 0:
		return v, invalid("recipients", "name at least one recipient")
	case n > MaxRecipients:
		return v, invalid("recipients", "%d recipients; at most %d", n, MaxRecipients)
	}
	seen := map[string]bool{}
	for i, s := range spec.Recipients {
		r, err := parseRecipient(fmt.Sprintf("recipients[%d]", i), s)
		if err != nil {
			return v, err
		}
		if !seen[r.named] {
			seen[r.named] = true
			v.recipients = append(v.recipients, r)
		}
	}
	return v, nil
}

func checkPurpose(p Purpose, text string) (Purpose, string, error) {
	if !p.Valid() {
		return "", "", invalid("purpose", "%q is not one of consent, anonymised_advice, section_12c_advice, other", p)
	}
	text, err := checkText("purpose_text", text, MaxPurposeTextLen, false)
	if err != nil {
		return "", "", err
	}
	switch {
	case p == PurposeOther && text == "":
		return "", "", invalid("purpose_text", "purpose 'other' needs a text saying what the legal basis is")
	case p != PurposeOther && text != "":
		return "", "", invalid("purpose_text", "only purpose 'other' takes a text")
	}
	return p, text, nil
}

// retention works out the retain-until time: the policy's default when
// neither is given, and never past the policy's maximum.
func (d *Drops) retention(days int, until time.Time, now time.Time) (time.Time, error) {
	maxUntil := now.Add(time.Duration(d.pol.maxDays) * 24 * time.Hour)
	switch {
	case days != 0 && !until.IsZero():
		return time.Time{}, invalid("retention", "give retention days or a retain-until date, not both")
	case days < 0:
		return time.Time{}, invalid("retention", "%d days is negative", days)
	case days > d.pol.maxDays:
		return time.Time{}, invalid("retention", "%d days is more than the region's maximum of %d", days, d.pol.maxDays)
	case days > 0:
		return now.Add(time.Duration(days) * 24 * time.Hour), nil
	case until.IsZero():
		return now.Add(time.Duration(d.pol.defaultDays) * 24 * time.Hour), nil
	case !until.After(now):
		return time.Time{}, invalid("retention", "retain-until %s is not in the future", until.UTC().Format(time.RFC3339))
	case until.After(maxUntil):
		return time.Time{}, invalid("retention", "retain-until %s is more than the region's maximum of %d days away", until.UTC().Format(time.RFC3339), d.pol.maxDays)
	}
	return until.UTC(), nil
}
