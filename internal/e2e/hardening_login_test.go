package e2e

import (
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hubkit/hubkit/internal/caddymod/ready"
	"github.com/hubkit/hubkit/internal/testenv"
)

// TestHardeningProviderDown stops Hjørring's real test provider after the
// hub has used it: /readyz stays 200 (Aalborg's provider answers) but says
// Hjørring is down, and /login?kommune=860 shows the hub's own page, in
// Danish or English, with 503, instead of sending the browser on to the
// dead provider. Started again at the same address, both recover and the
// login goes through (issue 11, item 2).
func TestHardeningProviderDown(t *testing.T) {
	h := startHub(t, hubOptions{})
	c := h.client()
	readyz := func() (int, map[int]bool) {
		t.Helper()
		resp, body := get(t, c, h.base+"/readyz")
		var rep ready.Report
		if err := json.Unmarshal([]byte(body), &rep); err != nil {
			t.Fatalf("/readyz is not JSON: %v\n%s", err, body)
		}
		up := map[int]bool{}
		for _, p := range rep.Providers {
			up[p.KommuneCode] = p.Up
		}
		return resp.StatusCode, up
	}
	waitFor := func(what string, want bool) {
		t.Helper()
		deadline := time.Now().Add(45 * time.Second)
		for {
			status, up := readyz()
			if status != 200 {
				t.Fatalf("/readyz %d while Aalborg's provider answers", status)
			}
			if up[860] == want && up[851] {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("/readyz never said Hjørring is %s: %v", what, up)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	waitFor("up", true)
	if resp, _ := get(t, c, h.base+"/login?kommune=860"); resp.StatusCode != http.StatusSeeOther ||
		!strings.HasPrefix(resp.Header.Get("Location"), h.os2.Issuer) {
		t.Fatalf("login start with the provider up: %s %q", resp.Status, resp.Header.Get("Location"))
	}

	cfg := h.os2.Config
	u, _ := url.Parse(h.os2.Issuer)
	_, port, _ := net.SplitHostPort(u.Host)
	cfg.Port, _ = strconv.Atoi(port)
	cfg.Issuer = h.os2.Issuer
	h.os2.Stop()

	waitFor("down", false)
	for lang, want := range map[string]string{
		"da": "Din kommunes login svarer ikke lige nu",
		"en": "Your municipality&#39;s login does not answer right now",
	} {
		resp, body := get(t, c, h.base+"/login?kommune=860&lang="+lang)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Location") != "" || !strings.Contains(body, want) ||
			resp.Header.Get("Content-Security-Policy") == "" || resp.Header.Get("Retry-After") == "" {
			t.Errorf("login start (%s) with the provider down: %s %q\n%s", lang, resp.Status, resp.Header.Get("Location"), tail(body, 30))
		}
	}
	if r := h.lastAudit(t); r.Type != "login" || r.Reason != "provider_unavailable" || r.Kommune != 860 {
		t.Errorf("audit %+v, want the refused login start", r)
	}
	// Aalborg's users are not affected.
	if resp, _ := get(t, c, h.base+"/login?kommune=851"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("Aalborg's login start: %s", resp.Status)
	}

	h.os2 = testenv.StartOIDCProvider(t, cfg)
	waitFor("up again", true)
	carl := h.client()
	if resp, body := get(t, carl, h.loginToCallback(t, carl, 860, "carl", "/")); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login after the provider came back: %s\n%s", resp.Status, tail(body, 30))
	}
}
