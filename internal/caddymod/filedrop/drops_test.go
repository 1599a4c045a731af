package caddyfiledrop

import (
	"crypto/rand"
	"encoding/hex"
	"mime"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/hubkit/hubkit/internal/store"
	"github.com/hubkit/hubkit/internal/ui/uitest"
)

func TestValidate(t *testing.T) {
	if err := (&Handler{}).Validate(); err == nil || !strings.Contains(err.Error(), "region is required") {
		t.Errorf("Validate without region = %v", err)
	}
}

func TestNeedsSession(t *testing.T) {
	h := newHandler(t)
	for _, tc := range []struct{ method, path string }{
		{"GET", "/drops"}, {"GET", "/drops/"}, {"GET", "/drops/sent"}, {"GET", "/drops/new"}, {"POST", "/drops"},
		{"GET", "/drops/links"}, {"GET", "/drops/0123456789abcdef0123456789abcdef"}, {"PATCH", "/drops/uploads/x"},
		{"GET", "/drops/nonesuch/deeper/still"},
	} {
		if w := serve(t, h, uitest.Request(tc.method, tc.path, nil)); w.Code != 401 {
			t.Errorf("%s %s without a session: %d, want 401", tc.method, tc.path, w.Code)
		}
	}
	// The upload page of a link is for people without a login.
	if w := get(t, h, "/u/nonesuch", nil); w.Code != 404 || !strings.Contains(w.Body.String(), "Linket kan ikke bruges") {
		t.Errorf("GET /u/nonesuch: %d, want the 404 page of an unusable link", w.Code)
	}
}

func TestOtherPathsPassOn(t *testing.T) {
	h := newHandler(t)
	for _, path := range []string{"/", "/dropsx", "/directory", "/u", "/assets/hub.css"} {
		next := &nextRecorder{}
		if err := h.ServeHTTP(httptest.NewRecorder(), uitest.Request("GET", path, anna), next); err != nil || !next.called {
			t.Errorf("%s: not passed on (%v)", path, err)
		}
	}
}

func TestMethods(t *testing.T) {
	h := newHandler(t)
	for _, tc := range []struct{ method, path, allow string }{
		{"PUT", "/drops", "GET, HEAD, POST"},
		{"POST", "/drops/sent", "GET, HEAD"},
		{"DELETE", "/drops/0123456789abcdef0123456789abcdef", "GET, HEAD"},
		{"GET", "/drops/0123456789abcdef0123456789abcdef/withdraw", "POST"},
		{"HEAD", "/drops/0123456789abcdef0123456789abcdef/files/0123456789abcdef0123456789abcdef", "GET"},
		{"GET", "/drops/uploads/0123456789abcdef0123456789abcdef", "HEAD, PATCH"},
		{"DELETE", "/u/token", "GET, HEAD, POST"},
	} {
		w := serve(t, h, uitest.Request(tc.method, tc.path, anna))
		if w.Code != 405 || w.Header().Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d Allow %q, want 405 Allow %q", tc.method, tc.path, w.Code, w.Header().Get("Allow"), tc.allow)
		}
	}
	if w := get(t, h, "/drops/sent/extra", anna); w.Code != 404 {
		t.Errorf("unknown path under /drops: %d", w.Code)
	}
}

// TestSendReceiveDownload: anna sends one file to carl (by e-mail, bound
// at his login) and to a professional of another region's municipality
// (by login identity); both see it and download the same bytes; nobody
// else sees it.
func TestSendReceiveDownload(t *testing.T) {
	h := newHandler(t)
	data := content(50_000)
	id := send(t, h, anna, []part{file("Notat om sagen æøå.pdf", data)}, "carl@hjoerring.example", odense.UserKey)

	// The sender's page lists the recipients and the checksum.
	w := get(t, h, "/drops/"+id+"?notice=sent", anna)
	body := w.Body.String()
	uitest.CheckHTML(t, "drop (sender)", w.Body.Bytes())
	for _, want := range []string{"Filerne er sendt", "carl@hjoerring.example", "får filerne ved sit første login", odense.UserKey, sha(data), "Notat om sagen æøå.pdf", "SAG-2026/42"} {
		if !strings.Contains(body, want) {
			t.Errorf("sender's drop page lacks %q", want)
		}
	}

	// Carl sees nothing until his login binds his address.
	if body := get(t, h, "/drops", carl).Body.String(); strings.Contains(body, "SAG-2026/42") {
		t.Error("carl sees the drop before his address is bound")
	}
	bind(t, h, carl)
	for _, who := range []*store.Session{carl, odense} {
		w := get(t, h, "/drops", who)
		if w.Code != 200 || !strings.Contains(w.Body.String(), `href="/drops/`+id+`"`) || !strings.Contains(w.Body.String(), "Anna Konsulent") {
			t.Fatalf("%s's inbox lacks the drop: %d", who.UserKey, w.Code)
		}
		uitest.CheckHTML(t, "inbox", w.Body.Bytes())
		page := get(t, h, "/drops/"+id, who).Body.String()
		if !strings.Contains(page, sha(data)) {
			t.Errorf("%s's drop page lacks the checksum", who.UserKey)
		}
		other := map[*store.Session]string{carl: odense.UserKey, odense: "carl@hjoerring.example"}[who]
		if strings.Contains(page, other) || strings.Contains(page, "/withdraw") {
			t.Errorf("%s's drop page shows the other recipient or offers to withdraw", who.UserKey)
		}
		dl := get(t, h, "/drops/"+id+"/files/"+fileID(t, page, id), who)
		if dl.Code != 200 || sha(dl.Body.Bytes()) != sha(data) {
			t.Fatalf("%s's download: %d, %d bytes, checksum differs", who.UserKey, dl.Code, dl.Body.Len())
		}
	}

	// Everyone else: 404 for the drop, its file and guessed ids alike.
	fid := fileID(t, get(t, h, "/drops/"+id, anna).Body.String(), id)
	for _, who := range []*store.Session{dora, bo} {
		for _, p := range []string{"/drops/" + id, "/drops/" + id + "/files/" + fid} {
			if w := get(t, h, p, who); w.Code != 404 {
				t.Errorf("%s (not a recipient): GET %s = %d, want 404", who.UserKey, p, w.Code)
			}
		}
		if w := postForm(t, h, "/drops/"+id+"/withdraw", who, nil); w.Code != 404 {
			t.Errorf("%s (not the sender) may withdraw: %d", who.UserKey, w.Code)
		}
	}
	guess := make([]byte, 16)
	rand.Read(guess)
	for _, p := range []string{"/drops/" + hex.EncodeToString(guess), "/drops/" + id + "/files/" + hex.EncodeToString(guess),
		"/drops/" + strings.ToUpper(id), "/drops/..%2F..%2Fetc", "/drops/" + id + "/files/..", "/drops/x",
		"/drops/" + hex.EncodeToString(guess) + "/files/" + fid} {
		if w := get(t, h, p, carl); w.Code != 404 {
			t.Errorf("GET %s = %d, want 404", p, w.Code)
		}
	}
}

// fileID is the id of the first file a drop page links to.
func fileID(t *testing.T, page, dropID string) string {
	t.Helper()
	m := regexp.MustCompile(`/drops/` + dropID + `/files/([0-9a-f]{32})`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("drop page has no download link")
	}
	return m[1]
}

func TestDownloadHeaders(t *testing.T) {
	h := newHandler(t)
	tests := []struct{ upload, stored, ascii string }{
		{"Årsrapport for Ærø og Øster Hurup.pdf", "Årsrapport for Ærø og Øster Hurup.pdf", "Aarsrapport-for-Aeroe-og-Oester-Hurup.pdf"},
		{`..\..\Windows\"quoted"` + "\u202e" + `txt.pdf`, "_quoted_txt.pdf", "_quoted_txt.pdf"},
		{"../../etc/passwd", "passwd", "passwd"},
		{"tab\there  and\u200b zero.txt", "tab here and zero.txt", "tab-here-and-zero.txt"},
	}
	for _, tt := range tests {
		data := content(1000)
		id := send(t, h, anna, []part{file(tt.upload, data)}, bo.UserKey)
		page := get(t, h, "/drops/"+id, bo).Body.String()
		w := get(t, h, "/drops/"+id+"/files/"+fileID(t, page, id), bo)
		hd := w.Header()
		for k, v := range map[string]string{
			"Content-Type": "application/octet-stream", "X-Content-Type-Options": "nosniff",
			"Cache-Control": "no-store", "Content-Length": "1000",
		} {
			if hd.Get(k) != v {
				t.Errorf("%q: %s = %q, want %q", tt.upload, k, hd.Get(k), v)
			}
		}
		cd := hd.Get("Content-Disposition")
		if strings.ContainsAny(cd, "\r\n\x00") || !strings.HasPrefix(cd, `attachment; filename="`+tt.ascii+`"; filename*=UTF-8''`) {
			t.Errorf("%q: Content-Disposition %q, want the ASCII fallback %q", tt.upload, cd, tt.ascii)
		}
		disp, params, err := mime.ParseMediaType(cd)
		if err != nil || disp != "attachment" || params["filename"] != tt.stored {
			t.Errorf("%q: Content-Disposition parses as %q %q (%v), want filename* %q", tt.upload, disp, params["filename"], err, tt.stored)
		}
		if sha(w.Body.Bytes()) != sha(data) {
			t.Errorf("%q: content differs", tt.upload)
		}
	}
}

func TestWithdraw(t *testing.T) {
	h := newHandler(t)
	id := send(t, h, anna, []part{file("a.txt", content(10))}, bo.UserKey)
	if w := postForm(t, h, "/drops/"+id+"/withdraw", bo, nil); w.Code != 404 {
		t.Errorf("a recipient withdraws: %d, want 404", w.Code)
	}
	w := postForm(t, h, "/drops/"+id+"/withdraw", anna, nil)
	if w.Code != 303 || w.Header().Get("Location") != "/drops/sent?notice=withdrawn" {
		t.Fatalf("withdraw: %d %q", w.Code, w.Header().Get("Location"))
	}
	if !strings.Contains(get(t, h, "/drops/sent?notice=withdrawn", anna).Body.String(), "Forsendelsen er trukket tilbage") {
		t.Error("no confirmation after withdrawing")
	}
	if w := get(t, h, "/drops/"+id, bo); w.Code != 404 {
		t.Errorf("withdrawn drop still visible to its recipient: %d", w.Code)
	}
	if strings.Contains(get(t, h, "/drops", bo).Body.String(), id) {
		t.Error("withdrawn drop still in the inbox")
	}
	nothingVisible(t, h, anna)
}
