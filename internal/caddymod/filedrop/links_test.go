package caddyfiledrop

import (
	"html"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/hubkit/hubkit/internal/store"
	"github.com/hubkit/hubkit/internal/ui/uitest"
)

var linkRe = regexp.MustCompile(`value="https://nordjylland\.hub\.example(?::\d+)?(/u/[A-Za-z0-9_-]{43})"`)

// createLink makes an upload link as sess and returns its path (/u/<token>).
func createLink(t *testing.T, h *Handler, sess *store.Session, v url.Values) string {
	t.Helper()
	w := postForm(t, h, "/drops/links", sess, v)
	m := linkRe.FindStringSubmatch(w.Body.String())
	if w.Code != 200 || m == nil {
		t.Fatalf("create link: %d\n%s", w.Code, w.Body)
	}
	uitest.CheckHTML(t, "link_created", w.Body.Bytes())
	return m[1]
}

func linkForm(caseRef string) url.Values {
	return url.Values{"case_ref": {caseRef}, "purpose": {"consent"}, "expiry_days": {"7"}, "max_files": {"2"}, "retention_days": {"30"}}
}

// TestUploadLink: anna makes a link; someone without a login uploads
// through it; the files land in anna's inbox; the link is then spent.
func TestUploadLink(t *testing.T) {
	h := newHandler(t)
	path := createLink(t, h, anna, linkForm("SAG-LINK-1"))

	// The list shows the link, never its token.
	list := get(t, h, "/drops/links", anna).Body.String()
	if !strings.Contains(list, "SAG-LINK-1") || !strings.Contains(list, "Aktivt") || strings.Contains(list, strings.TrimPrefix(path, "/u/")) {
		t.Error("links page: link missing, not active, or showing its token")
	}

	w := get(t, h, path, nil)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `action="`+path+`"`) || strings.Contains(w.Body.String(), "SAG-LINK-1") {
		t.Fatalf("upload page: %d (it must not show the case)\n%s", w.Code, w.Body)
	}
	uitest.CheckHTML(t, "upload_public", w.Body.Bytes())

	data := content(3000)
	w = postParts(t, h, path, nil, field("message", "Her er brevet."), file("brev fra advokat.pdf", data))
	if w.Code != 200 || !strings.Contains(w.Body.String(), sha(data)) || !strings.Contains(w.Body.String(), "brev fra advokat.pdf") {
		t.Fatalf("upload: %d\n%s", w.Code, w.Body)
	}
	uitest.CheckHTML(t, "upload_done", w.Body.Bytes())

	inbox := get(t, h, "/drops", anna).Body.String()
	m := regexp.MustCompile(`href="/drops/([0-9a-f]{32})">SAG-LINK-1<`).FindStringSubmatch(inbox)
	if m == nil || !strings.Contains(inbox, "Uploadlink (person uden login)") {
		t.Fatalf("the upload is not in anna's inbox:\n%s", inbox)
	}
	page := get(t, h, "/drops/"+m[1], anna).Body.String()
	if !strings.Contains(page, sha(data)) || !strings.Contains(page, "Her er brevet.") || !strings.Contains(page, "/withdraw") {
		t.Error("the link's drop: checksum, message or withdraw missing for the link's owner")
	}

	// Spent: the page and another upload say the link cannot be used.
	if w := get(t, h, path, nil); w.Code != 404 || !strings.Contains(w.Body.String(), "Linket kan ikke bruges") {
		t.Errorf("spent link's page: %d", w.Code)
	}
	if w := postParts(t, h, path, nil, file("mere.pdf", content(10))); w.Code != 404 {
		t.Errorf("second upload through a spent link: %d", w.Code)
	}
	if list := get(t, h, "/drops/links", anna).Body.String(); !strings.Contains(list, "Brugt") || !strings.Contains(list, `href="/drops/`+m[1]+`"`) {
		t.Error("links page does not show the link as used with its drop")
	}
}

func TestUploadLinkRefusals(t *testing.T) {
	h := newHandler(t)
	// Only consultants make links.
	w := postForm(t, h, "/drops/links", carl, linkForm("SAG-2"))
	if w.Code != 403 || !strings.Contains(w.Body.String(), "Kun sikkerhedskonsulenter") {
		t.Errorf("a professional creates a link: %d", w.Code)
	}
	if body := get(t, h, "/drops/links", carl).Body.String(); strings.Contains(body, `action="/drops/links"`) {
		t.Error("a professional is offered the new-link form")
	}
	// Field problems.
	bad := url.Values{"case_ref": {""}, "purpose": {"consent"}, "expiry_days": {"31"}, "max_files": {"9"}, "passphrase": {"kort"}}
	w = postForm(t, h, "/drops/links", anna, bad)
	for _, want := range []string{"Angiv et sagsnummer", "mellem 1 og 30", "antal filer mellem 1 og 3", "mindst 8 tegn"} {
		if !strings.Contains(w.Body.String(), want) {
			t.Errorf("refused link form lacks %q", want)
		}
	}
	if w.Code != 400 {
		t.Errorf("refused link form: %d", w.Code)
	}

	// A passphrase: wrong is refused (and counts), right works.
	v := linkForm("SAG-3")
	v.Set("passphrase", "hest batteri klips")
	path := createLink(t, h, anna, v)
	if body := get(t, h, path, nil).Body.String(); !strings.Contains(body, `type="password"`) {
		t.Error("upload page of a passphrase link asks for none")
	}
	w = postParts(t, h, path, nil, field("passphrase", "forkert gæt"), field("message", "hej"), file("a.pdf", content(10)))
	if w.Code != 403 || !strings.Contains(w.Body.String(), "Adgangsfrasen er forkert.") || !strings.Contains(w.Body.String(), ">hej</textarea>") {
		t.Errorf("wrong passphrase: %d\n%s", w.Code, w.Body)
	}
	// Over the link's limits: too many files, too large; nothing arrives and the link stays usable.
	w = postParts(t, h, path, nil, field("passphrase", "hest batteri klips"), file("1.pdf", content(1)), file("2.pdf", content(1)), file("3.pdf", content(1)))
	if w.Code != 400 || !strings.Contains(w.Body.String(), "Højst 2 filer") {
		t.Errorf("three files through a two-file link: %d", w.Code)
	}
	w = postParts(t, h, path, nil, field("passphrase", "hest batteri klips"), file("big.pdf", content(testMaxFile+1)))
	if w.Code != 413 || !strings.Contains(w.Body.String(), "Hver fil må højst fylde 64 KB") {
		t.Errorf("too large through a link: %d", w.Code)
	}
	if inbox := get(t, h, "/drops", anna).Body.String(); strings.Contains(inbox, "SAG-3") {
		t.Error("a refused link upload reached the inbox")
	}
	w = postParts(t, h, path, nil, field("passphrase", "hest batteri klips"), file("ok.pdf", content(10)))
	if w.Code != 200 {
		t.Fatalf("right passphrase after refusals: %d\n%s", w.Code, w.Body)
	}

	// Revoked: unusable; someone else's link cannot be revoked.
	path = createLink(t, h, anna, linkForm("SAG-4"))
	list := get(t, h, "/drops/links", anna).Body.String()
	id := regexp.MustCompile(`action="/drops/links/([0-9a-f]{32})/revoke"`).FindStringSubmatch(list)
	if id == nil {
		t.Fatal("no revoke button")
	}
	if w := postForm(t, h, "/drops/links/"+id[1]+"/revoke", carl, nil); w.Code != 404 {
		t.Errorf("carl revokes anna's link: %d", w.Code)
	}
	w = postForm(t, h, "/drops/links/"+id[1]+"/revoke", anna, nil)
	if w.Code != 303 || w.Header().Get("Location") != "/drops/links?notice=revoked" {
		t.Fatalf("revoke: %d %q", w.Code, w.Header().Get("Location"))
	}
	if w := get(t, h, path, nil); w.Code != 404 {
		t.Errorf("revoked link's page: %d", w.Code)
	}

	// A cross-site post is refused before anything is read.
	r := uitest.Request("POST", path, nil)
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	if w := serve(t, h, r); w.Code != 403 {
		t.Errorf("cross-site upload: %d", w.Code)
	}
	// Malformed tokens are just unusable links.
	for _, p := range []string{"/u/x", "/u/" + strings.Repeat("A", 43), "/u/" + html.EscapeString("<script>")} {
		if w := get(t, h, p, nil); w.Code != 404 {
			t.Errorf("GET %s: %d", p, w.Code)
		}
	}
}

// TestUploadLinkRateLimit: guessing tokens from one address is slowed
// down; the answer says to wait.
func TestUploadLinkRateLimit(t *testing.T) {
	h := newHandler(t)
	var last int
	for i := 0; i < 40 && last != 429; i++ {
		last = get(t, h, "/u/"+strings.Repeat("B", 43), nil).Code
	}
	if last != 429 {
		t.Fatal("40 guesses in a row were never rate limited")
	}
	w := get(t, h, "/u/"+strings.Repeat("C", 43), nil)
	if w.Code != 429 || w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), "Vent et minut") {
		t.Errorf("rate-limited answer: %d Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
}

// TestUploadLinkLocks: after five wrong passphrases the link is closed,
// and the fifth answer says so (no form to try again).
func TestUploadLinkLocks(t *testing.T) {
	h := newHandler(t)
	v := linkForm("SAG-LOCK")
	v.Set("passphrase", "korrekt hest batteri")
	path := createLink(t, h, anna, v)
	var last *httptest.ResponseRecorder
	for i := 1; i <= 5; i++ {
		last = postParts(t, h, path, nil, field("passphrase", "gæt nummer "+strconv.Itoa(i)), file("a.pdf", content(10)))
		if i < 5 && (last.Code != 403 || !strings.Contains(last.Body.String(), `type="file"`)) {
			t.Fatalf("wrong passphrase %d: %d, want 403 with the form", i, last.Code)
		}
	}
	body := last.Body.Bytes()
	if last.Code != 403 || !strings.Contains(string(body), "linket er nu lukket") || strings.Contains(string(body), `type="file"`) {
		t.Errorf("fifth wrong passphrase: %d, want 403 saying the link is closed, without the form\n%s", last.Code, body)
	}
	uitest.CheckHTML(t, "locked link", body)
	if w := postParts(t, h, path, nil, field("passphrase", "korrekt hest batteri"), file("a.pdf", content(10))); w.Code != 404 {
		t.Errorf("the right passphrase after the lock: %d, want 404", w.Code)
	}
}
