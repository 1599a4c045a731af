package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// TestSecurityHeaders checks the hardened front on every class of route:
// unauthenticated probes, static assets, login pages, the login redirect
// of a private page, private pages, and error pages.
func TestSecurityHeaders(t *testing.T) {
	h := startHub(t, hubOptions{})
	anon, user := h.client(), h.client()
	get(t, user, h.loginToCallback(t, user, 851, "anna", "/"))

	routes := []struct {
		class   string
		c       *http.Client
		path    string
		status  int
		private bool // Cache-Control: no-store required
	}{
		{"liveness", anon, "/healthz", 200, true},
		{"readiness", anon, "/readyz", 200, true},
		{"static asset", anon, "/assets/hub.css", 200, false},
		{"login chooser", anon, "/login", 200, true},
		{"signed out", anon, "/auth/signed-out", 200, true},
		{"login error", anon, "/auth/callback?state=x&code=y", 400, true},
		{"private page, logged out", anon, "/directory", 303, true},
		{"home", user, "/", 200, true},
		{"directory", user, "/directory?q=ssp", 200, true},
		{"print view", user, "/directory/print", 200, true},
		{"not found", user, "/no-such-page", 404, true},
		{"method not allowed", anon, "/auth/logout", 405, true},
	}
	for _, r := range routes {
		t.Run(r.class, func(t *testing.T) {
			resp, _ := get(t, r.c, h.base+r.path)
			if resp.StatusCode != r.status {
				t.Fatalf("%s: %s, want %d", r.path, resp.Status, r.status)
			}
			hd := resp.Header
			want := map[string]string{
				"Strict-Transport-Security": "max-age=63072000",
				"Content-Security-Policy":   "default-src 'none'",
				"X-Content-Type-Options":    "nosniff",
				"X-Frame-Options":           "DENY",
				"Referrer-Policy":           "no-referrer",
				"Permissions-Policy":        "camera=()",
			}
			for name, part := range want {
				if !strings.Contains(hd.Get(name), part) {
					t.Errorf("%s: %s = %q, want it to contain %q", r.path, name, hd.Get(name), part)
				}
			}
			csp := hd.Get("Content-Security-Policy")
			for _, d := range []string{"frame-ancestors 'none'", "script-src 'self'", "style-src 'self'"} {
				if !strings.Contains(csp, d) {
					t.Errorf("%s: CSP lacks %s", r.path, d)
				}
			}
			if strings.Contains(csp, "unsafe-inline") {
				t.Errorf("%s: CSP allows inline code", r.path)
			}
			if s := hd.Get("Server"); s != "" {
				t.Errorf("%s: Server header %q", r.path, s)
			}
			if cc := hd.Get("Cache-Control"); r.private != strings.Contains(cc, "no-store") {
				t.Errorf("%s: Cache-Control %q (private=%v)", r.path, cc, r.private)
			}
		})
	}

	t.Run("request body limit", func(t *testing.T) {
		big := strings.NewReader("logout_token=" + strings.Repeat("x", 128<<10))
		resp, err := anon.Post(h.base+"/auth/backchannel-logout", "application/x-www-form-urlencoded", big)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge && resp.StatusCode != http.StatusBadRequest {
			t.Errorf("128 KiB to a login endpoint: %s, want 413 (or 400)", resp.Status)
		}
	})

	t.Run("HTTP is not served", func(t *testing.T) {
		c := h.client()
		if resp, err := c.Get(strings.Replace(h.base, "https://", "http://", 1) + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode < 300 {
				t.Errorf("plain HTTP got %s; the hub must only answer over TLS", resp.Status)
			}
		}
	})
}
