package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/hubkit/hubkit/internal/audit"
)

// readAudit reads the records of the audit log in dir.
func readAudit(t testing.TB, dir string) []audit.Record {
	t.Helper()
	var out []audit.Record
	_, err := audit.Export(filepath.Join(dir, audit.FileName), func(r audit.Record) bool { out = append(out, r); return false }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// scrape reads the metrics listener of a hub process.
func scrape(t testing.TB, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape %s: %v", addr, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("scrape %s: %s\n%s", addr, resp.Status, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("the metrics do not parse as Prometheus text: %v", err)
	}
	return fams
}

// value is the value of the series of family name whose labels include
// all of want; ok is false when there is none.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
	var sum float64
	found := false
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		found = true
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Untyped != nil:
			sum += m.Untyped.GetValue()
		}
	}
	return sum, found
}

// After a scripted journey the metrics say exactly what happened: two
// logins, one refused with its reason, one drop of N bytes; Caddy's own
// HTTP metrics are there; the hub's public listener does not serve them.
func TestMetricsAfterJourney(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real hub processes")
	}
	p := newHubProc(t, "nordjylland", "")
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	p.args = []string{"--metrics-listen", addr}
	p.start()

	p.login(851, "aalborg-fagperson")
	s := p.login(851, "aalborg-konsulent")
	// A refused login: the user cancels at Aalborg's identity provider,
	// which sends the browser back with error=access_denied.
	jar, _ := cookiejar.New(nil)
	nofollow := &http.Client{Jar: jar, Transport: p.transport(), Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, _ := get(t, nofollow, p.base+"/login?kommune=851")
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("state") == "" {
		t.Fatalf("login start: %s, Location %q", resp.Status, resp.Header.Get("Location"))
	}
	resp, _ = get(t, nofollow, p.base+"/auth/callback?error=access_denied&state="+url.QueryEscape(loc.Query().Get("state")))
	if resp.StatusCode < 400 {
		t.Fatalf("callback with error=access_denied: %s", resp.Status)
	}
	var refusal string
	for _, r := range readAudit(t, p.auditDir()) {
		if r.Type == "login" && r.Outcome == "failure" {
			refusal = r.Reason
		}
	}
	if refusal == "" {
		t.Fatal("the refused login has no audit record with a reason")
	}
	data := randomBytes(123_457)
	if _, err := s.sendDrop(context.Background(), "SAG-METRIK", "773:773.morsoe-fagperson", "bilag.pdf", int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}

	fams := scrape(t, addr)
	region := map[string]string{"region": "nordjylland"}
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"hubkit_logins_total", map[string]string{"region": "nordjylland", "kommune": "851", "outcome": "success"}, 2},
		{"hubkit_logins_total", map[string]string{"region": "nordjylland", "kommune": "851", "outcome": "failure", "reason": refusal}, 1},
		{"hubkit_logins_total", map[string]string{"region": "nordjylland", "outcome": "failure"}, 1},
		{"hubkit_sessions_active", region, 2},
		{"hubkit_drops_stored", region, 1},
		{"hubkit_drop_bytes_stored", region, float64(len(data))},
		{"hubkit_audit_events_total", map[string]string{"region": "nordjylland", "type": "drop.upload", "outcome": "success"}, 1},
		{"hubkit_audit_events_total", map[string]string{"region": "nordjylland", "type": "drop.seal", "outcome": "success"}, 1},
		{"hubkit_upload_received_bytes_total", region, float64(len(data))},
		{"hubkit_uploads_in_flight", region, 0},
		{"hubkit_audit_chain_ok", region, 1},
	}
	for _, c := range checks {
		got, ok := value(fams, c.name, c.labels)
		if !ok || got != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if free, ok := value(fams, "hubkit_storage_free_bytes", region); !ok || free <= 0 {
		t.Errorf("hubkit_storage_free_bytes = %v, %v", free, ok)
	}
	if n, ok := value(fams, "caddy_http_requests_total", nil); !ok || n < 5 {
		t.Errorf("Caddy's HTTP metrics: caddy_http_requests_total = %v (present %v)", n, ok)
	}
	var names []string
	for n := range fams {
		names = append(names, n)
	}
	if t.Failed() {
		t.Logf("families: %s", strings.Join(names, " "))
	}

	// /readyz reports the audit chain as the metrics do.
	if resp, body := s.get("/readyz"); resp.StatusCode != 200 || !strings.Contains(body, `"audit":{"chain_ok":true`) {
		t.Errorf("/readyz does not report the audit chain: %s %s", resp.Status, body)
	}

	// The public listener has no metrics.
	if resp, body := s.get("/metrics"); resp.StatusCode != 404 || strings.Contains(body, "hubkit_logins_total") {
		t.Errorf("GET /metrics on the hub's public listener: %s", resp.Status)
	}
}
