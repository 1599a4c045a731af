package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubkit/hubkit/internal/audit"
	"github.com/hubkit/hubkit/internal/filedrop"
	"github.com/hubkit/hubkit/internal/region"
	"github.com/hubkit/hubkit/internal/store"
)

// TestDropsPurge: a drop whose retention ended while the hub was stopped
// is deleted by `hubctl drops purge`; a running hub's data directory is
// refused with a message saying so.
func TestDropsPurge(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st, err := store.Open(filepath.Join(dir, filedrop.StoreFile))
	if err != nil {
		t.Fatal(err)
	}
	log, err := audit.Open(filepath.Join(dir, audit.FileName))
	if err != nil {
		t.Fatal(err)
	}
	id, err := filedrop.LoadOrCreateIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	files, days, maxDays := 3, 1, 90
	past := func() time.Time { return time.Now().Add(-72 * time.Hour) }
	d, err := filedrop.Open(ctx, st, log, dir, id, filedrop.Options{Now: past,
		Policy: region.FileDropPolicy{MaxFileBytes: 1 << 20, MaxFilesPerDrop: &files, DefaultRetentionDays: &days, MaxRetentionDays: &maxDays}})
	if err != nil {
		t.Fatal(err)
	}
	a := filedrop.Actor{UserKey: "851:anna", Kommune: 851, Roles: []string{"consultant"}}
	drop, err := d.CreateDrop(ctx, a, filedrop.DropSpec{CaseRef: "SAG-1", Purpose: filedrop.PurposeConsent, Recipients: []string{"860:carl"}, RetentionDays: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.AddFile(ctx, a, drop.ID, "a.txt", 5, strings.NewReader("hello")); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Seal(ctx, a, drop.ID); err != nil {
		t.Fatal(err)
	}
	d.Close()
	st.Close()

	// The audit log still open: the hub is running.
	_, errOut, code := run(t, "drops", "purge", "--data", dir)
	if code != 1 || !strings.Contains(errOut, "in use by a running hub; stop the hub first") {
		t.Fatalf("purge of a held data dir: exit %d: %s", code, errOut)
	}
	log.Close()

	out, errOut, code := run(t, "drops", "purge", "--data", dir)
	if code != 0 || !strings.Contains(out, "1 drop(s) expired") || !strings.Contains(out, "1 drop(s) purged (1 file(s), 5 B)") {
		t.Fatalf("purge: exit %d: %s%s", code, out, errOut)
	}
	blobs, _ := filepath.Glob(filepath.Join(dir, filedrop.BlobDir, "*", "*.age"))
	if len(blobs) != 0 {
		t.Errorf("blobs left after the purge: %v", blobs)
	}
	if out, _, _ := run(t, "drops", "purge", "--data", dir); !strings.Contains(out, "0 drop(s) expired") {
		t.Errorf("second purge: %s", out)
	}
	if _, err := audit.Verify(filepath.Join(dir, audit.FileName)); err != nil {
		t.Errorf("audit log after the purge: %v", err)
	}

	missing := filepath.Join(t.TempDir(), "typo")
	_, errOut, code = run(t, "drops", "purge", "--data", missing)
	if code != 1 || !strings.Contains(errOut, "holds no hub database") {
		t.Errorf("purge of a wrong directory: exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(missing, filedrop.StoreFile)); err == nil {
		t.Error("purge created a database in a wrong directory")
	}
}
