package e2e

import (
	"bytes"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// TestHardeningLogsKeepSecrets runs a whole journey through a served hub
// with its logs captured — login, an upload link made and used, a drop
// sent and downloaded, requests that are refused, logout — and then looks
// for every secret the journey made in everything Caddy and hubkit
// logged: the OIDC code and state, the session cookie, the CSRF token,
// the upload link's token, the ID token of the logout redirect, and the
// content of the files. Any of them in the log fails (issue 11, item 3).
func TestHardeningLogsKeepSecrets(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "caddy.log")
	h := startHub(t, hubOptions{logFile: logPath})
	secrets := map[string]string{}

	// Login: the callback URL carries the code and the state.
	anna := h.client()
	cb := h.loginToCallback(t, anna, 851, "anna", "/drops?notice=sent")
	cu, _ := url.Parse(cb)
	secrets["OIDC code"], secrets["OIDC state"] = cu.Query().Get("code"), cu.Query().Get("state")
	if resp, body := get(t, anna, cb); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("callback: %s\n%s", resp.Status, body)
	}
	secrets["session cookie"] = sessionCookie(t, h, anna)
	csrf := h.csrf(t, anna)
	secrets["CSRF token"] = csrf

	// An upload link, made and used by a visitor, with its address as
	// the Referer of the post (as a browser with another policy would).
	resp, body := postForm(t, anna, h.base+"/drops/links", url.Values{"csrf": {csrf}, "case_ref": {"SAG-LOG"},
		"purpose": {"consent"}, "expiry_days": {"3"}, "max_files": {"2"}, "retention_days": {"30"}})
	m := regexp.MustCompile(`value="(https://[^"]+/u/([A-Za-z0-9_-]{43}))"`).FindStringSubmatch(body)
	if resp.StatusCode != 200 || m == nil {
		t.Fatalf("create link: %s", resp.Status)
	}
	link := html.UnescapeString(m[1])
	secrets["upload link token"] = m[2]
	visitor := h.client()
	if resp, _ := get(t, visitor, link); resp.StatusCode != 200 {
		t.Fatalf("upload page: %s", resp.Status)
	}
	linkFile := []byte("LINKFILE-" + randomHex(16) + " fortroligt indhold")
	secrets["file content (link)"] = string(linkFile[:25])
	b, ct := multipartOf(t, mfield("message", "Fra advokaten"), mfile("fuldmagt.txt", linkFile))
	if resp, body := do(t, visitor, "POST", link, b, map[string]string{"Content-Type": ct, "Referer": link}); resp.StatusCode != 200 {
		t.Fatalf("upload through the link: %s\n%s", resp.Status, tail(body, 20))
	}

	// A drop sent with the no-JavaScript form and downloaded by its recipient.
	dropFile := []byte("DROPFILE-" + randomHex(16) + " fortroligt indhold")
	secrets["file content (drop)"] = string(dropFile[:25])
	id := h.sendDrop(t, anna, csrf, "SAG-LOG-2", "30", []mpart{mfile("notat.txt", dropFile)}, "851:"+"oid-anna")
	_, page := get(t, anna, h.base+"/drops/"+id)
	fm := fileLinkRe.FindStringSubmatch(page)
	if fm == nil {
		t.Fatal("no download link")
	}
	if _, got := get(t, anna, h.base+fm[1]); got != string(dropFile) {
		t.Fatal("download differs")
	}

	// Refused requests log their request (Caddy's error log) too: a
	// foreign origin with the token in a header, and a token in a query.
	do(t, anna, "POST", h.base+"/drops/links", nil, map[string]string{"X-CSRF-Token": csrf, "Origin": "https://evil.example"})
	do(t, anna, "PATCH", h.base+"/drops/uploads/0123456789abcdef0123456789abcdef", []byte("x"),
		map[string]string{"X-CSRF-Token": csrf, "Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"})
	get(t, anna, h.base+"/drops?csrf="+url.QueryEscape(csrf)+"&code="+url.QueryEscape(secrets["OIDC code"]))
	get(t, visitor, link+"/nothing-here")

	// Logout: the redirect to the provider carries the ID token.
	resp, _ = postForm(t, anna, h.base+"/auth/logout", url.Values{"csrf": {csrf}})
	lu, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || err != nil || lu.Query().Get("id_token_hint") == "" {
		t.Fatalf("logout: %s %q", resp.Status, resp.Header.Get("Location"))
	}
	secrets["ID token"] = lu.Query().Get("id_token_hint")

	var logged []byte
	deadline := time.Now().Add(5 * time.Second)
	for {
		logged, _ = os.ReadFile(logPath)
		// The logout is the journey's last request; its access log line
		// says everything before it was written.
		if bytes.Contains(logged, []byte(`"uri":"/auth/logout"`)) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The log must show the journey, redacted, so that the absence of the
	// secrets means something.
	for _, want := range []string{`"uri":"/auth/callback?code=REDACTED`, `state=REDACTED`, `"uri":"/u/REDACTED"`,
		`"uri":"/drops?csrf=REDACTED&code=REDACTED"`, `id_token_hint=REDACTED`, `"Referer":["https://` + domain} {
		if !bytes.Contains(logged, []byte(want)) {
			t.Errorf("the log lacks %s", want)
		}
	}
	for what, secret := range secrets {
		if len(secret) < 16 {
			t.Fatalf("%s %q is too short to look for", what, secret)
		}
		if i := bytes.Index(logged, []byte(secret)); i >= 0 {
			line := logged[bytes.LastIndexByte(logged[:i], '\n')+1:]
			if j := bytes.IndexByte(line, '\n'); j >= 0 {
				line = line[:j]
			}
			t.Errorf("the log holds the %s:\n%s", what, line)
		}
	}
	if t.Failed() {
		t.Logf("log: %d bytes at %s", len(logged), logPath)
	}
}

func randomHex(n int) string { return fmt.Sprintf("%x", randomBytes(n)) }
