package config

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The example alert rules parse, and fire as their unit tests say, in
// Prometheus's own promtool (Debian package prometheus, from
// .ci/install-deps).
func TestAlertRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is missing: run .ci/install-deps (Debian package prometheus)")
	}
	dir := filepath.Join("..", "..", "config", "prometheus")
	for _, args := range [][]string{{"check", "rules", "hubkit.rules.yml"}, {"test", "rules", "hubkit.rules.test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "SUCCESS") {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
