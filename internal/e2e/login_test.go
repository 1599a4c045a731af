package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hubkit/hubkit/internal/audit"
)

// One hub serves all login tests of this file, in order; each test uses
// its own client (browser).
func TestLoginAgainstRealProviders(t *testing.T) {
	h := startHub(t, hubOptions{})

	t.Run("entra consultant logs in and lands on the return URL", func(t *testing.T) {
		c := h.client()
		cb := h.loginToCallback(t, c, 851, "anna", "/directory?q=ssp")
		resp, body := get(t, c, cb)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/directory?q=ssp" {
			t.Fatalf("callback: %s %s\n%s", resp.Status, resp.Header.Get("Location"), body)
		}
		resp, body = get(t, c, h.base+"/directory?q=ssp")
		if resp.StatusCode != 200 || !strings.Contains(body, "Anna Konsulent") {
			t.Fatalf("directory after login: %s\n%s", resp.Status, body)
		}
		rec := h.lastAudit(t)
		if rec.Type != "login" || rec.Outcome != audit.Success || rec.Actor != tenant+":oid-anna" {
			t.Errorf("audit %+v", rec)
		}
		// Replaying the callback (state and code) fails: the state is single-use.
		resp, body = get(t, c, cb)
		expectFailure(t, h, resp, body, http.StatusBadRequest, "state_mismatch")
	})

	t.Run("os2faktor professional logs in", func(t *testing.T) {
		c := h.client()
		resp, body := get(t, c, h.loginToCallback(t, c, 860, "carl", "/"))
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("callback: %s\n%s", resp.Status, body)
		}
		if rec := h.lastAudit(t); rec.Actor != "860:carl" || rec.Detail["nsis"] != "substantial" || rec.Detail["roles"] != "professional" {
			t.Errorf("audit %+v", rec)
		}
	})

	t.Run("missing role gets the no-access page", func(t *testing.T) {
		c := h.client()
		resp, body := get(t, c, h.loginToCallback(t, c, 851, "bo", "/"))
		expectFailure(t, h, resp, body, http.StatusForbidden, "no_role")
		if !strings.Contains(body, h.hotline()) {
			t.Errorf("no-access page should say whom to contact (hotline %s)", h.hotline())
		}
	})

	t.Run("tenant not allowed", func(t *testing.T) {
		c := h.client()
		resp, body := get(t, c, h.loginToCallback(t, c, 851, "eve", "/"))
		expectFailure(t, h, resp, body, http.StatusForbidden, "tenant_not_allowed")
	})

	t.Run("NSIS level too low", func(t *testing.T) {
		c := h.client()
		resp, body := get(t, c, h.loginToCallback(t, c, 860, "dora", "/"))
		expectFailure(t, h, resp, body, http.StatusForbidden, "nsis_too_low")
	})

	t.Run("provider of a non-member municipality", func(t *testing.T) {
		c := h.client()
		resp, body := get(t, c, h.base+"/auth/start?kommune=101") // København is not in Nordjylland
		if resp.StatusCode != http.StatusBadRequest || strings.Contains(resp.Header.Get("Location"), "http") {
			t.Fatalf("start for a non-member: %s %s", resp.Status, resp.Header.Get("Location"))
		}
		_ = body
	})

	t.Run("return URL off-site is dropped", func(t *testing.T) {
		for _, evil := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example"} {
			c := h.client()
			resp, body := get(t, c, h.loginToCallback(t, c, 851, "anna", evil))
			if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/" {
				t.Errorf("return %q: %s to %q\n%s", evil, resp.Status, loc, body)
			}
		}
	})

	t.Run("state from another browser", func(t *testing.T) {
		victim, attacker := h.client(), h.client()
		cb := h.loginToCallback(t, attacker, 851, "anna", "/")
		resp, body := get(t, victim, cb) // login CSRF: the victim's browser lacks the binding cookie
		expectFailure(t, h, resp, body, http.StatusBadRequest, "browser_mismatch")
	})

	t.Run("code replay with a fresh state", func(t *testing.T) {
		c := h.client()
		first := h.loginToCallback(t, c, 851, "anna", "/")
		resp, _ := get(t, c, first)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("first login: %s", resp.Status)
		}
		code := mustQuery(t, first).Get("code")
		second := mustQuery(t, h.loginToCallback(t, c, 851, "anna", "/"))
		u := h.base + "/auth/callback?" + url.Values{"code": {code}, "state": {second.Get("state")}, "iss": {second.Get("iss")}}.Encode()
		resp, body := get(t, c, u)
		expectFailure(t, h, resp, body, http.StatusUnauthorized, "code_rejected")
	})

	t.Run("session fixation: the id is new after login", func(t *testing.T) {
		c := h.client()
		planted := &http.Cookie{Name: "__Host-hub_session", Value: "planted-by-attacker", Path: "/", Secure: true}
		u, _ := url.Parse(h.base + "/")
		c.Jar.SetCookies(u, []*http.Cookie{planted})
		get(t, c, h.loginToCallback(t, c, 851, "anna", "/"))
		var got string
		for _, ck := range c.Jar.Cookies(u) {
			if ck.Name == "__Host-hub_session" {
				got = ck.Value
			}
		}
		if got == "" || got == planted.Value || len(got) != 43 {
			t.Fatalf("session id after login %q", got)
		}
	})

	t.Run("logout ends the session and goes to the provider", func(t *testing.T) {
		c := h.client()
		get(t, c, h.loginToCallback(t, c, 860, "carl", "/"))
		csrf := h.csrf(t, c)
		// Without the CSRF token logout is refused.
		resp, _ := postForm(t, c, h.base+"/auth/logout", url.Values{})
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("logout without CSRF: %s", resp.Status)
		}
		resp, _ = postForm(t, c, h.base+"/auth/logout", url.Values{"csrf": {csrf}})
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, h.os2.BaseURL) || !strings.Contains(loc, "id_token_hint=") {
			t.Fatalf("logout: %s to %s", resp.Status, loc)
		}
		resp, _ = get(t, c, h.base+"/directory")
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
			t.Fatalf("after logout /directory gave %s %s, want a redirect to login", resp.Status, resp.Header.Get("Location"))
		}
		if rec := findAudit(h.auditRecords(t), "logout"); rec == nil || rec.Actor != "860:carl" {
			t.Errorf("no logout audit record")
		}
	})

	t.Run("back-channel logout ends the session", func(t *testing.T) {
		c := h.client()
		get(t, c, h.loginToCallback(t, c, 860, "carl", "/"))
		if resp, _ := get(t, c, h.base+"/"); resp.StatusCode != 200 {
			t.Fatalf("home after login: %s", resp.Status)
		}
		if err := h.os2.TriggerBackchannelLogout("carl", ""); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, _ := get(t, c, h.base+"/")
			if resp.StatusCode == http.StatusSeeOther {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("session still alive after back-channel logout: %s", resp.Status)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if rec := findAudit(h.auditRecords(t), "logout_backchannel"); rec == nil {
			t.Error("no back-channel logout audit record")
		}
	})

}

func TestLoginRateLimit(t *testing.T) {
	h := startHub(t, hubOptions{strictLimits: true})
	c := h.client()
	limited := false
	for i := 0; i < 40 && !limited; i++ {
		resp, _ := get(t, c, h.base+"/auth/start?kommune=860")
		limited = resp.StatusCode == http.StatusTooManyRequests
		if limited && resp.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if !limited {
		t.Fatal("40 login starts in a row were not rate limited")
	}
	if rec := h.lastAudit(t); rec.Reason != "rate_limited" {
		t.Errorf("audit %+v", rec)
	}
}

func TestIdleTimeout(t *testing.T) {
	h := startHub(t, hubOptions{idle: 2 * time.Second, absolute: time.Hour})
	c := h.client()
	get(t, c, h.loginToCallback(t, c, 860, "carl", "/"))
	if resp, _ := get(t, c, h.base+"/"); resp.StatusCode != 200 {
		t.Fatalf("home after login: %s", resp.Status)
	}
	time.Sleep(3 * time.Second)
	resp, _ := get(t, c, h.base+"/directory")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?return=") {
		t.Fatalf("idle session still served: %s %s", resp.Status, resp.Header.Get("Location"))
	}
	rec := findAudit(h.auditRecords(t), "session_expired")
	if rec == nil || rec.Reason != "idle" || rec.Actor != "860:carl" {
		t.Fatalf("session_expired audit: %+v", rec)
	}
}

func expectFailure(t *testing.T, h *hub, resp *http.Response, body string, status int, reason string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Errorf("status %s, want %d\n%s", resp.Status, status, body)
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == "__Host-hub_session" && ck.MaxAge >= 0 && ck.Value != "" {
			t.Errorf("a refused login set a session cookie")
		}
	}
	rec := h.lastAudit(t)
	if rec.Type != "login" || rec.Outcome != audit.Failure || rec.Reason != reason {
		t.Errorf("last audit record %+v, want a login failure %q", rec, reason)
	}
}

func findAudit(recs []audit.Record, typ string) *audit.Record {
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].Type == typ {
			return &recs[i]
		}
	}
	return nil
}

func mustQuery(t *testing.T, u string) url.Values {
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return p.Query()
}
