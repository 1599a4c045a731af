package backup_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubkit/hubkit/internal/audit"
	"github.com/hubkit/hubkit/internal/backup"
	"github.com/hubkit/hubkit/internal/backup/dirtarget"
)

func newTarget(t testing.TB) *dirtarget.Dir {
	d, err := dirtarget.Open(filepath.Join(t.TempDir(), "backups"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// A snapshot of a running hub restores into an empty directory: every
// file's blob is back with its hash, the audit chain verifies, the keys
// are the same bytes with their modes.
func TestBackupRestore(t *testing.T) {
	ctx := context.Background()
	h := newTestHub(t)
	op := newOperator(t)
	tg := newTarget(t)
	h.addDrop(30, 1000, 200_000)
	h.addDrop(10, 5)
	res := h.backupNow(tg, op)
	m := res.Manifest
	if len(m.Blobs) != 3 || res.BlobsCopied != 3 || res.BlobsShared != 0 || len(m.Ended) != 0 {
		t.Fatalf("manifest has %d blobs (%d copied, %d shared, %d ended), want 3 copied", len(m.Blobs), res.BlobsCopied, res.BlobsShared, len(m.Ended))
	}
	sum, err := audit.Verify(filepath.Join(h.dir, audit.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if m.Audit.Seq != sum.LastSeq || m.Audit.Hash != sum.Head {
		t.Fatalf("manifest audit head %+v, the log's is %d %s", m.Audit, sum.LastSeq, sum.Head)
	}
	if m.Region != "nordjylland" || m.SigningKey == "" || m.Version != "test" {
		t.Fatalf("manifest region %q, version %q, signing key %q", m.Region, m.Version, m.SigningKey)
	}
	got, err := backup.ReadManifest(ctx, tg, m.Name)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != m.Name || len(got.Blobs) != 3 {
		t.Fatalf("read back manifest %s with %d blobs", got.Name, len(got.Blobs))
	}
	if _, err := backup.Verify(ctx, tg, got, op.id, nil, time.Now()); err != nil {
		t.Fatalf("verify: %v", err)
	}

	dst := filepath.Join(t.TempDir(), "restored")
	rr, err := backup.Restore(ctx, tg, got, dst, op.id, backup.RestoreOptions{Policy: testPolicy()})
	if err != nil {
		t.Fatal(err)
	}
	if rr.Blobs != 3 || rr.Check.Drops != 2 || rr.Check.Files != 3 {
		t.Fatalf("restore: %d blobs, check saw %d drops and %d files", rr.Blobs, rr.Check.Drops, rr.Check.Files)
	}
	for _, b := range m.Blobs {
		want, _ := os.ReadFile(filepath.Join(h.dir, "blobs", b.File[:2], b.File+".age"))
		have, err := os.ReadFile(filepath.Join(dst, "blobs", b.File[:2], b.File+".age"))
		if err != nil || !bytes.Equal(want, have) {
			t.Fatalf("blob %s not restored byte for byte: %v", b.File, err)
		}
	}
	for _, k := range []string{"keys/filedrop.agekey", "keys/federation.key"} {
		want, _ := os.ReadFile(filepath.Join(h.dir, k))
		have, err := os.ReadFile(filepath.Join(dst, k))
		if err != nil || !bytes.Equal(want, have) {
			t.Fatalf("%s differs after restore: %v", k, err)
		}
		fi, _ := os.Stat(filepath.Join(dst, k))
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s has mode %v", k, fi.Mode().Perm())
		}
	}
	if fi, _ := os.Stat(filepath.Join(dst, "keys")); fi.Mode().Perm() != 0o700 {
		t.Fatalf("keys/ has mode %v", fi.Mode().Perm())
	}
	rs, err := audit.Verify(filepath.Join(dst, audit.FileName))
	if err != nil || rs.LastSeq != m.Audit.Seq {
		t.Fatalf("restored audit log: %v (last seq %d, want %d)", err, rs.LastSeq, m.Audit.Seq)
	}
}

func TestRefusesWithoutRecipient(t *testing.T) {
	h := newTestHub(t)
	_, err := backup.Backup(context.Background(), h.dir, newTarget(t), backup.Options{})
	if err == nil || !strings.Contains(err.Error(), "backup.recipients") {
		t.Fatalf("backup without recipients: %v; want an error naming backup.recipients", err)
	}
	_, err = backup.Backup(context.Background(), h.dir, newTarget(t), backup.Options{Recipients: []string{"ssh-ed25519 AAAA"}})
	if err == nil || !strings.Contains(err.Error(), "backup.recipients[0]") {
		t.Fatalf("backup with a bad recipient: %v", err)
	}
}

func TestRestoreRefusesNonEmptyDir(t *testing.T) {
	ctx := context.Background()
	h := newTestHub(t)
	op := newOperator(t)
	tg := newTarget(t)
	m := h.backupNow(tg, op).Manifest
	dst := t.TempDir()
	os.WriteFile(filepath.Join(dst, "notes.txt"), []byte("keep me"), 0o600)
	_, err := backup.Restore(ctx, tg, m, dst, op.id, backup.RestoreOptions{Policy: testPolicy()})
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("restore into a non-empty directory: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "notes.txt")); string(b) != "keep me" {
		t.Fatal("restore touched the non-empty directory")
	}
	// The wrong identity cannot decrypt.
	_, err = backup.Restore(ctx, tg, m, filepath.Join(t.TempDir(), "x"), newOperator(t).id, backup.RestoreOptions{Policy: testPolicy()})
	if err == nil || !strings.Contains(err.Error(), "--identity") {
		t.Fatalf("restore with a foreign identity: %v", err)
	}
}

// The second backup after one new drop copies exactly that drop's blob.
func TestIncremental(t *testing.T) {
	h := newTestHub(t)
	op := newOperator(t)
	tg := newTarget(t)
	h.addDrop(30, 1000, 2000, 3000)
	if r := h.backupNow(tg, op); r.BlobsCopied != 3 {
		t.Fatalf("first backup copied %d blobs, want 3", r.BlobsCopied)
	}
	h.addDrop(30, 4000)
	r := h.backupNow(tg, op)
	if r.BlobsCopied != 1 || r.BlobsShared != 3 || len(r.Manifest.Blobs) != 4 {
		t.Fatalf("second backup copied %d and shared %d of %d blobs, want 1 and 3 of 4", r.BlobsCopied, r.BlobsShared, len(r.Manifest.Blobs))
	}
	snaps, err := backup.List(context.Background(), tg)
	if err != nil || len(snaps) != 2 || !snaps[0].Complete() || !snaps[1].Complete() {
		t.Fatalf("list: %v %+v", err, snaps)
	}
}

// verifyFails runs Verify without identity and wants an error saying want.
func verifyFails(t *testing.T, tg backup.Target, name, want string) {
	t.Helper()
	ctx := context.Background()
	m, err := backup.ReadManifest(ctx, tg, name)
	if err == nil {
		_, err = backup.Verify(ctx, tg, m, nil, nil, time.Now())
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("verify: %v; want an error saying %q", err, want)
	}
}

func setupVerify(t *testing.T) (*dirtarget.Dir, *backup.Manifest) {
	h := newTestHub(t)
	op := newOperator(t)
	tg := newTarget(t)
	h.addDrop(30, 1000, 70_000)
	m := h.backupNow(tg, op).Manifest
	if _, err := backup.Verify(context.Background(), tg, m, nil, nil, time.Now()); err != nil {
		t.Fatalf("verify of an intact snapshot: %v", err)
	}
	return tg, m
}

func TestVerifyMissingBlob(t *testing.T) {
	tg, m := setupVerify(t)
	if err := tg.Delete(context.Background(), backup.BlobKey(m.Blobs[1].File)); err != nil {
		t.Fatal(err)
	}
	verifyFails(t, tg, m.Name, "blob "+backup.BlobKey(m.Blobs[1].File)+" of drop "+m.Blobs[1].Drop+" (retained until")
}

func TestVerifyFlippedByte(t *testing.T) {
	for _, which := range []string{"blob", "store"} {
		t.Run(which, func(t *testing.T) {
			tg, m := setupVerify(t)
			key := backup.BlobKey(m.Blobs[0].File)
			if which == "store" {
				key = m.Objects[1].Key
			}
			p := filepath.Join(tg.String(), filepath.FromSlash(key))
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 0x01
			os.WriteFile(p, b, 0o600)
			verifyFails(t, tg, m.Name, key+": SHA-256 is")
		})
	}
}

func TestVerifyManifestEdit(t *testing.T) {
	cases := map[string]func(string) string{
		// A later retention date would keep a blob past the law's limit.
		"retention": func(s string) string { return strings.Replace(s, `"retain_until": "20`, `"retain_until": "21`, 1) },
		// A blob taken out of the manifest.
		"remove blob": func(s string) string {
			i := strings.Index(s, `    {`+"\n"+`      "file"`)
			j := strings.Index(s[i:], "},\n")
			return s[:i] + s[i+j+3:]
		},
		"spacing": func(s string) string { return strings.Replace(s, `"region": `, `"region":  `, 1) },
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			tg, m := setupVerify(t)
			p := filepath.Join(tg.String(), "snapshots", m.Name, "manifest.json")
			b, _ := os.ReadFile(p)
			edited := edit(string(b))
			if edited == string(b) {
				t.Fatal("the edit changed nothing")
			}
			os.WriteFile(p, []byte(edited), 0o600)
			verifyFails(t, tg, m.Name, "manifest was edited")
		})
	}
}

func TestVerifyWithIdentity(t *testing.T) {
	ctx := context.Background()
	h := newTestHub(t)
	op := newOperator(t)
	tg := newTarget(t)
	h.addDrop(30, 1000)
	m := h.backupNow(tg, op).Manifest
	res, err := backup.Verify(ctx, tg, m, op.id, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !res.Decrypted || res.Check.Files != 1 || res.Check.AuditRecords == 0 {
		t.Fatalf("verify with identity: decrypted %v, %+v", res.Decrypted, res.Check)
	}
	if _, err := backup.Verify(ctx, tg, m, newOperator(t).id, nil, time.Now()); err == nil {
		t.Fatal("verify with a foreign identity succeeded")
	}
}

// A blob the sweeper deletes while the backup runs is recorded as ended,
// after the live store says its drop ended; a restore withdraws the drop.
func TestBlobEndedDuringBackup(t *testing.T) {
	ctx := context.Background()
	h := newTestHub(t)
	op := newOperator(t)
	tg := newTarget(t)
	keep, _ := h.addDrop(30, 1000)
	gone, _ := h.addDrop(30, 2000)
	backup.SetTestHookBeforeBlobs(t, func() {
		if err := h.drops.Withdraw(ctx, sender, gone); err != nil {
			t.Error(err)
		}
	})
	m := h.backupNow(tg, op).Manifest
	if len(m.Blobs) != 1 || m.Blobs[0].Drop != keep || len(m.Ended) != 1 || m.Ended[0].Drop != gone {
		t.Fatalf("manifest blobs %+v ended %+v; want the kept drop's blob and the withdrawn one ended", m.Blobs, m.Ended)
	}
	if !strings.Contains(m.Ended[0].Reason, "withdrawn") {
		t.Fatalf("ended reason %q", m.Ended[0].Reason)
	}
	dst := filepath.Join(t.TempDir(), "r")
	rr, err := backup.Restore(ctx, tg, m, dst, op.id, backup.RestoreOptions{Policy: testPolicy()})
	if err != nil {
		t.Fatal(err)
	}
	if rr.Check.Drops != 1 {
		t.Fatalf("restored hub has %d live drops, want 1", rr.Check.Drops)
	}
}

// A blob gone while its drop is live is data loss: the backup fails.
func TestBlobLostFailsBackup(t *testing.T) {
	h := newTestHub(t)
	op := newOperator(t)
	h.addDrop(30, 1000)
	backup.SetTestHookBeforeBlobs(t, func() {
		matches, _ := filepath.Glob(filepath.Join(h.dir, "blobs", "*", "*.age"))
		for _, p := range matches {
			os.Remove(p)
		}
	})
	_, err := backup.Backup(context.Background(), h.dir, newTarget(t), backup.Options{Recipients: []string{op.pub}})
	if err == nil || !strings.Contains(err.Error(), "lost a file") {
		t.Fatalf("backup with a lost blob: %v", err)
	}
}

// Prune deletes the blobs of drops past retention even from kept
// snapshots; restoring such a snapshot purges those drops.
func TestPruneExpiredAndRestore(t *testing.T) {
	ctx := context.Background()
	h := newTestHub(t)
	op := newOperator(t)
	tg := newTarget(t)
	h.clock.Store(time.Now().Add(-3 * 24 * time.Hour).UnixNano())
	expired, _ := h.addDrop(1, 1000) // retained until two days ago
	h.clock.Store(time.Now().UnixNano())
	live, _ := h.addDrop(30, 3000)
	m := h.backupNow(tg, op).Manifest
	pr, err := backup.Prune(ctx, tg, backup.PruneOptions{KeepDaily: 7, KeepWeekly: 4, Grace: -1})
	if err != nil {
		t.Fatal(err)
	}
	if pr.ExpiredBlobs != 1 || pr.Blobs != 0 || len(pr.Kept) != 1 {
		t.Fatalf("prune: %+v; want one expired blob deleted, the snapshot kept", pr)
	}
	var expiredBlob string
	for _, b := range m.Blobs {
		if b.Drop == expired {
			expiredBlob = backup.BlobKey(b.File)
		}
	}
	if _, err := tg.Stat(ctx, expiredBlob); !errors.Is(err, backup.ErrNotExist) {
		t.Fatalf("the expired drop's blob is still in the backup: %v", err)
	}
	vr, err := backup.Verify(ctx, tg, m, op.id, nil, time.Now())
	if err != nil || vr.ExpiredPruned != 1 {
		t.Fatalf("verify after prune: %v (%d expired)", err, vr.ExpiredPruned)
	}
	dst := filepath.Join(t.TempDir(), "r")
	rr, err := backup.Restore(ctx, tg, m, dst, op.id, backup.RestoreOptions{Policy: testPolicy()})
	if err != nil {
		t.Fatal(err)
	}
	if rr.ExpiredPruned != 1 || rr.Purge.Expired != 1 || rr.Check.Drops != 1 {
		t.Fatalf("restore: %d expired pruned, purge %+v, %d live drops; want the expired drop purged and %s live", rr.ExpiredPruned, rr.Purge, rr.Check.Drops, live)
	}
}

func TestPruneKeeps(t *testing.T) {
	ctx := context.Background()
	h := newTestHub(t)
	op := newOperator(t)
	tg := newTarget(t)
	h.addDrop(30, 100)
	var names []string
	for range 3 {
		names = append(names, h.backupNow(tg, op).Manifest.Name)
	}
	// All three are of today: keep_daily 1 keeps the newest only.
	pr, err := backup.Prune(ctx, tg, backup.PruneOptions{KeepDaily: 1, KeepWeekly: 0, Grace: -1})
	if err != nil {
		t.Fatal(err)
	}
	if len(pr.Kept) != 1 || pr.Kept[0] != names[2] || len(pr.Deleted) != 2 || pr.Blobs != 0 {
		t.Fatalf("prune: %+v; want %s kept, the others deleted, no blob", pr, names[2])
	}
	snaps, _ := backup.List(ctx, tg)
	if len(snaps) != 1 || snaps[0].Name != names[2] {
		t.Fatalf("after prune the target lists %+v", snaps)
	}
	// A blob no snapshot references goes (after the grace period).
	tg.Put(ctx, "blobs/ff/ffffffffffffffffffffffffffffffff.age", strings.NewReader("orphan"), 6)
	if pr, _ := backup.Prune(ctx, tg, backup.PruneOptions{KeepDaily: 1, Grace: time.Hour}); pr.Blobs != 0 {
		t.Fatal("prune deleted a fresh unreferenced blob within the grace period")
	}
	if pr, _ := backup.Prune(ctx, tg, backup.PruneOptions{KeepDaily: 1, Grace: -1}); pr.Blobs != 1 {
		t.Fatalf("prune deleted %d unreferenced blobs, want 1", pr.Blobs)
	}
}

func TestPickAt(t *testing.T) {
	ctx := context.Background()
	h := newTestHub(t)
	op := newOperator(t)
	tg := newTarget(t)
	first := h.backupNow(tg, op).Manifest
	time.Sleep(1100 * time.Millisecond)
	second := h.backupNow(tg, op).Manifest
	if m, err := backup.Pick(ctx, tg, "", time.Time{}); err != nil || m.Name != second.Name {
		t.Fatalf("latest: %v %v", m, err)
	}
	if m, err := backup.Pick(ctx, tg, "", first.Time.Add(500*time.Millisecond)); err != nil || m.Name != first.Name {
		t.Fatalf("at: %v %v", m, err)
	}
	if _, err := backup.Pick(ctx, tg, "", first.Time.Add(-time.Hour)); err == nil {
		t.Fatal("a time before every snapshot picked one")
	}
	if m, err := backup.Pick(ctx, tg, first.Name, time.Time{}); err != nil || m.Name != first.Name {
		t.Fatalf("by name: %v %v", m, err)
	}
}

func TestStatusFile(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	if err := backup.WriteStatus(dir, backup.Status{Time: t0, Dest: "/backups", Snapshot: "20261201T120000Z", OK: true}); err != nil {
		t.Fatal(err)
	}
	if err := backup.WriteStatus(dir, backup.Status{Time: t0.Add(time.Hour), Dest: "/backups", Error: "disk full"}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, backup.StatusFile))
	for _, want := range []string{`"ok": false`, `"error": "disk full"`, `"last_ok": "2026-12-01T12:00:00Z"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("status file lacks %s:\n%s", want, b)
		}
	}
	fi, _ := os.Stat(filepath.Join(dir, backup.StatusFile))
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("status file mode %v", fi.Mode().Perm())
	}
}

// A snapshot signed by another key (another hub's, or a forger's) in the
// same destination makes verify fail; an unfinished one is listed as such.
func TestVerifySigningKeyContinuity(t *testing.T) {
	ctx := context.Background()
	op := newOperator(t)
	tg := newTarget(t)
	a, b := newTestHub(t), newTestHub(t)
	a.addDrop(30, 100)
	ma := a.backupNow(tg, op).Manifest
	time.Sleep(1100 * time.Millisecond)
	b.backupNow(tg, op)
	if _, err := backup.Verify(ctx, tg, ma, nil, nil, time.Now()); err == nil || !strings.Contains(err.Error(), "did not come from this hub") {
		t.Fatalf("verify with a foreign snapshot beside it: %v", err)
	}
	tg.Put(ctx, "snapshots/20200101T000000Z/hub.db.age", strings.NewReader("x"), 1)
	snaps, err := backup.List(ctx, tg)
	if err != nil || len(snaps) != 3 || snaps[0].Name != "20200101T000000Z" || snaps[0].Complete() || snaps[0].Err != nil {
		t.Fatalf("list with an unfinished snapshot: %v %+v", err, snaps)
	}
}

// A backup killed half-way leaves a plain copy of the store in a scratch
// directory; the next backup removes it. Two backups at once: the second
// is refused.
func TestScratchCleanupAndLock(t *testing.T) {
	h := newTestHub(t)
	op := newOperator(t)
	stale := filepath.Join(h.dir, ".backup-123")
	os.Mkdir(stale, 0o700)
	os.WriteFile(filepath.Join(stale, "hub.db"), []byte("plain copy"), 0o600)
	h.backupNow(newTarget(t), op)
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("the stale scratch directory is still there: %v", err)
	}
	left, _ := filepath.Glob(filepath.Join(h.dir, ".backup-*"))
	if len(left) != 0 {
		t.Fatalf("scratch left after a backup: %v", left)
	}
	backup.SetTestHookBeforeBlobs(t, func() {
		_, err := backup.Backup(context.Background(), h.dir, newTarget(t), backup.Options{Recipients: []string{op.pub}})
		if err == nil || !strings.Contains(err.Error(), "another backup") {
			t.Errorf("a second backup at once: %v", err)
		}
	})
	h.backupNow(newTarget(t), op)
}
