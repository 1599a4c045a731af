package caddyfiledrop

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/hubkit/hubkit/internal/filedrop"
	"github.com/hubkit/hubkit/internal/region"
	"github.com/hubkit/hubkit/internal/store"
	"github.com/hubkit/hubkit/internal/ui/uitest"
)

// Test policy: small files so that "too large" is cheap to provoke.
const (
	testMaxFile  = 64 << 10
	testMaxFiles = 3
)

func intp(n int) *int { return &n }

// newHandler is the handler of a Nordjylland hub with a real store, audit
// log and file-drop engine in a temporary directory.
func newHandler(t *testing.T) *Handler {
	t.Helper()
	st := uitest.Site(t, "nordjylland", false)
	st.Region.FileDrop = region.FileDropPolicy{MaxFileBytes: testMaxFile, MaxFilesPerDrop: intp(testMaxFiles),
		DefaultRetentionDays: intp(30), MaxRetentionDays: intp(90)}
	site := uitest.HubSite(t, st)
	id, err := filedrop.LoadOrCreateIdentity(site.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	d, err := filedrop.Open(context.Background(), site.Store, site.Audit, site.DataDir, id,
		filedrop.Options{Policy: st.Region.FileDrop, Logger: uitest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	site.Drops = d
	h := &Handler{Region: "nordjylland"}
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := h.provision(site); err != nil {
		t.Fatal(err)
	}
	return h
}

// Users of the tests. anna sends (a consultant in Aalborg); carl receives
// by e-mail (Hjørring); odense is a professional of another region's
// municipality, named by login identity; dora (Hjørring) and bo (Aalborg)
// have nothing to do with it.
var (
	anna   = user("851:anna", 851, "Anna Konsulent", "anna@aalborg.example", "consultant")
	carl   = user("860:carl", 860, "Carl Sagsbehandler", "carl@hjoerring.example", "professional")
	odense = user("461:prof-odense", 461, "Olga Odense", "olga@odense.example", "professional")
	dora   = user("860:dora", 860, "Dora Anden", "dora@hjoerring.example", "professional")
	bo     = user("851:bo", 851, "Bo Kollega", "bo@aalborg.example", "professional")
)

func user(key string, kommune int, name, email string, roles ...string) *store.Session {
	s := uitest.Session(kommune, roles...)
	s.UserKey, s.Name, s.Email, s.CSRF = key, name, email, "csrf-"+hex.EncodeToString([]byte(key))
	return s
}

type nextRecorder struct{ called bool }

func (n *nextRecorder) ServeHTTP(http.ResponseWriter, *http.Request) error {
	n.called = true
	return nil
}

// serve runs one request through the handler, turning a returned
// caddyhttp error into its status (as Caddy's error routes would).
func serve(t *testing.T, h *Handler, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	next := &nextRecorder{}
	err := h.ServeHTTP(w, r, next)
	if next.called {
		t.Errorf("%s %s passed to the next handler", r.Method, r.URL)
	}
	if err != nil {
		var he caddyhttp.HandlerError
		if !errors.As(err, &he) {
			t.Fatalf("%s %s: error without a status: %v", r.Method, r.URL, err)
		}
		if w.Body.Len() != 0 {
			t.Errorf("%s %s: wrote %d bytes and returned an error", r.Method, r.URL, w.Body.Len())
		}
		w.Code = he.StatusCode
	}
	return w
}

func get(t *testing.T, h *Handler, target string, sess *store.Session) *httptest.ResponseRecorder {
	t.Helper()
	return serve(t, h, uitest.Request("GET", target, sess))
}

// part is one part of a multipart body: a field, or a file when file is set.
type part struct {
	name, value string
	file        string // file name; "" for a text field
	content     []byte
}

func field(name, value string) part { return part{name: name, value: value} }
func file(name string, content []byte) part {
	return part{name: "files", file: name, content: content}
}

// multipartBody builds a body in the order given.
func multipartBody(t *testing.T, parts ...part) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		if p.file == "" && p.name != "files" {
			mw.WriteField(p.name, p.value)
			continue
		}
		hd := textproto.MIMEHeader{}
		// Written by hand, not with CreateFormFile, so names with any
		// character (quotes escaped) reach the server as a browser sends them.
		hd.Set("Content-Disposition", `form-data; name="files"; filename="`+strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(p.file)+`"`)
		hd.Set("Content-Type", "application/octet-stream")
		w, err := mw.CreatePart(hd)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(p.content)
	}
	mw.Close()
	return buf.Bytes(), mw.FormDataContentType()
}

// post sends a multipart body to target.
func post(t *testing.T, h *Handler, target string, sess *store.Session, body io.Reader, ctype string) *httptest.ResponseRecorder {
	t.Helper()
	r := uitest.Request("POST", target, sess)
	r.Body = io.NopCloser(body)
	r.Header.Set("Content-Type", ctype)
	return serve(t, h, r)
}

func postParts(t *testing.T, h *Handler, target string, sess *store.Session, parts ...part) *httptest.ResponseRecorder {
	t.Helper()
	b, ct := multipartBody(t, parts...)
	return post(t, h, target, sess, bytes.NewReader(b), ct)
}

func postForm(t *testing.T, h *Handler, target string, sess *store.Session, v url.Values) *httptest.ResponseRecorder {
	t.Helper()
	return post(t, h, target, sess, strings.NewReader(v.Encode()), "application/x-www-form-urlencoded")
}

// dropFields are the fields of a valid new-drop form to recipients.
func dropFields(recipients ...string) []part {
	return []part{
		field("recipients", strings.Join(recipients, "\n")), field("case_ref", "SAG-2026/42"),
		field("purpose", "section_12c_advice"), field("purpose_text", ""), field("retention_days", "30"),
		field("message", "Til orientering."),
	}
}

var dropLoc = regexp.MustCompile(`^/drops/([0-9a-f]{32})\?notice=sent$`)

// send posts a new drop from anna and returns its id.
func send(t *testing.T, h *Handler, from *store.Session, files []part, recipients ...string) string {
	t.Helper()
	w := postParts(t, h, "/drops", from, append(dropFields(recipients...), files...)...)
	m := dropLoc.FindStringSubmatch(w.Header().Get("Location"))
	if w.Code != http.StatusSeeOther || m == nil {
		t.Fatalf("send: %d %q\n%s", w.Code, w.Header().Get("Location"), w.Body)
	}
	return m[1]
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// content is n bytes of a repeating pattern.
func content(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + i%23)
	}
	return b
}

// nothingVisible checks that a refused submission left nothing behind: no
// drop in the sender's list and no blob on disk.
func nothingVisible(t *testing.T, h *Handler, sender *store.Session) {
	t.Helper()
	sent, err := h.drops.Sent(context.Background(), actor(uitest.Request("GET", "/", sender), sender))
	if err != nil || len(sent) != 0 {
		t.Errorf("after a refused submission the sender has %d drops (%v)", len(sent), err)
	}
	var blobs []string
	filepath.WalkDir(filepath.Join(h.site.DataDir, filedrop.BlobDir), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() != ".lock" {
			blobs = append(blobs, p)
		}
		return nil
	})
	if len(blobs) != 0 {
		t.Errorf("blobs left on disk: %v", blobs)
	}
}

// bind does what the login hook does at carl's first login.
func bind(t *testing.T, h *Handler, s *store.Session) {
	t.Helper()
	if _, err := h.drops.ResolveRecipient(context.Background(), s.UserKey, s.Email); err != nil {
		t.Fatal(err)
	}
}
