package caddydirectory

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"unicode"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"golang.org/x/text/unicode/norm"

	"github.com/hubkit/hubkit/internal/audit"
	"github.com/hubkit/hubkit/internal/directory"
	"github.com/hubkit/hubkit/internal/store"
	"github.com/hubkit/hubkit/internal/ui"
)

// AuditType is the audit event type of a vCard download.
const AuditType = "directory_export"

// serveExport sends the vCards of a search's results.
func (h *Handler) serveExport(w http.ResponseWriter, r *http.Request, sess *store.Session) error {
	q, err := directory.ParseQuery(r.URL.Query())
	if err != nil {
		return caddyhttp.Error(http.StatusBadRequest, err)
	}
	var buf bytes.Buffer
	n, err := directory.WriteVCards(&buf, h.dir.Search(q), ui.Lang(r))
	if err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	if n == 0 {
		return caddyhttp.Error(http.StatusNotFound, errors.New("hubkit_directory: nothing to export"))
	}
	filter := q.Encode()
	if filter == "" {
		filter = "(all)"
	}
	if err := h.audit(r, sess, "", map[string]string{"filter": filter, "count": strconv.Itoa(n)}); err != nil {
		return err
	}
	name := fmt.Sprintf("%s-%s.vcf", ui.T(ui.Lang(r), "dir.export.file"), h.site.Region.ID)
	send(w, r, name, buf.Bytes())
	return nil
}

// servePerson sends one resource person's vCard.
func (h *Handler) servePerson(w http.ResponseWriter, r *http.Request, sess *store.Session, id string) error {
	e, ok := h.dir.Person(id)
	if !ok {
		return caddyhttp.Error(http.StatusNotFound, fmt.Errorf("hubkit_directory: no person %q", id))
	}
	var buf bytes.Buffer
	if _, err := directory.WriteVCards(&buf, []directory.Entry{e}, ui.Lang(r)); err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	if err := h.audit(r, sess, id, map[string]string{"filter": "person", "count": "1"}); err != nil {
		return err
	}
	send(w, r, e.Name+".vcf", buf.Bytes())
	return nil
}

// audit records a download before it is sent: if it can't be recorded, it
// doesn't happen. The record names who downloaded and what they asked for,
// never the downloaded persons' details (a person is named by its id).
func (h *Handler) audit(r *http.Request, sess *store.Session, subject string, detail map[string]string) error {
	_, err := h.site.Audit.Append(r.Context(), audit.Event{
		Type: AuditType, Outcome: audit.Success, Actor: sess.UserKey, Kommune: sess.Kommune,
		Subject: subject, IP: clientIP(r), Detail: detail,
	})
	if err != nil {
		h.site.Logger.Error("audit append failed; refusing the download", "error", err)
		return caddyhttp.Error(http.StatusInternalServerError, fmt.Errorf("hubkit_directory: audit: %w", err))
	}
	return nil
}

func clientIP(r *http.Request) string {
	if ip, ok := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ok && ip != "" {
		return ip
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// send writes a vCard download.
func send(w http.ResponseWriter, r *http.Request, filename string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/vcard; charset=utf-8")
	h.Set("Content-Disposition", Attachment(filename))
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// Attachment is a Content-Disposition for downloading a file (RFC 6266):
// an ASCII filename for old clients and the exact UTF-8 name in filename*
// (RFC 8187 encoding), e.g. for "Søren Kjær.vcf":
//
//	attachment; filename="Soeren-Kjaer.vcf"; filename*=UTF-8''S%C3%B8ren%20Kj%C3%A6r.vcf
func Attachment(filename string) string {
	filename = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '/' || r == '\\' || r == '"' {
			return -1
		}
		return r
	}, filename)
	return fmt.Sprintf(`attachment; filename="%s"; filename*=UTF-8''%s`, asciiName(filename), encode8187(filename))
}

// danishASCII spells the Danish letters the way Danes do without them.
var danishASCII = strings.NewReplacer("æ", "ae", "Æ", "Ae", "ø", "oe", "Ø", "Oe", "å", "aa", "Å", "Aa")

// asciiName is the ASCII fallback of a file name: Danish letters spelled
// out, other accents dropped, and anything else outside [A-Za-z0-9._-]
// (spaces, for one) turned into "-".
func asciiName(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(danishASCII.Replace(s)) {
		switch {
		case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-':
			b.WriteRune(r)
		case unicode.Is(unicode.Mn, r): // an accent split off its letter
		default:
			b.WriteByte('-')
		}
	}
	if b.Len() == 0 {
		return "download"
	}
	return b.String()
}

// encode8187 percent-encodes all but RFC 8187's attr-char.
func encode8187(s string) string {
	const attrChar = "!#$&+-.^_`|~"
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(attrChar, c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
