package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/hubkit/hubkit/internal/audit"
	"github.com/hubkit/hubkit/internal/backup"
	"github.com/hubkit/hubkit/internal/filedrop"
	"github.com/hubkit/hubkit/internal/region"
	"github.com/hubkit/hubkit/internal/store"
)

// TestBackupCommands: backup of a data directory whose engine is open (a
// running hub), list, verify with and without the identity, prune,
// restore; and the refusals an operator meets.
func TestBackupCommands(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	st, err := store.Open(filepath.Join(dir, filedrop.StoreFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	log, err := audit.Open(filepath.Join(dir, audit.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	id, err := filedrop.LoadOrCreateIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	files, days, maxDays := 3, 30, 90
	d, err := filedrop.Open(ctx, st, log, dir, id, filedrop.Options{
		Policy: region.FileDropPolicy{MaxFileBytes: 1 << 20, MaxFilesPerDrop: &files, DefaultRetentionDays: &days, MaxRetentionDays: &maxDays}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	a := filedrop.Actor{UserKey: "851:anna", Kommune: 851, Roles: []string{"consultant"}}
	drop, err := d.CreateDrop(ctx, a, filedrop.DropSpec{CaseRef: "SAG-1", Purpose: filedrop.PurposeConsent, Recipients: []string{"860:carl"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.AddFile(ctx, a, drop.ID, "a.txt", 5, strings.NewReader("hello")); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Seal(ctx, a, drop.ID); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(t.TempDir(), "backups")

	_, errOut, code := run(t, "backup", "--data", dir, "--to", dest)
	if code != 1 || !strings.Contains(errOut, "set backup.recipients") {
		t.Fatalf("backup without recipients: exit %d: %s", code, errOut)
	}
	var status backup.Status
	b, _ := os.ReadFile(filepath.Join(dir, backup.StatusFile))
	if json.Unmarshal(b, &status); status.OK || !strings.Contains(status.Error, "backup.recipients") {
		t.Fatalf("status after a refused backup: %s", b)
	}

	op, _ := age.GenerateX25519Identity()
	idFile := filepath.Join(t.TempDir(), "operator.agekey")
	os.WriteFile(idFile, []byte("# operator\n"+op.String()+"\n"), 0o600)
	t.Setenv("HUBKIT_BACKUP_RECIPIENTS", op.Recipient().String())
	out, errOut, code := run(t, "backup", "--data", dir, "--to", dest, "--region", "nordjylland")
	if code != 0 || !strings.Contains(out, "1 blobs (1 copied, 0 shared)") || !strings.Contains(errOut, "backup: snapshot written") {
		t.Fatalf("backup: exit %d\n%s%s", code, out, errOut)
	}
	b, _ = os.ReadFile(filepath.Join(dir, backup.StatusFile))
	if json.Unmarshal(b, &status); !status.OK || status.Snapshot == "" || status.Dest != dest {
		t.Fatalf("status after a backup: %s", b)
	}
	out, _, code = run(t, "backup", "list", dest)
	if code != 0 || !strings.Contains(out, status.Snapshot) || !strings.Contains(out, "nordjylland") || !strings.Contains(out, "complete") {
		t.Fatalf("list: exit %d\n%s", code, out)
	}
	out, errOut, code = run(t, "backup", "verify", dest, "--identity", idFile)
	if code != 0 || !strings.Contains(out, "ok  snapshot "+status.Snapshot) || !strings.Contains(out, "1 drops with 1 files all present") {
		t.Fatalf("verify: exit %d\n%s%s", code, out, errOut)
	}
	out, _, code = run(t, "backup", "prune", dest)
	if code != 0 || !strings.Contains(out, "1 snapshot(s) kept, 0 deleted") {
		t.Fatalf("prune: exit %d\n%s", code, out)
	}

	nonEmpty := t.TempDir()
	os.WriteFile(filepath.Join(nonEmpty, "x"), nil, 0o600)
	_, errOut, code = run(t, "restore", "--from", dest, "--data", nonEmpty, "--identity", idFile)
	if code != 1 || !strings.Contains(errOut, "is not empty") {
		t.Fatalf("restore into a non-empty dir: exit %d: %s", code, errOut)
	}
	_, errOut, code = run(t, "restore", "--from", dest, "--data", filepath.Join(t.TempDir(), "r"), "--identity", idFile, "--at", "2001-01-01")
	if code != 1 || !strings.Contains(errOut, "no complete snapshot taken at or before 2001-01-01T23:59:59Z") {
		t.Fatalf("restore --at before every snapshot: exit %d: %s", code, errOut)
	}
	restored := filepath.Join(t.TempDir(), "r")
	out, errOut, code = run(t, "restore", "--from", dest, "--data", restored, "--identity", idFile, "--name", status.Snapshot)
	if code != 0 || !strings.Contains(out, "check ok: 1 drops with 1 files") {
		t.Fatalf("restore: exit %d\n%s%s", code, out, errOut)
	}
	_, errOut, code = run(t, "backup", "verify", filepath.Join(t.TempDir(), "nothing"))
	if code != 1 || !strings.Contains(errOut, "is not a directory") {
		t.Fatalf("verify of a missing directory: exit %d: %s", code, errOut)
	}
	t.Setenv("HUBKIT_BACKUP_S3_ENDPOINT", "127.0.0.1:1")
	t.Setenv("HUBKIT_BACKUP_S3_ACCESS_KEY", "AKIDEXAMPLE")
	t.Setenv("HUBKIT_BACKUP_S3_SECRET_KEY", "very-secret-example-key")
	t.Setenv("HUBKIT_BACKUP_S3_INSECURE", "true")
	_, errOut, code = run(t, "backup", "list", "s3://bucket/prefix")
	if code != 1 || strings.Contains(errOut, "very-secret-example-key") {
		t.Fatalf("list of an unreachable bucket: exit %d: %s", code, errOut)
	}
}
