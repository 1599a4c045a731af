package login

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hubkit/hubkit/internal/audit"
)

// TestProviderDownAfterDiscovery: a provider that answered once and then
// stops answering is noticed at the next login (and by Ready, Health):
// no redirect to it, a 503 failure audited as provider_unavailable; when
// it answers again, logins go to it again.
func TestProviderDownAfterDiscovery(t *testing.T) {
	old := healthTTL
	healthTTL = 0 // every call checks afresh
	t.Cleanup(func() { healthTTL = old })
	h := newHarness(t, nil)
	start := func() *Failure {
		w := httptest.NewRecorder()
		_, f := h.svc.Start(w, httptest.NewRequest("GET", "https://nordjylland.hub.localhost/login?kommune=851", nil), 851, "/")
		return f
	}
	if f := start(); f != nil {
		t.Fatalf("start with the provider up: %v", f)
	}
	if err := h.svc.Ready(t.Context()); err != nil || !h.svc.Health()[0].Up {
		t.Fatalf("ready %v, health %+v", err, h.svc.Health())
	}

	h.op.down.Store(true)
	f := start()
	if f == nil || f.Reason != "provider_unavailable" || f.Status != http.StatusServiceUnavailable {
		t.Fatalf("start with the provider down: %v, want provider_unavailable 503", f)
	}
	if rec := h.lastAudit(t); rec.Reason != "provider_unavailable" || rec.Outcome != audit.Failure || rec.Kommune != 851 {
		t.Errorf("audit %+v", rec)
	}
	// Its only provider is down: the hub cannot log anyone in.
	if err := h.svc.Ready(t.Context()); err == nil {
		t.Error("Ready with every provider down")
	}
	if hs := h.svc.Health(); hs[0].Up || hs[0].Checked.IsZero() {
		t.Errorf("health %+v, want down", hs)
	}

	h.op.down.Store(false)
	if f := start(); f != nil {
		t.Fatalf("start after the provider came back: %v", f)
	}
	if hs := h.svc.Health(); !hs[0].Up || time.Since(hs[0].Since) > time.Minute {
		t.Errorf("health %+v, want up since just now", hs)
	}
}

// TestWatchNotices: the background watcher alone (no login) marks a
// provider down and up again.
func TestWatchNotices(t *testing.T) {
	h := newHarness(t, nil)
	h.svc.Watch(t.Context())
	wait := func(up bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for h.svc.Health()[0].Up != up || h.svc.Health()[0].Checked.IsZero() {
			if time.Now().After(deadline) {
				t.Fatalf("the watcher did not see the provider up=%v: %+v", up, h.svc.Health())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	wait(true)
	h.op.down.Store(true)
	// A working provider is rechecked every healthInterval; the test
	// triggers the next check the way a login would.
	h.svc.providers[851].check(t.Context())
	wait(false)
	h.op.down.Store(false)
	wait(true) // the backoff's first retry comes after backoffMin
}
