package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/hubkit/hubkit/internal/audit"
	"github.com/hubkit/hubkit/internal/backup"
	"github.com/hubkit/hubkit/internal/backup/dirtarget"
	"github.com/hubkit/hubkit/internal/backup/s3target"
	"github.com/hubkit/hubkit/internal/testenv"
)

// TestRestoreDrillDir and TestRestoreDrillS3 run the restore drill of
// docs/operations.md ("Backup and restore") with the hubctl commands it
// lists, against a directory and against a real S3 service (SeaweedFS).
func TestRestoreDrillDir(t *testing.T) {
	restoreDrill(t, filepath.Join(t.TempDir(), "backups"))
}

func TestRestoreDrillS3(t *testing.T) {
	sw := testenv.StartSeaweedFS(t)
	sw.Bucket(t, "hubkit-backups")
	t.Setenv("HUBKIT_BACKUP_S3_ENDPOINT", sw.Endpoint)
	t.Setenv("HUBKIT_BACKUP_S3_ACCESS_KEY", sw.AccessKey)
	t.Setenv("HUBKIT_BACKUP_S3_SECRET_KEY", sw.SecretKey)
	t.Setenv("HUBKIT_BACKUP_S3_INSECURE", "true")
	out := restoreDrill(t, "s3://hubkit-backups/nordjylland")
	if strings.Contains(out, sw.SecretKey) || strings.Contains(out, sw.AccessKey) {
		t.Error("a hubctl command printed the S3 credentials")
	}
}

// drillUpload is a drop the drill sends and later downloads from the
// restored hub.
type drillUpload struct {
	id, sha string
	size    int
}

var linkValueRe = regexp.MustCompile(`value="(https://[^"]+/u/[A-Za-z0-9_-]{43})"`)

// restoreDrill: a running hub with drops, an upload link, federation keys
// and audit records is backed up while uploads run; its data directory is
// destroyed; the snapshot is verified and restored elsewhere, and the hub
// started there. Every drop acknowledged before the backup downloads with
// its SHA-256, the audit chain verifies and grows, the upload link works,
// and the hub signs with the same key. It returns the commands' output.
func restoreDrill(t *testing.T, dest string) string {
	if testing.Short() {
		t.Skip("starts real hub processes")
	}
	var transcript strings.Builder
	hubctl := func(p *hubProc, want int, args ...string) string {
		t.Helper()
		code, out := p.hubctl(args...)
		fmt.Fprintf(&transcript, "$ hubctl %s\n%s", strings.Join(args, " "), out)
		if code != want {
			t.Fatalf("hubctl %s: exit %d, want %d\n%s", strings.Join(args, " "), code, want, out)
		}
		return out
	}
	op, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	idFile := filepath.Join(t.TempDir(), "operator.agekey")
	if err := os.WriteFile(idFile, []byte("# drill operator\n"+op.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HUBKIT_BACKUP_RECIPIENTS", op.Recipient().String())

	p := newHubProc(t, "nordjylland", "")
	p.start()
	peerKey := func() string {
		t.Helper()
		c := &http.Client{Transport: p.transport(), Timeout: 10 * time.Second}
		resp, body := get(t, c, p.base+"/.well-known/hubkit-peer.json")
		var doc struct {
			SigningKey   string `json:"signing_key"`
			AgeRecipient string `json:"age_recipient"`
		}
		if err := json.Unmarshal([]byte(body), &doc); resp.StatusCode != 200 || err != nil || doc.SigningKey == "" {
			t.Fatalf("peer document: %s %v\n%s", resp.Status, err, body)
		}
		return doc.SigningKey + " " + doc.AgeRecipient
	}
	keyBefore := peerKey()
	s := p.login(851, "aalborg-konsulent")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	send := func(i int) (drillUpload, error) {
		data := randomBytes(256<<10 + i*37_000)
		id, err := s.sendDrop(ctx, fmt.Sprintf("SAG-DRILL-%d", i), "773:773.morsoe-fagperson", "bilag.bin", int64(len(data)), strings.NewReader(string(data)))
		return drillUpload{id: id, sha: sum(data), size: len(data)}, err
	}
	var before []drillUpload
	for i := range 4 {
		u, err := send(i)
		if err != nil {
			t.Fatal(err)
		}
		before = append(before, u)
	}
	resp, body := postForm(t, s.c, p.base+"/drops/links", url.Values{"csrf": {s.csrf}, "case_ref": {"SAG-DRILL-LINK"},
		"purpose": {"consent"}, "expiry_days": {"3"}, "max_files": {"2"}, "retention_days": {"30"}})
	m := linkValueRe.FindStringSubmatch(body)
	if resp.StatusCode != 200 || m == nil {
		t.Fatalf("create upload link: %s\n%s", resp.Status, tail(body, 20))
	}
	link := html.UnescapeString(m[1])

	// Uploads go on while the backup runs.
	var (
		stop   atomic.Bool
		wg     sync.WaitGroup
		mu     sync.Mutex
		during []drillUpload
		upErr  error
	)
	wg.Go(func() {
		for i := 100; !stop.Load(); i++ {
			u, err := send(i)
			mu.Lock()
			if err != nil {
				upErr = err
			} else {
				during = append(during, u)
			}
			mu.Unlock()
			if err != nil {
				return
			}
		}
	})
	time.Sleep(200 * time.Millisecond)
	out := hubctl(p, 0, "backup", "--data", p.data, "--to", dest, "--bundle", p.bundle)
	stop.Store(true)
	wg.Wait()
	if upErr != nil {
		t.Fatalf("an upload during the backup failed: %v", upErr)
	}
	t.Logf("%d uploads completed while the backup ran; %s", len(during), strings.TrimSpace(out))
	var status backup.Status
	b, _ := os.ReadFile(filepath.Join(p.data, backup.StatusFile))
	if err := json.Unmarshal(b, &status); err != nil || !status.OK || status.Snapshot == "" {
		t.Fatalf("backup-status.json: %v %s", err, b)
	}
	if strings.Contains(string(b), "SECRET") {
		t.Fatal("the status file holds a secret")
	}
	hubctl(p, 0, "backup", "list", dest)
	hubctl(p, 0, "backup", "verify", dest)
	hubctl(p, 0, "backup", "verify", dest, "--name", status.Snapshot, "--identity", idFile)

	// Disaster: the hub and its data are gone.
	p.stop()
	if err := os.RemoveAll(p.data); err != nil {
		t.Fatal(err)
	}
	restored := filepath.Join(t.TempDir(), "restored-data")
	out = hubctl(p, 0, "restore", "--from", dest, "--data", restored, "--name", status.Snapshot, "--identity", idFile)
	if !strings.Contains(out, "check ok") {
		t.Fatalf("restore did not report its check:\n%s", out)
	}
	hubctl(p, 0, "audit", "verify", "--data", restored)
	sumBefore, err := audit.Verify(filepath.Join(restored, audit.FileName))
	if err != nil {
		t.Fatal(err)
	}
	p.data = restored
	p.start()
	if got := peerKey(); got != keyBefore {
		t.Fatalf("the restored hub publishes keys %q, before the disaster %q", got, keyBefore)
	}
	s = p.login(851, "aalborg-konsulent")
	manifest := readDrillManifest(t, dest, status.Snapshot)
	inSnapshot := map[string]bool{}
	for _, bl := range manifest.Blobs {
		inSnapshot[bl.Drop] = true
	}
	check := func(u drillUpload) {
		h := sha256.New()
		n, err := s.download(ctx, s.fileLink(u.id), h)
		if got := hex.EncodeToString(h.Sum(nil)); err != nil || n != int64(u.size) || got != u.sha {
			t.Errorf("drop %s after the restore: %d bytes (want %d), SHA-256 %s (want %s), %v", u.id, n, u.size, got, u.sha, err)
		}
	}
	for _, u := range before {
		if !inSnapshot[u.id] {
			t.Errorf("drop %s, acknowledged before the backup, is not in the snapshot", u.id)
			continue
		}
		check(u)
	}
	// An upload under way at the snapshot may be in it as a one-shot
	// draft (its file stored, the drop not yet sent): the restored hub
	// abandons such drafts, as after a crash, so only the drops it shows
	// must download.
	sent := s.sentIDs()
	nDuring := 0
	for _, u := range during {
		if inSnapshot[u.id] && sent[u.id] {
			check(u)
			nDuring++
		}
	}
	t.Logf("%d of the %d uploads made during the backup are in the snapshot", nDuring, len(during))
	// The upload link made before the backup still works.
	visitor := &http.Client{Transport: p.transport(), Timeout: 30 * time.Second}
	doc := randomBytes(50_000)
	if resp, body := postMultipart(t, visitor, link, mfield("message", "Efter gendannelsen"), mfile("fuldmagt.pdf", doc)); resp.StatusCode != 200 || !strings.Contains(body, sum(doc)) {
		t.Errorf("upload through the link after the restore: %s", resp.Status)
	}
	p.stop()
	out = hubctl(p, 0, "audit", "verify", "--data", restored)
	sumAfter, err := audit.Verify(filepath.Join(restored, audit.FileName))
	if err != nil || sumAfter.LastSeq <= sumBefore.LastSeq {
		t.Fatalf("the audit chain did not continue after the restore: %v (%d records, %d before)", err, sumAfter.LastSeq, sumBefore.LastSeq)
	}
	// A second restore into the same, now non-empty, directory is refused.
	code, out2 := p.hubctl("restore", "--from", dest, "--data", restored, "--identity", idFile)
	if code != 1 || !strings.Contains(out2, "not empty") {
		t.Fatalf("restore over a hub's data: exit %d\n%s", code, out2)
	}
	hubctl(p, 0, "backup", "prune", dest)
	return transcript.String() + out
}

// readDrillManifest reads a snapshot's manifest as the engine does.
func readDrillManifest(t *testing.T, dest, name string) *backup.Manifest {
	t.Helper()
	var tg backup.Target
	if strings.HasPrefix(dest, "s3://") {
		tg = s3Target(t, dest)
	} else {
		d, err := dirtarget.Open(dest)
		if err != nil {
			t.Fatal(err)
		}
		tg = d
	}
	m, err := backup.ReadManifest(context.Background(), tg, name)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func s3Target(t *testing.T, dest string) backup.Target {
	b, err := s3target.Open(context.Background(), dest, s3target.Config{Endpoint: os.Getenv("HUBKIT_BACKUP_S3_ENDPOINT"),
		AccessKey: os.Getenv("HUBKIT_BACKUP_S3_ACCESS_KEY"), SecretKey: os.Getenv("HUBKIT_BACKUP_S3_SECRET_KEY"), Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
