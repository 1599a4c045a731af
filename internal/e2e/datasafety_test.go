package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"io/fs"
	"maps"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
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
			if !strings.Contains(out, "hubctl: data directory ") {
				t.Errorf("the refusal is not what hubctl says first (buried in Caddy's provisioning chain?):\n%s", tail(out, 5))
			}
			for _, s := range tc.says {
				if !strings.Contains(out, s) {
					t.Errorf("the refusal does not say %q:\n%s", s, tail(out, 15))
				}
			}
			if got := blobs(t, p.data); !maps.Equal(got, want) {
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
		l := strings.SplitAfter(string(b), "\n")
		return l[:len(l)-1] // after the last newline: nothing
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

// pausedReader yields r's bytes up to pauseAt, signals paused and waits
// for release; then it yields the rest (an upload in flight while the hub
// is told to stop), or, with cut, fails (an upload a crash cut off).
type pausedReader struct {
	r       io.Reader
	pauseAt int64
	sent    int64
	paused  chan struct{}
	release <-chan struct{}
	cut     bool
	once    sync.Once
}

func (h *pausedReader) Read(p []byte) (int, error) {
	if h.sent >= h.pauseAt {
		h.once.Do(func() { close(h.paused); <-h.release })
		if h.cut {
			return 0, errCrashed
		}
	} else {
		p = p[:min(int64(len(p)), h.pauseAt-h.sent)]
	}
	n, err := h.r.Read(p)
	h.sent += int64(n)
	return n, err
}

// SIGTERM with six uploads in flight: the listeners close, all six
// finish within the grace period, the hub closes its data cleanly and
// exits 0, and the next start has nothing to recover.
func TestGracefulStopFinishesUploads(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real hub processes")
	}
	p := newHubProc(t, "nordjylland", "")
	metrics := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	p.args = []string{"--grace-period", "60s", "--metrics-listen", metrics}
	p.start()
	s := p.login(851, "aalborg-konsulent")
	release := make(chan struct{})
	type upload struct {
		data []byte
		id   string
		err  error
	}
	ups := make([]*upload, 6)
	var paused []chan struct{}
	var wg sync.WaitGroup
	for i := range ups {
		u := &upload{data: randomBytes(1<<20 + i*4096)}
		ups[i] = u
		pr := &pausedReader{r: bytes.NewReader(u.data), pauseAt: int64(len(u.data) / 2), paused: make(chan struct{}), release: release}
		paused = append(paused, pr.paused)
		wg.Go(func() {
			u.id, u.err = s.sendDrop(context.Background(), fmt.Sprintf("SAG-STOP-%d", i), "773:773.morsoe-fagperson", "bilag.pdf", int64(len(u.data)), pr)
		})
	}
	for _, ch := range paused {
		<-ch
	}
	// The clients' pauses say nothing of what the hub has read (socket
	// buffers hold a lot): wait until the hub itself is receiving all six.
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, _ := value(scrape(t, metrics), "hubkit_uploads_in_flight", map[string]string{"region": "nordjylland"})
		if n == float64(len(ups)) {
			break
		}
		if time.Now().After(deadline) {
			close(release)
			t.Fatalf("the hub receives %v uploads, want %d", n, len(ups))
		}
		time.Sleep(50 * time.Millisecond)
	}
	type stopped struct {
		code int
		took time.Duration
	}
	done := make(chan stopped, 1)
	go func() { c, d := p.terminate(90 * time.Second); done <- stopped{c, d} }()
	// The hub is draining now: its listener no longer accepts connections.
	deadline = time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p.port), time.Second)
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("the hub still accepts connections 10 s after SIGTERM")
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(release)
	wg.Wait()
	st := <-done
	for i, u := range ups {
		if u.err != nil {
			t.Errorf("upload %d in flight at SIGTERM failed: %v", i, u.err)
		}
	}
	if st.code != 0 {
		t.Errorf("hub exited %d after SIGTERM, want 0", st.code)
	}
	t.Logf("stopped in %v with 6 uploads in flight", st.took)
	if !strings.Contains(p.log(), "data directory closed cleanly") {
		t.Errorf("no log line of a clean close:\n%s", tail(p.log(), 20))
	}
	before := len(p.log())
	p.start()
	if out := p.log()[before:]; strings.Contains(out, "recovered after an unclean stop") {
		t.Errorf("the start after a graceful stop ran crash recovery:\n%s", tail(out, 20))
	}
	s = p.login(851, "aalborg-konsulent")
	sent := s.sentIDs()
	for i, u := range ups {
		if u.err == nil && !sent[u.id] {
			t.Errorf("upload %d (%s) acknowledged but missing after the restart", i, u.id)
		}
	}
}

// With a short grace period an upload still in flight is cut when it
// ends; the resumable upload then continues after the restart from its
// last stored byte and completes with the right SHA-256.
func TestShortGraceResumesCutUpload(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real hub processes")
	}
	p := newHubProc(t, "nordjylland", "")
	p.args = []string{"--grace-period", "1s"}
	p.start()
	s := p.login(851, "aalborg-konsulent")
	ctx := context.Background()
	data := randomBytes(3 << 20)
	const chunk = 1 << 20
	draftID, upURL := beginResumable(t, s, "SAG-GRACE", "bilag.bin", int64(len(data)))
	patch := func(off int64, body io.Reader, n int64) (*http.Response, error) {
		resp, _, err := s.api(ctx, "PATCH", upURL, "application/offset+octet-stream", body, n,
			map[string]string{"Upload-Offset": strconv.FormatInt(off, 10)})
		return resp, err
	}
	if resp, err := patch(0, bytes.NewReader(data[:chunk]), chunk); err != nil || resp.StatusCode != 204 {
		t.Fatalf("first chunk: %v %v", err, status(resp))
	}
	release := make(chan struct{})
	pr := &pausedReader{r: bytes.NewReader(data[chunk : 2*chunk]), pauseAt: chunk / 2, paused: make(chan struct{}), release: release}
	cut := make(chan error, 1)
	go func() {
		resp, err := patch(chunk, pr, chunk)
		if err == nil && resp.StatusCode == 204 {
			err = fmt.Errorf("the held chunk was accepted")
		}
		cut <- err
	}()
	<-pr.paused
	code, took := p.terminate(30 * time.Second)
	close(release)
	if err := <-cut; err == nil {
		t.Fatal("the chunk in flight past the grace period was not cut")
	}
	t.Logf("stop with a 1 s grace took %v (exit %d)", took, code)

	p.start()
	resp, _, err := s.api(ctx, "HEAD", upURL, "", nil, 0, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("HEAD after restart: %v %v", err, status(resp))
	}
	off, _ := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
	if off != chunk {
		t.Fatalf("offset after restart %d, want %d (the committed first chunk)", off, chunk)
	}
	if resp, err := patch(off, bytes.NewReader(data[off:]), int64(len(data))-off); err != nil || resp.StatusCode != 204 {
		t.Fatalf("resumed chunk: %v %v", err, status(resp))
	}
	finishAndSeal(t, s, draftID, upURL)
	h := sha256.New()
	if _, err := s.download(ctx, s.fileLink(draftID), h); err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum(data) {
		t.Errorf("resumed upload: SHA-256 %s, want %s", got, sum(data))
	}
}

// beginResumable creates a draft and begins a resumable upload in it; it
// returns the draft's id and the upload's URL.
func beginResumable(t testing.TB, s *hubSession, caseRef, name string, size int64) (string, string) {
	t.Helper()
	ctx := context.Background()
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	for _, f := range [][2]string{{"recipients", "773:773.morsoe-fagperson"}, {"case_ref", caseRef}, {"purpose", "section_12c_advice"},
		{"retention_days", "30"}, {"mode", "draft"}} {
		mw.WriteField(f[0], f[1])
	}
	mw.Close()
	resp, body, err := s.api(ctx, "POST", "/drops", mw.FormDataContentType(), &form, int64(form.Len()), nil)
	var draft struct{ ID, Uploads string }
	if err != nil || resp.StatusCode != 201 || json.Unmarshal(body, &draft) != nil {
		t.Fatalf("draft: %v %v %s", err, status(resp), body)
	}
	begin, _ := json.Marshal(map[string]any{"name": name, "size": size})
	resp, body, err = s.api(ctx, "POST", draft.Uploads, "application/json", bytes.NewReader(begin), int64(len(begin)), nil)
	var up struct{ URL string }
	if err != nil || resp.StatusCode != 201 || json.Unmarshal(body, &up) != nil {
		t.Fatalf("begin upload: %v %v %s", err, status(resp), body)
	}
	return draft.ID, up.URL
}

// finishAndSeal commits a fully sent upload and sends its draft.
func finishAndSeal(t testing.TB, s *hubSession, draftID, upURL string) {
	t.Helper()
	ctx := context.Background()
	if resp, body, err := s.api(ctx, "POST", upURL+"/finish", "", nil, 0, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("finish: %v %v %s", err, status(resp), body)
	}
	if resp, body, err := s.api(ctx, "POST", "/drops/"+draftID+"/seal", "", nil, 0, nil); err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("seal: %v %v %s", err, status(resp), body)
	}
}

// mountTmpfs mounts a small tmpfs for the test (as root) and unmounts it
// at the end.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("this test mounts a %s tmpfs to fill it, which needs root (CAP_SYS_ADMIN): mount: %v %s", size, err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// fillTo writes a filler file until at most free bytes are left on the
// file system of dir.
func fillTo(t *testing.T, dir string, free int64) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	avail := int64(st.Bavail) * st.Bsize
	if n := avail - free; n > 0 {
		if _, err := f.Write(make([]byte, n)); err != nil {
			t.Fatalf("filling %s: %v", dir, err)
		}
	}
	return path
}

// A full disk is its own answer: 507 with a page or a JSON problem that
// says the hub's storage is full, to the resumable API, the form and an
// upload link; nothing half-written is visible, and once space is free
// the same resumable upload continues and completes.
func TestStorageFull(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real hub processes")
	}
	small := mountTmpfs(t, "96m")
	t.Setenv("HUBKIT_FILE_DROP_MIN_FREE", "0") // no floor: the writes themselves meet the full disk
	p := newHubProc(t, "nordjylland", "")
	p.data = filepath.Join(small, "data")
	p.start()
	s := p.login(851, "aalborg-konsulent")
	ctx := context.Background()
	sentBefore := len(s.sentIDs())

	// An upload link, made while there is room.
	resp, body := postForm(t, s.c, p.base+"/drops/links", url.Values{"csrf": {s.csrf}, "case_ref": {"SAG-FULD-LINK"},
		"purpose": {"consent"}, "expiry_days": {"3"}, "max_files": {"2"}, "retention_days": {"30"}})
	m := regexp.MustCompile(`value="(https://[^"]+/u/[A-Za-z0-9_-]{43})"`).FindStringSubmatch(body)
	if resp.StatusCode != 200 || m == nil {
		t.Fatalf("create link: %s\n%s", resp.Status, tail(body, 20))
	}
	link := html.UnescapeString(m[1])

	// A resumable upload whose first MiB is stored while there is room.
	data := randomBytes(8 << 20)
	draftID, upURL := beginResumable(t, s, "SAG-FULD", "stor.bin", int64(len(data)))
	patch := func(off int64) (*http.Response, []byte) {
		resp, rb, err := s.api(ctx, "PATCH", upURL, "application/offset+octet-stream", bytes.NewReader(data[off:]), int64(len(data))-off,
			map[string]string{"Upload-Offset": strconv.FormatInt(off, 10)})
		if err != nil {
			t.Fatalf("PATCH at %d: %v", off, err)
		}
		return resp, rb
	}
	if resp, rb, err := s.api(ctx, "PATCH", upURL, "application/offset+octet-stream", bytes.NewReader(data[:1<<20]), 1<<20,
		map[string]string{"Upload-Offset": "0"}); err != nil || resp.StatusCode != 204 {
		t.Fatalf("first MiB: %v %v %s", err, status(resp), rb)
	}

	filler := fillTo(t, small, 2<<20)
	big := randomBytes(6 << 20)

	// The form.
	form, n, ct := dropForm("SAG-FULD-FORM", "773:773.morsoe-fagperson", "bilag.pdf", int64(len(big)), bytes.NewReader(big))
	req, _ := http.NewRequestWithContext(ctx, "POST", p.base+"/drops", form)
	req.Header.Set("X-CSRF-Token", s.csrf)
	req.ContentLength = n
	req.Header.Set("Content-Type", ct)
	if resp, err := s.c.Do(req); err != nil {
		t.Errorf("form post on a full disk: %v", err)
	} else {
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusInsufficientStorage || !strings.Contains(string(page), "lager er fuldt") {
			t.Errorf("form post on a full disk: %s, want 507 saying the storage is full\n%s", resp.Status, tail(string(page), 30))
		}
	}
	// The upload link.
	resp, body = postMultipart(t, p.httpClient(), link, mfield("message", "Fra advokaten"), mfile("fuldmagt.pdf", big))
	if resp.StatusCode != http.StatusInsufficientStorage || !strings.Contains(body, "lager er fuldt") {
		t.Errorf("upload link on a full disk: %s\n%s", resp.Status, tail(body, 10))
	}
	// The resumable API.
	resp, rb := patch(1 << 20)
	if resp.StatusCode != http.StatusInsufficientStorage || !strings.Contains(string(rb), "storage") && !strings.Contains(string(rb), "lager") {
		t.Errorf("resumable chunk on a full disk: %s %s", resp.Status, rb)
	}
	var problem map[string]string
	if json.Unmarshal(rb, &problem) != nil || problem["error"] == "" {
		t.Errorf("the 507 to the API is not a JSON problem: %s", rb)
	}
	if !strings.Contains(p.log(), "the hub's storage is full") {
		t.Errorf("no error log line about the full storage:\n%s", tail(p.log(), 10))
	}

	// Nothing half-written is visible or left on disk.
	if n := len(s.sentIDs()); n != sentBefore+1 { // the resumable draft only
		t.Errorf("%d drops in the sent list, want %d (the resumable draft)", n, sentBefore+1)
	}
	tmp, _ := filepath.Glob(filepath.Join(p.data, "blobs", "*", "*.age.tmp-*"))
	if len(tmp) > 0 {
		t.Errorf("temporary blobs left on disk: %v", tmp)
	}

	// Space is freed: the same upload continues from where it stood.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	resp, _, err := s.api(ctx, "HEAD", upURL, "", nil, 0, nil)
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Upload-Offset") != strconv.Itoa(1<<20) {
		t.Fatalf("HEAD after freeing space: %v %v offset %q, want %d", err, status(resp), resp.Header.Get("Upload-Offset"), 1<<20)
	}
	if resp, rb := patch(1 << 20); resp.StatusCode != 204 {
		t.Fatalf("resumed chunk: %s %s", resp.Status, rb)
	}
	finishAndSeal(t, s, draftID, upURL)
	h := sha256.New()
	if _, err := s.download(ctx, s.fileLink(draftID), h); err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum(data) {
		t.Errorf("SHA-256 after resuming %s, want %s", got, sum(data))
	}
}

// httpClient is a client without a login for the hub process.
func (p *hubProc) httpClient() *http.Client {
	return &http.Client{Transport: p.transport(), Timeout: 60 * time.Second}
}
