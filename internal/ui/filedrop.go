package ui

import (
	"strconv"
	"strings"
	"time"

	"github.com/hubkit/hubkit/internal/filedrop"
)

// The Content of the file-drop pages (handler: internal/caddymod/filedrop).
// Texts a handler puts into them (Notice, FieldError.Message) are
// catalogue keys or finished text in the request's language (T(Lang(r), …)).

// DropPolicy is what a form tells people about the region's limits.
type DropPolicy struct {
	MaxFileBytes int64
	MaxFiles     int
	DefaultDays  int
	MaxDays      int
}

// FieldError is one problem with a submitted form. Field is the id of the
// form control it is about ("" for the form as a whole); the page lists
// every problem in a summary that links to its control, and shows it again
// next to the control.
type FieldError struct {
	Field   string
	Message string
}

// DropsListContent is the Content of "drops_inbox" and "drops_sent".
type DropsListContent struct {
	Drops  []*filedrop.Drop
	Notice string // catalogue key of a confirmation ("drops.notice.withdrawn"); "" for none
}

// DropForm holds what a sender typed into the new-drop form, so a refused
// form comes back filled in (files excepted: browsers cannot refill them).
type DropForm struct {
	Recipients    string // one per line
	CaseRef       string
	Purpose       string
	PurposeText   string
	RetentionDays string
	Message       string
}

// DropNewContent is the Content of "drops_new": the form for a new drop.
type DropNewContent struct {
	Form   DropForm
	Policy DropPolicy
	Errors []FieldError
	// Action is where the form posts (/drops); the CSRF token is the
	// form's first field, never in the URL.
	Action string
}

// DropContent is the Content of "drop": one drop as its sender or a
// recipient sees it.
type DropContent struct {
	Drop        *filedrop.Drop
	IsSender    bool   // the viewer sent it (recipients are listed, withdraw offered)
	CanWithdraw bool   // the viewer may withdraw it: its sender, or the owner of the link it came through
	CanSeal     bool   // a draft with files and no upload open: the sender may send it now
	Notice      string // catalogue key of a confirmation; "" for none
	// Forwards are the drop's deliveries to other regions' hubs (sender only).
	Forwards []filedrop.Forward
	// RegionNames names the regions by id, for recipients, forwards and
	// a sender on another region's hub.
	RegionNames map[string]string
}

// LinkForm holds what a consultant typed into the new-link form.
type LinkForm struct {
	CaseRef       string
	Purpose       string
	PurposeText   string
	ExpiryDays    string
	MaxFiles      string
	RetentionDays string
}

// LinksContent is the Content of "links": the user's upload links and the
// form for a new one.
type LinksContent struct {
	Links             []filedrop.Link
	CanCreate         bool // the user has the role that creates links
	Form              LinkForm
	Errors            []FieldError
	Policy            DropPolicy
	MaxExpiryDays     int
	DefaultExpiryDays int
	MinPassphrase     int
	Notice            string
	Now               time.Time // to tell active links from expired ones
}

// LinkCreatedContent is the Content of "link_created": the only time the
// link's address is shown.
type LinkCreatedContent struct {
	Link *filedrop.Link
	URL  string
}

// UploadPublicContent is the Content of "upload_public", the page behind
// an upload link, for people without a login.
type UploadPublicContent struct {
	Info        *filedrop.LinkInfo // nil when the link cannot be used
	Action      string             // the form's action: the link's own path
	Message     string             // what the uploader typed, kept after a refusal
	Errors      []FieldError
	Unavailable bool // unknown, expired, used or revoked: one message for all
	RateLimited bool
}

// UploadDoneContent is the Content of "upload_done": the receipt of an
// upload through a link.
type UploadDoneContent struct {
	Receipt *filedrop.Receipt
}

// FormatBytes shows a size the way a file manager does, in units of 1024
// with one decimal and the language's decimal mark: "1,5 MB" in Danish,
// "1.5 MB" in English.
func FormatBytes(lang string, n int64) string {
	if n < 1024 {
		return T(lang, "bytes.b", n)
	}
	units := []string{"KB", "MB", "GB", "TB"}
	v := float64(n) / 1024
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	s := strconv.FormatFloat(v, 'f', 1, 64)
	s = strings.TrimSuffix(s, ".0")
	if lang == "da" {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s + " " + units[i]
}

// exactBytes is n bytes with thousands separators ("1.572.864 bytes" in
// Danish), for comparing a download with the original.
func exactBytes(lang string, n int64) string {
	sep := ","
	if lang == "da" {
		sep = "."
	}
	d := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range d {
		if i > 0 && (len(d)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(c)
	}
	return T(lang, "bytes.exact", b.String())
}

// fieldError is the message of errs for the form control field, or "".
func fieldError(errs []FieldError, field string) string {
	for _, e := range errs {
		if e.Field == field {
			return e.Message
		}
	}
	return ""
}

// navDrops is the aria-current value of the main menu's file-drop link on
// page: "page" on the inbox, "true" on the other file-drop pages (the
// section is current, the page is not the link's), "" elsewhere.
func navDrops(page string) string {
	switch page {
	case "drops_inbox":
		return "page"
	case "drops_sent", "drops_new", "drop", "links", "link_created":
		return "true"
	}
	return ""
}

// LinkState is where an upload link stands at now: "active", "used",
// "revoked" or "expired" (the catalogue has links.state.<state>).
func LinkState(l filedrop.Link, now time.Time) string {
	switch {
	case !l.SpentAt.IsZero():
		return "used"
	case !l.RevokedAt.IsZero():
		return "revoked"
	case !l.ExpiresAt.After(now):
		return "expired"
	}
	return "active"
}
