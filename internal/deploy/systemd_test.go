package deploy_test

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/hubkit/hubkit/internal/deploy"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// maxExposure is the bound of DESIGN.md's security model.
const maxExposure = 1.5

func TestSystemdUnitGolden(t *testing.T) {
	unit, err := deploy.SystemdUnit("nordjylland", "/srv/hubkit/nordjylland")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "hubkit-nordjylland.service.golden")
	if *update {
		if err := os.WriteFile(golden, unit, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(unit, want) {
		t.Errorf("the rendered unit differs from %s (run go test -update after checking the change):\n%s", golden, unit)
	}
}

// TestSystemdUnitExposure runs systemd's own security analysis on the
// rendered unit, as an auditor would.
func TestSystemdUnitExposure(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatalf("systemd-analyze is missing: install the Debian package systemd (.ci/install-deps does)")
	}
	unit, err := deploy.SystemdUnit("nordjylland", "/srv/hubkit/nordjylland")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), deploy.UnitName("nordjylland"))
	if err := os.WriteFile(file, unit, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "security", "--offline=true", "--no-pager", file).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no overall exposure level in the output:\n%s", out)
	}
	exposure, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("systemd-analyze security: exposure %.1f", exposure)
	if exposure > maxExposure {
		t.Errorf("exposure %.1f is above %.1f:\n%s", exposure, maxExposure, out)
	}
}

func TestSystemdUnitRefusesBadInput(t *testing.T) {
	for _, c := range []struct{ region, dir string }{
		{"Nord Jylland", "/srv/hubkit/x"},
		{"nordjylland", "relative"},
		{"nordjylland", "/srv/hub kit"},
		{"nordjylland", "/srv/100%"},
		{"nordjylland", "/home/ops/hubkit"},
		{"nordjylland", "/tmp/hubkit"},
	} {
		if _, err := deploy.SystemdUnit(c.region, c.dir); err == nil {
			t.Errorf("SystemdUnit(%q, %q) was accepted", c.region, c.dir)
		}
	}
}
