package e2e

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// rawConn is a TLS connection to the hub for requests no http.Client sends.
func (h *hub) rawConn(t testing.TB) (*tls.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", fmt.Sprintf("127.0.0.1:%d", h.port),
		&tls.Config{ServerName: domain, RootCAs: h.roots(), NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	return conn, bufio.NewReader(conn)
}

func readResponse(t testing.TB, br *bufio.Reader) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// TestHardeningFront: an unknown Host gets 421 with the security headers;
// a request with both Content-Length and Transfer-Encoding gets 400 and a
// closed connection, while chunked and sized requests keep theirs; HTTP/2
// still works behind the listener wrapper that checks this (issue 11,
// items 11 and 12).
func TestHardeningFront(t *testing.T) {
	h := startHub(t, hubOptions{})

	t.Run("unknown host: 421 with the security headers", func(t *testing.T) {
		for _, host := range []string{"evil.example", "127.0.0.1", fmt.Sprintf("other.hub.localhost:%d", h.port)} {
			conn, br := h.rawConn(t)
			fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", host)
			resp, body := readResponse(t, br)
			if resp.StatusCode != http.StatusMisdirectedRequest || body != "misdirected request\n" {
				t.Errorf("Host %s: %s %q, want 421", host, resp.Status, body)
			}
			for _, hd := range []string{"Strict-Transport-Security", "Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} {
				if resp.Header.Get(hd) == "" {
					t.Errorf("Host %s: 421 without %s", host, hd)
				}
			}
			if resp.Header.Get("Server") != "" || resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Host %s: Server %q, Cache-Control %q", host, resp.Header.Get("Server"), resp.Header.Get("Cache-Control"))
			}
		}
		// The hub itself still answers.
		if resp, _ := get(t, h.client(), h.base+"/healthz"); resp.StatusCode != 200 {
			t.Errorf("own host: %s", resp.Status)
		}
	})

	t.Run("Content-Length with Transfer-Encoding: 400 and closed", func(t *testing.T) {
		for _, te := range []string{"Transfer-Encoding: chunked", "transfer-encoding: chunked", "Transfer-Encoding:\r\n chunked"} {
			conn, br := h.rawConn(t)
			// A keep-alive request first, so the refusal comes mid-connection.
			fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: %s:%d\r\n\r\n", domain, h.port)
			if resp, _ := readResponse(t, br); resp.StatusCode != 200 {
				t.Fatalf("first request: %s", resp.Status)
			}
			fmt.Fprintf(conn, "POST /auth/backchannel-logout HTTP/1.1\r\nHost: %s:%d\r\nContent-Length: 4\r\n%s\r\n\r\n0\r\n\r\n"+
				"GET /healthz HTTP/1.1\r\nHost: %s:%d\r\n\r\n", domain, h.port, te, domain, h.port)
			resp, _ := readResponse(t, br)
			if resp.StatusCode != http.StatusBadRequest || !resp.Close {
				t.Errorf("%q: %s, close %v; want 400 and Connection: close", te, resp.Status, resp.Close)
			}
			// Nothing after it is answered: the connection is closed.
			if rest, err := io.ReadAll(br); err != nil && !isClosed(err) || len(rest) > 0 {
				t.Errorf("%q: after the refusal the connection gave %q (%v), want EOF", te, rest, err)
			}
		}
	})

	t.Run("chunked or sized bodies keep the connection", func(t *testing.T) {
		conn, br := h.rawConn(t)
		hostHdr := fmt.Sprintf("Host: %s:%d\r\n", domain, h.port)
		fmt.Fprintf(conn, "POST /auth/backchannel-logout HTTP/1.1\r\n%sContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n"+
			"d\r\nlogout_token=\r\n0\r\n\r\n", hostHdr)
		if resp, _ := readResponse(t, br); resp.StatusCode != http.StatusBadRequest || resp.Close {
			t.Fatalf("chunked request: %s close %v, want the handler's 400 on a kept connection", resp.Status, resp.Close)
		}
		fmt.Fprintf(conn, "POST /auth/backchannel-logout HTTP/1.1\r\n%sContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 13\r\n\r\nlogout_token=", hostHdr)
		if resp, _ := readResponse(t, br); resp.StatusCode != http.StatusBadRequest || resp.Close {
			t.Fatalf("sized request: %s close %v", resp.Status, resp.Close)
		}
		fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\n%s\r\n", hostHdr)
		if resp, body := readResponse(t, br); resp.StatusCode != 200 || body != "ok\n" {
			t.Fatalf("third request on the connection: %s %q", resp.Status, body)
		}
	})

	t.Run("HTTP/2 behind the listener wrapper", func(t *testing.T) {
		c := h.client()
		tr := c.Transport.(*http.Transport)
		tr.ForceAttemptHTTP2 = true
		resp, body := get(t, c, h.base+"/readyz")
		if resp.ProtoMajor != 2 || resp.StatusCode != 200 || !strings.Contains(body, `"status":"ready"`) {
			t.Errorf("h2: %s %s %q", resp.Proto, resp.Status, body)
		}
		// TLS state reaches the handlers: the login's cookies are Secure
		// and the redirect goes to the provider.
		if resp, _ := get(t, c, h.base+"/login?kommune=851"); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("h2 login start: %s", resp.Status)
		}
	})
}

func isClosed(err error) bool {
	return err == io.EOF || strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "closed")
}

// TestHardeningOrigin: a state change with the right CSRF token is still
// refused (403) when the browser says it comes from elsewhere: a foreign
// Origin, Origin null without Sec-Fetch-Site, a foreign Referer, or
// Sec-Fetch-Site cross-site; the hub's own origin passes. The public
// upload page and the federation document keep working (issue 11, item 10).
func TestHardeningOrigin(t *testing.T) {
	h := startHub(t, hubOptions{})
	anna, csrf := h.loggedIn(t, 851, "anna")
	form := func(caseRef string) []byte {
		return []byte(url.Values{"csrf": {csrf}, "case_ref": {caseRef}, "purpose": {"consent"}, "expiry_days": {"3"},
			"max_files": {"1"}, "retention_days": {"30"}}.Encode())
	}
	ct := "application/x-www-form-urlencoded"
	cases := []struct {
		name    string
		headers map[string]string
		status  int
	}{
		{"foreign Origin", map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		{"Origin null", map[string]string{"Origin": "null"}, http.StatusForbidden},
		{"another port of the hub's host", map[string]string{"Origin": fmt.Sprintf("https://%s:1", domain)}, http.StatusForbidden},
		{"foreign Referer, no Origin", map[string]string{"Referer": "https://evil.example/x"}, http.StatusForbidden},
		{"Sec-Fetch-Site cross-site", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"Sec-Fetch-Site same-site", map[string]string{"Sec-Fetch-Site": "same-site"}, http.StatusForbidden},
		{"same Origin", map[string]string{"Origin": h.base}, http.StatusOK},
		{"same-origin Referer", map[string]string{"Referer": h.base + "/drops/links"}, http.StatusOK},
		{"Origin null from a same-origin page (Referrer-Policy no-referrer)", map[string]string{"Origin": "null", "Sec-Fetch-Site": "same-origin"}, http.StatusOK},
	}
	var link string
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hd := map[string]string{"Content-Type": ct}
			for k, v := range tc.headers {
				hd[k] = v
			}
			caseRef := fmt.Sprintf("SAG-ORIGIN-%d", i)
			resp, body := do(t, anna, "POST", h.base+"/drops/links", form(caseRef), hd)
			if resp.StatusCode != tc.status {
				t.Fatalf("%s, want %d", resp.Status, tc.status)
			}
			_, page := get(t, anna, h.base+"/drops/links")
			if made := strings.Contains(page, caseRef); made != (tc.status == http.StatusOK) {
				t.Errorf("link made: %v", made)
			}
			if m := regexp.MustCompile(`value="(https://[^"]+/u/[A-Za-z0-9_-]{43})"`).FindStringSubmatch(body); m != nil {
				link = html.UnescapeString(m[1])
			}
		})
	}
	if link == "" {
		t.Fatal("no upload link was made")
	}
	// The public upload page: no session, no token, but the same origin rule.
	visitor := h.client()
	b, mct := multipartOf(t, mfield("message", "hej"), mfile("a.pdf", []byte("%PDF-1.4 hej")))
	if resp, _ := do(t, visitor, "POST", link, b, map[string]string{"Content-Type": mct, "Origin": "https://evil.example"}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("upload link post from a foreign origin: %s, want 403", resp.Status)
	}
	if resp, body := do(t, visitor, "POST", link, b, map[string]string{"Content-Type": mct, "Origin": h.base}); resp.StatusCode != 200 || !strings.Contains(body, "a.pdf") {
		t.Errorf("upload link post from the hub's page: %s", resp.Status)
	}
	// Federation: server to server, no browser headers; its document answers.
	resp, body := get(t, visitor, h.base+"/.well-known/hubkit-peer.json")
	var doc map[string]any
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &doc) != nil {
		t.Errorf("federation document: %s", resp.Status)
	}
}
