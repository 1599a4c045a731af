package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	// The file drop's handler. internal/serve should import it with the
	// other hubkit modules; this keeps the e2e hub complete until it does.
	_ "github.com/hubkit/hubkit/internal/caddymod/filedrop"
	"github.com/hubkit/hubkit/internal/caddymod/hubapp"
	"github.com/hubkit/hubkit/internal/filedrop"
	"github.com/hubkit/hubkit/internal/testenv"
)

// mpart is one part of a multipart body: a text field, or a file.
type mpart struct {
	name, value string
	filename    string
	data        []byte
}

func mfield(name, value string) mpart      { return mpart{name: name, value: value} }
func mfile(name string, data []byte) mpart { return mpart{name: "files", filename: name, data: data} }

func multipartOf(t testing.TB, parts ...mpart) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		if p.filename == "" {
			mw.WriteField(p.name, p.value)
			continue
		}
		w, err := mw.CreateFormFile(p.name, p.filename)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(p.data)
	}
	mw.Close()
	return buf.Bytes(), mw.FormDataContentType()
}

// do sends a request with c and returns the response with its body read.
func do(t testing.TB, c *http.Client, method, u string, body []byte, headers map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func postMultipart(t testing.TB, c *http.Client, u string, parts ...mpart) (*http.Response, string) {
	t.Helper()
	b, ct := multipartOf(t, parts...)
	return do(t, c, "POST", u, b, map[string]string{"Content-Type": ct})
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// loggedIn is a client logged in as user of kommune, with its CSRF token.
func (h *hub) loggedIn(t testing.TB, kommune int, user string) (*http.Client, string) {
	t.Helper()
	c := h.client()
	if resp, body := get(t, c, h.loginToCallback(t, c, kommune, user, "/")); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login as %s: %s\n%s", user, resp.Status, body)
	}
	return c, h.csrf(t, c)
}

var sentRe = regexp.MustCompile(`^/drops/([0-9a-f]{32})\?notice=sent$`)

// sendDrop posts the new-drop form as the browser does and returns the drop's id.
func (h *hub) sendDrop(t testing.TB, c *http.Client, csrf, caseRef, retention string, files []mpart, recipients ...string) string {
	t.Helper()
	parts := []mpart{
		mfield("csrf", csrf), mfield("recipients", strings.Join(recipients, "\n")), mfield("case_ref", caseRef), mfield("purpose", "section_12c_advice"),
		mfield("purpose_text", ""), mfield("retention_days", retention), mfield("message", "Til orientering."),
	}
	resp, body := postMultipart(t, c, h.base+"/drops", append(parts, files...)...)
	m := sentRe.FindStringSubmatch(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || m == nil {
		t.Fatalf("send %s: %s %q\n%s", caseRef, resp.Status, resp.Header.Get("Location"), body)
	}
	return m[1]
}

var fileLinkRe = regexp.MustCompile(`href="(/drops/[0-9a-f]{32}/files/[0-9a-f]{32})"`)

// hubSite is the running hub's site, for what a test cannot do over HTTP:
// move the engine's clock forward.
func hubSite(t testing.TB) *hubapp.Site {
	t.Helper()
	app, err := caddy.ActiveContext().App("hubkit")
	if err != nil {
		t.Fatal(err)
	}
	s, err := app.(*hubapp.App).Site("nordjylland")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestFiledropAcrossMunicipalities runs the file drop against the real hub
// and the real identity providers: consultant anna (Aalborg, Entra-like)
// sends case material to carl (Hjørring, OS2faktor-like), named by his
// e-mail address before he has ever logged in; carl's first login binds
// the address; he downloads the file and gets the same bytes; withdrawal
// and expiry take drops away; an upload link is used without a login and
// then refused.
//
// Recipients in another region, who log in at their own region's hub,
// are TestFiledropAcrossRegions's.
func TestFiledropAcrossMunicipalities(t *testing.T) {
	h := startHub(t, hubOptions{})
	anna, annaCSRF := h.loggedIn(t, 851, "anna")
	data := randomBytes(300_000)

	// hubkit_csrf, right after the authenticator, refuses a state change
	// without the session's CSRF token with 403; nothing happens.
	t.Run("state changes without the CSRF token are refused", func(t *testing.T) {
		refused := func(what string, resp *http.Response) {
			t.Helper()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s: %s, want 403 from the CSRF guard", what, resp.Status)
			}
		}
		fields := []mpart{mfield("recipients", "carl@hjoerring.example"), mfield("case_ref", "SAG-X"), mfield("purpose", "consent"), mfile("a.bin", data[:10])}
		withToken := func(tok string) ([]byte, string) {
			return multipartOf(t, append([]mpart{mfield("csrf", tok)}, fields...)...)
		}
		b, ct := multipartOf(t, fields...)
		resp, _ := do(t, anna, "POST", h.base+"/drops", b, map[string]string{"Content-Type": ct})
		refused("multipart POST without a csrf field", resp)
		resp, _ = do(t, anna, "POST", h.base+"/drops?csrf="+url.QueryEscape(annaCSRF), b, map[string]string{"Content-Type": ct})
		refused("multipart POST with the token in the URL only", resp)
		bw, ctw := withToken("wrong")
		resp, _ = do(t, anna, "POST", h.base+"/drops", bw, map[string]string{"Content-Type": ctw})
		refused("multipart POST with a wrong token", resp)
		b, ct = withToken(annaCSRF)
		resp, _ = do(t, anna, "POST", h.base+"/drops", b, map[string]string{"Content-Type": ct, "Sec-Fetch-Site": "cross-site"})
		refused("cross-site multipart POST with the right token", resp)
		resp, _ = postForm(t, anna, h.base+"/drops/links", url.Values{"case_ref": {"SAG-X"}, "purpose": {"consent"}})
		refused("link form without csrf", resp)
		resp, _ = do(t, anna, "PATCH", h.base+"/drops/uploads/0123456789abcdef0123456789abcdef", []byte("x"),
			map[string]string{"Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"})
		refused("PATCH without X-CSRF-Token", resp)
		if _, body := get(t, anna, h.base+"/drops/sent"); strings.Contains(body, "SAG-X") {
			t.Error("a refused POST created a drop")
		}
		if resp, _ := get(t, anna, h.base+"/drops"); resp.StatusCode != 200 {
			t.Errorf("the session did not survive the refusals: %s", resp.Status)
		}
		// With the token the same request goes through (the control).
		resp, _ = do(t, anna, "POST", h.base+"/drops", b, map[string]string{"Content-Type": ct})
		if resp.StatusCode != http.StatusSeeOther || !sentRe.MatchString(resp.Header.Get("Location")) {
			t.Fatalf("the same POST with the token: %s %q", resp.Status, resp.Header.Get("Location"))
		}
		resp, _ = postForm(t, anna, h.base+"/drops/"+sentRe.FindStringSubmatch(resp.Header.Get("Location"))[1]+"/withdraw", url.Values{"csrf": {annaCSRF}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Errorf("withdraw the control drop: %s", resp.Status)
		}
	})

	t.Run("logged out, the file drop sends to the login", func(t *testing.T) {
		resp, _ := get(t, h.client(), h.base+"/drops/new")
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?return=%2Fdrops%2Fnew" {
			t.Errorf("anonymous /drops/new: %s %q", resp.Status, resp.Header.Get("Location"))
		}
	})

	var first string
	t.Run("anna sends to carl's address; his first login binds it", func(t *testing.T) {
		first = h.sendDrop(t, anna, annaCSRF, "SAG-2026/17", "", []mpart{mfile("Underretning æøå.pdf", data)}, "carl@hjoerring.example")
		_, page := get(t, anna, h.base+"/drops/"+first)
		if !strings.Contains(page, sum(data)) || !strings.Contains(page, "får filerne ved sit første login") {
			t.Fatalf("sender's page: checksum or pending recipient missing\n%s", page)
		}

		carl, _ := h.loggedIn(t, 860, "carl")
		resp, inbox := get(t, carl, h.base+"/drops")
		if resp.StatusCode != 200 || !strings.Contains(inbox, `href="/drops/`+first+`"`) || !strings.Contains(inbox, "Anna Konsulent") {
			t.Fatalf("carl's inbox after his first login: %s\n%s", resp.Status, inbox)
		}
		_, page = get(t, carl, h.base+"/drops/"+first)
		m := fileLinkRe.FindStringSubmatch(page)
		if m == nil || !strings.Contains(page, sum(data)) {
			t.Fatalf("carl's drop page: no download link or checksum\n%s", page)
		}
		resp, body := get(t, carl, h.base+m[1])
		if resp.StatusCode != 200 || sum([]byte(body)) != sum(data) {
			t.Fatalf("download: %s, %d bytes, SHA-256 %s, want %s", resp.Status, len(body), sum([]byte(body)), sum(data))
		}
		hd := resp.Header
		if hd.Get("Content-Type") != "application/octet-stream" || hd.Get("X-Content-Type-Options") != "nosniff" ||
			!strings.Contains(hd.Get("Cache-Control"), "no-store") || hd.Get("Content-Length") != strconv.Itoa(len(data)) ||
			!strings.Contains(hd.Get("Content-Disposition"), `filename*=UTF-8''Underretning%20%C3%A6%C3%B8%C3%A5.pdf`) {
			t.Errorf("download headers %v", hd)
		}
		recs := h.auditRecords(t)
		if r := findAudit(recs, filedrop.EventBind); r == nil || r.Actor != "860:carl" || r.Case != "SAG-2026/17" {
			t.Errorf("binding not audited: %+v", r)
		}
		if r := findAudit(recs, filedrop.EventDownload); r == nil || r.Actor != "860:carl" || r.Detail["sha256"] != sum(data) {
			t.Errorf("download not audited: %+v", r)
		}

		// A drop for someone else is not carl's to see, and guessed ids look the same.
		other := h.sendDrop(t, anna, annaCSRF, "SAG-ANDEN", "", []mpart{mfile("x.txt", []byte("x"))}, "860:someone-else")
		for _, p := range []string{"/drops/" + other, "/drops/" + other + "/files/0123456789abcdef0123456789abcdef", "/drops/0123456789abcdef0123456789abcdef"} {
			if resp, _ := get(t, carl, h.base+p); resp.StatusCode != http.StatusNotFound {
				t.Errorf("carl GET %s: %s, want 404", p, resp.Status)
			}
		}
		if resp, _ := postForm(t, carl, h.base+"/drops/"+first+"/withdraw", url.Values{"csrf": {h.csrf(t, carl)}}); resp.StatusCode != http.StatusNotFound {
			t.Errorf("carl withdraws anna's drop: %s, want 404", resp.Status)
		}

		// Anna withdraws: gone for carl, files deleted.
		resp, _ = postForm(t, anna, h.base+"/drops/"+first+"/withdraw", url.Values{"csrf": {annaCSRF}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("withdraw: %s", resp.Status)
		}
		if resp, _ := get(t, carl, h.base+"/drops/"+first); resp.StatusCode != http.StatusNotFound {
			t.Errorf("withdrawn drop: %s, want 404", resp.Status)
		}
		if resp, _ := get(t, carl, h.base+m[1]); resp.StatusCode != http.StatusNotFound {
			t.Errorf("withdrawn drop's file: %s, want 404", resp.Status)
		}
	})

	t.Run("expiry removes a drop at its date", func(t *testing.T) {
		id := h.sendDrop(t, anna, annaCSRF, "SAG-KORT", "1", []mpart{mfile("kort.txt", []byte("kun en dag"))}, "860:carl")
		carl, _ := h.loggedIn(t, 860, "carl")
		if resp, _ := get(t, carl, h.base+"/drops/"+id); resp.StatusCode != 200 {
			t.Fatalf("before expiry: %s", resp.Status)
		}
		// The sweeper as it will run in two days' time.
		res, err := hubSite(t).Drops.Sweep(context.Background(), time.Now().Add(49*time.Hour))
		if err != nil || res.Expired != 1 {
			t.Fatalf("sweep: %+v %v, want exactly the one-day drop expired", res, err)
		}
		if resp, _ := get(t, carl, h.base+"/drops/"+id); resp.StatusCode != http.StatusNotFound {
			t.Errorf("expired drop: %s, want 404", resp.Status)
		}
		if _, body := get(t, anna, h.base+"/drops/sent"); strings.Contains(body, "SAG-KORT") {
			t.Error("expired drop still in the sender's list")
		}
		if r := findAudit(h.auditRecords(t), filedrop.EventExpire); r == nil || r.Subject != id {
			t.Errorf("expiry not audited: %+v", r)
		}
	})

	t.Run("an upload link works once, without a login", func(t *testing.T) {
		resp, body := postForm(t, anna, h.base+"/drops/links", url.Values{"csrf": {annaCSRF}, "case_ref": {"SAG-LINK"},
			"purpose": {"consent"}, "expiry_days": {"3"}, "max_files": {"2"}, "retention_days": {"30"}})
		m := regexp.MustCompile(`value="(https://[^"]+/u/[A-Za-z0-9_-]{43})"`).FindStringSubmatch(body)
		if resp.StatusCode != 200 || m == nil {
			t.Fatalf("create link: %s\n%s", resp.Status, body)
		}
		link := html.UnescapeString(m[1])
		if !strings.HasPrefix(link, h.base+"/u/") {
			t.Fatalf("link %s is not on the hub's address %s", link, h.base)
		}
		visitor := h.client() // no login
		if resp, body := get(t, visitor, link); resp.StatusCode != 200 || !strings.Contains(body, `type="file"`) {
			t.Fatalf("upload page: %s", resp.Status)
		}
		doc := randomBytes(70_000)
		resp, body = postMultipart(t, visitor, link, mfield("message", "Fra advokaten"), mfile("fuldmagt.pdf", doc))
		if resp.StatusCode != 200 || !strings.Contains(body, sum(doc)) {
			t.Fatalf("upload through the link: %s\n%s", resp.Status, body)
		}
		_, inbox := get(t, anna, h.base+"/drops")
		dm := regexp.MustCompile(`href="/drops/([0-9a-f]{32})">SAG-LINK<`).FindStringSubmatch(inbox)
		if dm == nil {
			t.Fatalf("the upload is not in anna's inbox\n%s", inbox)
		}
		_, page := get(t, anna, h.base+"/drops/"+dm[1])
		fm := fileLinkRe.FindStringSubmatch(page)
		if fm == nil {
			t.Fatal("no download link on the link drop's page")
		}
		if resp, body := get(t, anna, h.base+fm[1]); sum([]byte(body)) != sum(doc) {
			t.Errorf("anna's download of the link upload: %s, checksum differs", resp.Status)
		}
		// Used: refused, with one answer for all unusable links.
		if resp, body := postMultipart(t, visitor, link, mfile("igen.pdf", []byte("igen"))); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "Linket kan ikke bruges") {
			t.Errorf("second upload through a used link: %s", resp.Status)
		}
		if r := findAudit(h.auditRecords(t), filedrop.EventLinkUse); r == nil || r.Outcome != "failure" {
			t.Errorf("refused link use not audited: %+v", r)
		}
	})

	t.Run("resumable upload through the real front", func(t *testing.T) {
		api := map[string]string{"X-CSRF-Token": annaCSRF, "Accept": "application/json"}
		with := func(extra map[string]string) map[string]string {
			m := map[string]string{}
			for k, v := range api {
				m[k] = v
			}
			for k, v := range extra {
				m[k] = v
			}
			return m
		}
		b, ct := multipartOf(t, mfield("recipients", "860:carl"), mfield("case_ref", "SAG-RESUME"), mfield("purpose", "consent"), mfield("mode", "draft"))
		resp, body := do(t, anna, "POST", h.base+"/drops", b, with(map[string]string{"Content-Type": ct}))
		var draft struct{ ID, Uploads string }
		if resp.StatusCode != 201 || json.Unmarshal([]byte(body), &draft) != nil {
			t.Fatalf("draft: %s %s", resp.Status, body)
		}
		file := randomBytes(200_000)
		resp, body = do(t, anna, "POST", h.base+draft.Uploads, []byte(`{"name":"lyd.m4a","size":200000}`), with(map[string]string{"Content-Type": "application/json"}))
		var up struct{ URL string }
		if resp.StatusCode != 201 || json.Unmarshal([]byte(body), &up) != nil {
			t.Fatalf("begin: %s %s", resp.Status, body)
		}
		chunk := func(off int, b []byte) *http.Response {
			resp, _ := do(t, anna, "PATCH", h.base+up.URL, b, with(map[string]string{"Content-Type": "application/offset+octet-stream", "Upload-Offset": strconv.Itoa(off)}))
			return resp
		}
		if resp := chunk(0, file[:120_000]); resp.StatusCode != 204 || resp.Header.Get("Upload-Offset") != "120000" {
			t.Fatalf("first chunk: %s %q", resp.Status, resp.Header.Get("Upload-Offset"))
		}
		if resp, _ := do(t, anna, "HEAD", h.base+up.URL, nil, api); resp.Header.Get("Upload-Offset") != "120000" {
			t.Fatalf("HEAD: %s %q", resp.Status, resp.Header.Get("Upload-Offset"))
		}
		if resp := chunk(120_000, file[120_000:]); resp.StatusCode != 204 {
			t.Fatalf("rest: %s", resp.Status)
		}
		if resp, body := do(t, anna, "POST", h.base+up.URL+"/finish", nil, api); resp.StatusCode != 200 || !strings.Contains(body, sum(file)) {
			t.Fatalf("finish: %s %s", resp.Status, body)
		}
		if resp, _ := do(t, anna, "POST", h.base+"/drops/"+draft.ID+"/seal", nil, api); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("seal: %s", resp.Status)
		}
		if _, page := get(t, anna, h.base+"/drops/"+draft.ID); !strings.Contains(page, sum(file)) {
			t.Error("the sealed drop's page lacks the file's SHA-256")
		}
	})

	t.Run("bodies that lie about their length", func(t *testing.T) {
		cookie := sessionCookie(t, h, anna)
		b, ct := multipartOf(t, mfield("recipients", "860:carl"), mfield("case_ref", "SAG-KORTET"), mfield("purpose", "consent"), mfile("a.bin", data))
		head := func(length int) string {
			return fmt.Sprintf("POST /drops HTTP/1.1\r\nX-CSRF-Token: %s\r\nHost: %s:%d\r\nCookie: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
				url.QueryEscape(annaCSRF), domain, h.port, cookie, ct, length)
		}
		// More announced than sent: the client stops in the middle of the file.
		if status := h.raw(t, head(len(b)), b[:len(b)-20_000], true); status != http.StatusBadRequest {
			t.Errorf("body shorter than Content-Length: %d, want 400", status)
		}
		// Over the route's limit: refused before the body is handled. (Go's
		// server still reads up to 256 KiB of it before it answers and
		// closes, as it does for any unread body, so the client sends some.)
		if status := h.raw(t, head(6<<30), b, false); status != http.StatusRequestEntityTooLarge {
			t.Errorf("Content-Length over the limit: %d, want 413", status)
		}
		if _, body := get(t, anna, h.base+"/drops/sent"); strings.Contains(body, "SAG-KORTET") {
			t.Error("a broken upload left a drop behind")
		}
	})
}

// sessionCookie is c's session cookie for the hub, as a Cookie header value.
func sessionCookie(t testing.TB, h *hub, c *http.Client) string {
	u, _ := url.Parse(h.base + "/")
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "__Host-hub_session" {
			return ck.Name + "=" + ck.Value
		}
	}
	t.Fatal("no session cookie")
	return ""
}

// raw sends a hand-made HTTP/1.1 request over TLS (headers, then body;
// with closeWrite, the client then stops sending as a dropped upload
// does) and returns the response status.
func (h *hub) raw(t testing.TB, head string, body []byte, closeWrite bool) int {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", fmt.Sprintf("127.0.0.1:%d", h.port),
		&tls.Config{ServerName: domain, RootCAs: h.roots(), NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := conn.Write(append([]byte(head), body...)); err != nil {
		t.Fatal(err)
	}
	if closeWrite {
		if err := conn.CloseWrite(); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestFiledropBrowser sends files in headless Chromium the three ways a
// person can: the plain form with JavaScript off, the enhanced form (the
// file input, then chunks through the resumable API with a progress bar
// that reaches 100 %), and drag and drop; then makes an upload link and
// uses it. Every file-drop page passes axe-core without violations.
func TestFiledropBrowser(t *testing.T) {
	testenv.RequireChromium(t)
	h := startHub(t, hubOptions{})
	ctx := testenv.NewBrowser(t, testenv.WithBrowserTimeout(3*time.Minute))
	step := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v\n%s", what, err, testenv.DescribePage(ctx))
		}
	}
	eval := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("evaluate %s: %v", js, err)
		}
		return v
	}
	location := func() string {
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		return loc
	}
	// waitSent waits until the browser shows a drop that was just sent.
	waitSent := func(what string) string {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			loc := location()
			if m := regexp.MustCompile(`/drops/([0-9a-f]{32})\?notice=sent$`).FindStringSubmatch(loc); m != nil {
				step(what+": drop page", chromedp.WaitVisible(chromedp.CSS("code.sha256")))
				return m[1]
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not sent; at %s\n%s", what, loc, testenv.DescribePage(ctx))
			}
		}
	}
	scripts := func(on bool) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: !on})
			return chromedp.Void{}, err
		}
	}
	mainText := func() string {
		t.Helper()
		text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
		if err != nil {
			t.Fatal(err)
		}
		return text
	}

	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	small := randomBytes(150_000)
	big := randomBytes(9<<20 + 12345) // three chunks of the script's 4 MiB
	smallPath, bigPath := write("Notat æøå.pdf", small), write("optagelse.m4a", big)

	step("deep link while logged out", chromedp.Navigate(h.base+"/drops"), chromedp.WaitVisible(chromedp.ID("kommune-q")))
	step("choose Aalborg", chromedp.Click(chromedp.CSS(`a[href^="/auth/start?kommune=851"]`)), chromedp.WaitVisible(chromedp.ID("username")))
	step("log in at the provider", chromedp.SendKeys(chromedp.ID("username"), "anna"), chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.CSS("nav.sub-nav")))
	if loc := location(); loc != h.base+"/drops" {
		t.Fatalf("after login at %s, want the inbox", loc)
	}
	testenv.RequireNoAxeViolations(ctx, t)

	// 1. JavaScript off: the form posts the files in one multipart request.
	step("open the form without JavaScript", scripts(false), chromedp.Navigate(h.base+"/drops/new"), chromedp.WaitVisible(chromedp.ID("recipients")))
	// The script would have shown the drag-and-drop hint.
	if hint, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("dropzone-hint"), "hidden")); err != nil || !hint.Exists {
		t.Fatalf("JavaScript is not off: the drag-and-drop hint is shown (%v)", err)
	}
	step("send with the plain form",
		chromedp.SendKeys(chromedp.ID("recipients"), "carl@hjoerring.example"),
		chromedp.SendKeys(chromedp.ID("case_ref"), "SAG-BROWSER-1"),
		chromedp.SetUploadFiles(chromedp.ID("files"), []string{smallPath}),
		chromedp.Click(chromedp.ID("drop-submit")))
	plainID := waitSent("plain form")
	if text := mainText(); !strings.Contains(text, sum(small)) || !strings.Contains(text, "Notat æøå.pdf") {
		t.Errorf("plain form: the drop page lacks the file or its checksum\n%s", text)
	}
	step("JavaScript back on", scripts(true), chromedp.Navigate(h.base+"/drops/"+plainID), chromedp.WaitVisible(chromedp.CSS("code.sha256")))
	testenv.RequireNoAxeViolations(ctx, t)

	// 2. JavaScript on: the file input, chunks, a progress bar.
	step("open the form", chromedp.Navigate(h.base+"/drops/new"), chromedp.WaitVisible(chromedp.ID("dropzone-hint")))
	testenv.RequireNoAxeViolations(ctx, t)
	// Count the script's PATCH requests and the progress it shows, in
	// sessionStorage, which survives the navigation to the sent drop.
	eval(`(() => {
		sessionStorage.setItem("patches", "0");
		sessionStorage.setItem("maxProgress", "0");
		const f = window.fetch;
		window.fetch = function (url, opts) {
			if (opts && opts.method === "PATCH") sessionStorage.setItem("patches", String(Number(sessionStorage.getItem("patches")) + 1));
			return f.apply(this, arguments);
		};
		const bar = document.getElementById("upload-progress");
		new MutationObserver(() => {
			const v = Number(bar.getAttribute("value"));
			if (v > Number(sessionStorage.getItem("maxProgress"))) sessionStorage.setItem("maxProgress", String(v));
		}).observe(bar, { attributes: true });
		return "ok";
	})()`)
	step("send with the script",
		chromedp.SendKeys(chromedp.ID("recipients"), "860:carl"),
		chromedp.SendKeys(chromedp.ID("case_ref"), "SAG-BROWSER-2"),
		chromedp.SetUploadFiles(chromedp.ID("files"), []string{bigPath}),
		chromedp.Click(chromedp.ID("drop-submit")))
	waitSent("script")
	if patches, _ := strconv.Atoi(eval(`sessionStorage.getItem("patches")`)); patches < 3 {
		t.Errorf("the script sent %d PATCH requests, want at least 3 chunks of a 9 MiB file", patches)
	}
	if p := eval(`sessionStorage.getItem("maxProgress")`); p != "100" {
		t.Errorf("the progress bar reached %s %%, want 100", p)
	}
	if text := mainText(); !strings.Contains(text, sum(big)) {
		t.Errorf("script upload: the drop page lacks the file's checksum %s", sum(big))
	}

	// 3. Drag and drop onto the form.
	step("open the form again", chromedp.Navigate(h.base+"/drops/new"), chromedp.WaitVisible(chromedp.ID("recipients")),
		chromedp.SendKeys(chromedp.ID("recipients"), "860:carl"), chromedp.SendKeys(chromedp.ID("case_ref"), "SAG-BROWSER-3"))
	dropped := "træk og slip"
	if n := eval(`(() => {
		const dt = new DataTransfer();
		dt.items.add(new File([` + jsString(dropped) + `], "trukket.txt", { type: "text/plain" }));
		const zone = document.getElementById("dropzone");
		zone.dispatchEvent(new DragEvent("dragover", { dataTransfer: dt, bubbles: true, cancelable: true }));
		zone.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
		return String(document.getElementById("files").files.length) + " " + document.getElementById("chosen-files").textContent;
	})()`); n != "1 trukket.txt" {
		t.Fatalf("after the drop: %q, want the file chosen and listed", n)
	}
	step("send the dropped file", chromedp.Click(chromedp.ID("drop-submit")))
	waitSent("drag and drop")
	if text := mainText(); !strings.Contains(text, sum([]byte(dropped))) {
		t.Error("drag and drop: the drop page lacks the file's checksum")
	}

	step("sent list", chromedp.Navigate(h.base+"/drops/sent"), chromedp.WaitVisible(chromedp.CSS("table.drops-table")))
	if text := mainText(); !strings.Contains(text, "SAG-BROWSER-1") || !strings.Contains(text, "SAG-BROWSER-3") {
		t.Errorf("sent list lacks the drops\n%s", text)
	}
	testenv.RequireNoAxeViolations(ctx, t)

	// 4. An upload link, made and used in the browser.
	step("links page", chromedp.Navigate(h.base+"/drops/links"), chromedp.WaitVisible(chromedp.ID("case_ref")))
	testenv.RequireNoAxeViolations(ctx, t)
	step("create a link", chromedp.SendKeys(chromedp.ID("case_ref"), "SAG-BROWSER-LINK"),
		chromedp.Click(chromedp.CSS(`form[action="/drops/links"] button[type="submit"]`)), chromedp.WaitVisible(chromedp.ID("link-url")))
	testenv.RequireNoAxeViolations(ctx, t)
	link, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("link-url")))
	if err != nil || !strings.HasPrefix(link, h.base+"/u/") {
		t.Fatalf("link %q: %v", link, err)
	}
	step("open the link", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("files")))
	testenv.RequireNoAxeViolations(ctx, t)
	step("upload through the link", chromedp.SetUploadFiles(chromedp.ID("files"), []string{smallPath}),
		chromedp.Click(chromedp.CSS(`main button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS("code.sha256")))
	if text := mainText(); !strings.Contains(text, sum(small)) {
		t.Errorf("receipt lacks the checksum\n%s", text)
	}
	testenv.RequireNoAxeViolations(ctx, t)
	step("the upload is in the inbox", chromedp.Navigate(h.base+"/drops"), chromedp.WaitVisible(chromedp.CSS("table.drops-table")))
	if text := mainText(); !strings.Contains(text, "SAG-BROWSER-LINK") {
		t.Errorf("inbox lacks the link upload\n%s", text)
	}
}
