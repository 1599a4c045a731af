package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hubctl verify, run against a live development hub, finds exactly what
// is wrong with it for real cases: the development login; trusting the
// hub's own CA, the certificate, headers, readiness, data and audit chain
// pass. A key made readable by others and an edited audit record are
// findings too.
func TestVerifyLiveHub(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real hub processes")
	}
	p := newHubProc(t, "nordjylland", "")
	p.start()
	p.login(851, "aalborg-konsulent")
	ca := filepath.Join(p.data, "caddy", "pki", "authorities", "local", "root.crt")
	args := []string{"verify", "--data", p.data, "--url", p.base, "--connect", fmt.Sprintf("127.0.0.1:%d", p.port), "--ca", ca, "--min-days", "0"}
	code, out := p.hubctl(args...)
	t.Logf("hubctl verify:\n%s", out)
	if code != 1 {
		t.Fatalf("verify of a development hub exited %d, want 1 (finding: the development login)", code)
	}
	for _, want := range []string{"ok   data directory whole", "ok   file modes", "ok   audit chain", "ok   certificate",
		"ok   security headers", "ok   ready", "FAIL no development login", "1 finding(s)"} {
		if !strings.Contains(out, want) {
			t.Errorf("verify does not say %q", want)
		}
	}

	key := filepath.Join(p.data, "keys", "filedrop.agekey")
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out = p.hubctl(args...)
	os.Chmod(key, 0o600)
	if code != 1 || !strings.Contains(out, "FAIL file modes") || !strings.Contains(out, "filedrop.agekey is -rw-r--r--, want 0600") {
		t.Errorf("a key readable by others is not a finding (exit %d):\n%s", code, out)
	}

	// Without the hub's CA the certificate is not trusted.
	code, out = p.hubctl(args[:len(args)-4]...)
	if code != 1 || !strings.Contains(out, "FAIL certificate") {
		t.Errorf("an untrusted certificate is not a finding (exit %d):\n%s", code, out)
	}
}
