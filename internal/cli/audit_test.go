package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hubkit/hubkit/internal/audit"
)

func TestAuditVerifyAndExport(t *testing.T) {
	dir := t.TempDir()
	log, err := audit.Open(filepath.Join(dir, audit.FileName))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	log.Append(ctx, audit.Event{Type: "login", Outcome: audit.Success, Actor: "851:anna"})
	log.Append(ctx, audit.Event{Type: "drop.create", Outcome: audit.Success, Actor: "851:anna", Case: "2026-1"})
	log.Append(ctx, audit.Event{Type: "login", Outcome: audit.Success, Actor: "860:carl"})
	log.Close()

	out, _, code := run(t, "audit", "verify", "--data", dir)
	if code != 0 || !strings.Contains(out, "3 records intact") {
		t.Fatalf("verify: exit %d: %s", code, out)
	}
	out, errOut, code := run(t, "audit", "export", "--data", dir, "--person", "851:anna")
	if code != 0 || strings.Count(out, "\n") != 2 || !strings.Contains(errOut, "2 record(s)") {
		t.Fatalf("export by person: exit %d: %s %s", code, out, errOut)
	}
	out, _, _ = run(t, "audit", "export", "--data", dir, "--case", "2026-1")
	if strings.Count(out, "\n") != 1 || !strings.Contains(out, `"case":"2026-1"`) {
		t.Fatalf("export by case: %s", out)
	}

	// Delete the middle record: verify names the break and exits 1.
	path := filepath.Join(dir, audit.FileName)
	b, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(b), "\n")
	os.WriteFile(path, []byte(lines[0]+lines[2]), 0o600)
	out, _, code = run(t, "audit", "verify", "--data", dir)
	if code != 1 || !strings.Contains(out, "BROKEN") || !strings.Contains(out, ":2:") {
		t.Fatalf("tampered log: exit %d: %s", code, out)
	}
	if _, _, code = run(t, "audit", "export", "--data", dir, "--case", "2026-1"); code != 1 {
		t.Fatal("export of a broken log must fail")
	}
}
