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

// maxExposure is the bound of DESIGN.md's security model; the unit scores
// 1.4, offline here and running on the booted host (internal/e2e's
// TestSystemdHostDeploy asserts the same bound there).
const maxExposure = 1.4

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
	unit, err := deploy.SystemdUnit("nordjylland", "/srv/hubkit/nordjylland", "HUBKIT_OIDC_AALBORG_SECRET")
	if err != nil {
		t.Fatal(err)
	}
	backup, _, err := deploy.BackupUnits("nordjylland", "/srv/hubkit/nordjylland", "/var/backups/hubkit/nordjylland")
	if err != nil {
		t.Fatal(err)
	}
	checkExposure(t, deploy.UnitName("nordjylland"), unit)
	checkExposure(t, deploy.BackupUnitName("nordjylland"), backup)
}

func checkExposure(t *testing.T, name string, unit []byte) {
	t.Helper()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatalf("systemd-analyze is missing: install the Debian package systemd (.ci/install-deps does)")
	}
	file := filepath.Join(t.TempDir(), name)
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
	t.Logf("systemd-analyze security %s: exposure %.1f", name, exposure)
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

// TestSystemdUnitCredentials shows that secrets reach the unit by name
// only: one LoadCredential= line per secret, pointing into the region's
// root-only credential directory, and nothing in the environment.
func TestSystemdUnitCredentials(t *testing.T) {
	unit, err := deploy.SystemdUnit("nordjylland", "/srv/hubkit/nordjylland", "B_SECRET", "A_SECRET")
	if err != nil {
		t.Fatal(err)
	}
	want := "LoadCredential=A_SECRET:/etc/hubkit/credentials/nordjylland/A_SECRET\nLoadCredential=B_SECRET:/etc/hubkit/credentials/nordjylland/B_SECRET\n"
	if !bytes.Contains(unit, []byte(want)) {
		t.Errorf("the unit does not load the credentials in order:\n%s", unit)
	}
	if bytes.Contains(unit, []byte("Environment=")) {
		t.Errorf("the hub's unit sets environment itself:\n%s", unit)
	}
	if _, err := deploy.SystemdUnit("nordjylland", "/srv/hubkit/nordjylland", "../etc/shadow"); err == nil {
		t.Error("a credential name with a path was accepted")
	}
}

func TestBackupUnits(t *testing.T) {
	svc, timer, err := deploy.BackupUnits("nordjylland", "/srv/hubkit/nordjylland", "/var/backups/hubkit/nordjylland")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Type=oneshot\n",
		"ExecStart=/srv/hubkit/nordjylland/current/hubctl backup --data /srv/hubkit/nordjylland/data --to /var/backups/hubkit/nordjylland --bundle /srv/hubkit/nordjylland/current --prune\n",
		"ReadWritePaths=/srv/hubkit/nordjylland/data /var/backups/hubkit/nordjylland\n",
		"User=hubkit-nordjylland\n", "ProtectSystem=strict\n", "CapabilityBoundingSet=\n",
	} {
		if !bytes.Contains(svc, []byte(want)) {
			t.Errorf("the backup service lacks %q:\n%s", want, svc)
		}
	}
	for _, want := range []string{"OnCalendar=daily\n", "Persistent=true\n", "RandomizedDelaySec=", "WantedBy=timers.target\n"} {
		if !bytes.Contains(timer, []byte(want)) {
			t.Errorf("the backup timer lacks %q:\n%s", want, timer)
		}
	}
	svc, _, err = deploy.BackupUnits("nordjylland", "/srv/hubkit/nordjylland", "s3://backups.example/nordjylland")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(svc, []byte("ReadWritePaths=/srv/hubkit/nordjylland/data\n")) {
		t.Errorf("a URL destination made a path writable:\n%s", svc)
	}
	for _, bad := range []string{"", "relative/dir", "/tmp/backups", "/home/ops/b", "/var/b ackup", "/var/100%", "s3://x/$HOME", "/"} {
		if _, _, err := deploy.BackupUnits("nordjylland", "/srv/hubkit/nordjylland", bad); err == nil {
			t.Errorf("backup destination %q was accepted", bad)
		}
	}
}
