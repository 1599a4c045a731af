package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/hubkit/hubkit/internal/audit"
)

// snapshotFiles returns the SHA-256 of every regular file below dir, by
// path relative to dir.
func snapshotFiles(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		sum := sha256.Sum256(b)
		out[rel] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// copyDir copies a directory tree with cp -a (modes kept).
func copyDir(t testing.TB, src, dst string) {
	t.Helper()
	os.RemoveAll(dst)
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp -a %s %s: %v\n%s", src, dst, err, out)
	}
}

// dataWithDrops starts a hub, sends two drops and stops it cleanly; it
// returns the stopped hub and the drops' ids.
func dataWithDrops(t *testing.T) (*hubProc, []string) {
	t.Helper()
	p := newHubProc(t, "nordjylland", "")
	p.start()
	s := p.login(851, "aalborg-konsulent")
	var ids []string
	for i := range 2 {
		data := randomBytes(64<<10 + i)
		id, err := s.sendDrop(context.Background(), fmt.Sprintf("SAG-SAFE-%d", i), "773:773.morsoe-fagperson", "bilag.pdf", int64(len(data)), bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if code, _ := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("hub exited %d on SIGTERM\n%s", code, tail(p.log(), 30))
	}
	return p, ids
}

// blobs returns the snapshot of the data directory's blobs/.
func blobs(t testing.TB, data string) map[string]string {
	return snapshotFiles(t, filepath.Join(data, "blobs"))
}

// A data directory that lost its store or a key refuses to start, says
// what is missing and how to restore, and loses nothing: every blob is
// still there byte for byte, and no store or key is created in its
// place. Put back whole, it starts and shows the drops.
func TestDataDirLossRefusesStart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real hub processes")
	}
	p, ids := dataWithDrops(t)
	saved := filepath.Join(t.TempDir(), "saved")
	copyDir(t, p.data, saved)
	want := blobs(t, p.data)
	if n := len(want); n < 2 {
		t.Fatalf("%d blobs after two drops", n)
	}
	otherKey, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		damage func(dir string)
		says   []string
		absent []string // files that must not have been created
	}{
		{"empty store", func(dir string) {
			os.WriteFile(filepath.Join(dir, "hub.db"), nil, 0o600)
			os.Remove(filepath.Join(dir, "hub.db-wal"))
			os.Remove(filepath.Join(dir, "hub.db-shm"))
		}, []string{"the store hub.db", "is empty", "encrypted blobs", "hubctl restore"}, nil},
		{"deleted store", func(dir string) {
			for _, f := range []string{"hub.db", "hub.db-wal", "hub.db-shm"} {
				os.Remove(filepath.Join(dir, f))
			}
		}, []string{"the store hub.db is missing", "encrypted blobs", "an audit log of", "hubctl restore"}, []string{"hub.db"}},
		{"missing encryption key", func(dir string) { os.Remove(filepath.Join(dir, "keys", "filedrop.agekey")) },
			[]string{"keys/filedrop.agekey is missing", "never create a new one"}, []string{"keys/filedrop.agekey"}},
		{"missing signing key", func(dir string) { os.Remove(filepath.Join(dir, "keys", "federation.key")) },
			[]string{"keys/federation.key is missing"}, []string{"keys/federation.key"}},
		{"another encryption key", func(dir string) {
			os.WriteFile(filepath.Join(dir, "keys", "filedrop.agekey"), []byte(otherKey.String()+"\n"), 0o600)
		}, []string{"keys/filedrop.agekey", "is not the one this hub's store was made with"}, nil},
		{"missing audit log", func(dir string) {
			os.Remove(filepath.Join(dir, "audit.log"))
			os.Remove(filepath.Join(dir, "audit.log.head"))
		}, []string{"the audit log audit.log is missing or empty", "audit.log.head back"}, []string{"audit.log"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			copyDir(t, saved, p.data)
			tc.damage(p.data)
			out := p.startRefused()
			for _, s := range tc.says {
				if !strings.Contains(out, s) {
					t.Errorf("the refusal does not say %q:\n%s", s, tail(out, 15))
				}
			}
			if got := blobs(t, p.data); !equalMaps(got, want) {
				t.Errorf("blobs changed by the refused start: %d files, want %d (byte for byte)", len(got), len(want))
			}
			for _, f := range tc.absent {
				if _, err := os.Stat(filepath.Join(p.data, f)); err == nil {
					t.Errorf("the refused start created %s", f)
				}
			}
			if _, err := os.Stat(filepath.Join(p.data, "quarantine")); err == nil {
				t.Error("the refused start quarantined blobs")
			}
		})
	}

	copyDir(t, saved, p.data)
	p.start()
	s := p.login(851, "aalborg-konsulent")
	sent := s.sentIDs()
	for _, id := range ids {
		if !sent[id] {
			t.Errorf("drop %s is missing after the whole directory was put back", id)
		}
	}
	if strings.Contains(p.log(), "recovered after an unclean stop") {
		t.Errorf("a start after a clean stop ran crash recovery:\n%s", tail(p.log(), 20))
	}
}

// A blob nothing in the store explains is moved to quarantine, never
// deleted; a hub with a whole store starts.
func TestUnexplainedBlobQuarantined(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real hub processes")
	}
	p, _ := dataWithDrops(t)
	stray := filepath.Join(p.data, "blobs", "ab", "ab"+strings.Repeat("0", 30)+".age")
	if err := os.MkdirAll(filepath.Dir(stray), 0o700); err != nil {
		t.Fatal(err)
	}
	content := []byte("hubkit blob from an older store")
	if err := os.WriteFile(stray, content, 0o600); err != nil {
		t.Fatal(err)
	}
	p.start()
	matches, _ := filepath.Glob(filepath.Join(p.data, "quarantine", "*", filepath.Base(stray)))
	if len(matches) != 1 {
		t.Fatalf("quarantined copies: %v\n%s", matches, tail(p.log(), 20))
	}
	if b, _ := os.ReadFile(matches[0]); !bytes.Equal(b, content) {
		t.Error("the quarantined blob changed")
	}
	if !strings.Contains(p.log(), "moved to quarantine, not deleted") {
		t.Errorf("no error line about the quarantine:\n%s", tail(p.log(), 20))
	}
}

// The audit chain is checked at every start: a changed byte, a deleted
// line and swapped lines each refuse the start, naming the line; an
// acknowledged start works and is itself a record. A torn last line is
// repaired.
func TestAuditBreakRefusesStart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real hub processes")
	}
	p, _ := dataWithDrops(t)
	logPath := filepath.Join(p.data, audit.FileName)
	saved := filepath.Join(t.TempDir(), "saved")
	copyDir(t, p.data, saved)
	lines := func() []string {
		b, err := os.ReadFile(logPath)
		if err != nil {
			t.Fatal(err)
		}
		return strings.SplitAfter(strings.TrimSuffix(string(b), "\n"), "\n")
	}
	n := len(lines())
	if n < 6 {
		t.Fatalf("only %d audit records", n)
	}
	mid := n / 2
	cases := []struct {
		name   string
		tamper func(l []string) []string
		line   int
	}{
		{"changed byte", func(l []string) []string {
			l[mid] = strings.Replace(l[mid], `"outcome":"success"`, `"outcome":"succesS"`, 1)
			if !strings.Contains(l[mid], "succesS") {
				l[mid] = strings.Replace(l[mid], `"outcome":"failure"`, `"outcome":"failurE"`, 1)
			}
			return l
		}, mid + 1},
		{"deleted line", func(l []string) []string { return append(l[:mid:mid], l[mid+1:]...) }, mid + 1},
		{"swapped lines", func(l []string) []string { l[mid], l[mid+1] = l[mid+1], l[mid]; return l }, mid + 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			copyDir(t, saved, p.data)
			os.Remove(logPath + ".checkpoint") // the damage may sit after any checkpoint; check all
			if err := os.WriteFile(logPath, []byte(strings.Join(tc.tamper(lines()), "")), 0o600); err != nil {
				t.Fatal(err)
			}
			out := p.startRefused()
			if want := fmt.Sprintf("audit.log:%d:", tc.line); !strings.Contains(out, want) || !strings.Contains(out, "hubctl audit acknowledge") {
				t.Fatalf("the refusal does not name %s and the way out:\n%s", want, tail(out, 10))
			}
			code, ackOut := p.hubctl("audit", "acknowledge", "--data", p.data, "--reason", "INC-2042: investigated, copy kept")
			if code != 0 || !strings.Contains(ackOut, fmt.Sprintf(":%d:", tc.line)) {
				t.Fatalf("audit acknowledge: exit %d\n%s", code, ackOut)
			}
			p.start()
			p.terminate(30 * time.Second)
			var acked bool
			for _, l := range lines() {
				acked = acked || strings.Contains(l, `"type":"`+audit.EventAcknowledged+`"`) && strings.Contains(l, "INC-2042")
			}
			if !acked {
				t.Error("the acknowledged start is not recorded in the audit chain")
			}
		})
	}

	t.Run("torn last line", func(t *testing.T) {
		copyDir(t, saved, p.data)
		f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(`{"seq":999,"time":"2026-12-04T10:00:00Z","type":"log`)
		f.Close()
		p.start()
		p.terminate(30 * time.Second)
		if !strings.Contains(p.log(), "audit log repaired after an unclean stop") {
			t.Errorf("no log line about the repair:\n%s", tail(p.log(), 20))
		}
		if code, out := p.hubctl("audit", "verify", "--data", p.data); code != 0 {
			t.Errorf("audit verify after the repair: exit %d\n%s", code, out)
		}
	})
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
