package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"io"
	mrand "math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
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

	"github.com/hubkit/hubkit/internal/bundle"
	"github.com/hubkit/hubkit/internal/config"
	"github.com/hubkit/hubkit/internal/devidp"
	"github.com/hubkit/hubkit/internal/region"
	"github.com/hubkit/hubkit/internal/testenv"
)

// hubProc is a real `hubctl serve --dev` process serving one region on a
// loopback port, with its configuration, state and data in a temp dir. It
// can be killed and started again on the same data.
type hubProc struct {
	tb       testing.TB
	bin      string
	dir      string // temp root: config, state, log
	cfg      string
	bundle   string // the rendered dev bundle
	data     string // --data
	region   string
	port     int
	base     string // https://<region>.hub.localhost:<port>
	cmd      *exec.Cmd
	waitCh   chan error // the process's exit, from the one goroutine that waits for it
	logFile  string
	starts   int
	args     []string // more arguments of hubctl serve, e.g. --grace-period
	lastExit int      // exit code of the last process, once its exit was received
}

// hubProcSecret is the dev client secret shared by the hub and its dev
// identity provider; fixed, so a restarted hub accepts it as before.
const hubProcSecret = "e2e-filedrop-dev-secret"

// newHubProc prepares (but does not start) a hub process for region with
// the given regions directory (the repository's when empty).
func newHubProc(tb testing.TB, regionID, regionsDir string) *hubProc {
	tb.Helper()
	if regionsDir == "" {
		regionsDir = filepath.Join(testenv.RepoRoot(tb), "regions")
	}
	dir := tb.TempDir()
	p := &hubProc{
		tb: tb, bin: buildHubctl(tb), dir: dir, region: regionID,
		cfg:     filepath.Join(dir, "hubkit.yaml"),
		data:    filepath.Join(dir, "data"),
		port:    freePort(tb),
		logFile: filepath.Join(dir, "hub.log"),
	}
	p.base = fmt.Sprintf("https://%s.hub.localhost:%d", regionID, p.port)
	cfg := fmt.Sprintf("regions_dir: %s\nstate_dir: %s\n", regionsDir, filepath.Join(dir, "state"))
	if err := os.WriteFile(p.cfg, []byte(cfg), 0o644); err != nil {
		tb.Fatal(err)
	}
	// `hubctl serve --dev --listen 127.0.0.1:<port>` renders its bundle
	// for bundle.DevPort (8443) whatever --listen says: the issuer and
	// redirect URLs then point at 8443 and login fails (502). So the dev
	// bundle is rendered here for the port, exactly as serve --dev renders
	// it otherwise, and served with `hubctl serve --bundle`.
	c, err := config.Load(p.cfg, true)
	if err != nil {
		tb.Fatal(err)
	}
	set, err := region.LoadDir(regionsDir, c.Defaults)
	if err != nil || len(set.Errors) > 0 {
		tb.Fatalf("regions in %s: %v %v", regionsDir, err, set.Errors)
	}
	b, err := bundle.Render(set, regionID, c, bundle.Options{Dev: true, Version: "e2e", Port: p.port})
	if err != nil {
		tb.Fatal(err)
	}
	p.bundle = filepath.Join(dir, "bundle")
	if err := b.Write(p.bundle); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(p.stop)
	return p
}

// start runs the hub and waits until /readyz answers 200: the store and
// the (development) identity provider answer, so a login can start. (A
// provider check made before the listener was up stands for 2 s.)
func (p *hubProc) start() {
	p.tb.Helper()
	exited := p.launch()
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: p.region + ".hub.localhost"}}}
	defer c.CloseIdleConnections()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-exited:
			p.cmd, p.waitCh = nil, nil
			p.tb.Fatalf("hubctl serve exited during start-up (%v)\n%s", err, tail(p.log(), 40))
		default:
		}
		// The hub's own host name: an unknown Host gets 421.
		req, _ := http.NewRequest("GET", fmt.Sprintf("https://127.0.0.1:%d/readyz", p.port), nil)
		req.Host = p.region + ".hub.localhost"
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			p.tb.Fatalf("hubctl serve did not come up: %v\n%s", err, tail(p.log(), 40))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// launch starts the hub process and returns the channel of its exit.
func (p *hubProc) launch() chan error {
	p.tb.Helper()
	p.starts++
	logf, err := os.OpenFile(p.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.tb.Fatal(err)
	}
	fmt.Fprintf(logf, "=== start %d\n", p.starts)
	cmd := exec.Command(p.bin, append([]string{"serve", "--config", p.cfg, "--bundle", p.bundle,
		"--listen", fmt.Sprintf("127.0.0.1:%d", p.port), "--data", p.data}, p.args...)...)
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), devidp.SecretEnv+"="+hubProcSecret)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		p.tb.Fatal(err)
	}
	logf.Close() // the child has its own descriptor
	exited := make(chan error, 1)
	go func() {
		st, err := cmd.Process.Wait()
		if st != nil {
			p.lastExit = st.ExitCode() // read after the channel receive
		}
		exited <- err
	}()
	p.cmd, p.waitCh = cmd, exited
	return exited
}

// startRefused runs the hub on data it must refuse: it returns the
// output of this start once the process has exited with an error, and
// fails the test if the hub comes up or exits 0.
func (p *hubProc) startRefused() string {
	p.tb.Helper()
	before := len(p.log())
	exited := p.launch()
	select {
	case <-exited:
	case <-time.After(60 * time.Second):
		p.kill()
		p.tb.Fatalf("hubctl serve did not exit on data it must refuse\n%s", tail(p.log(), 40))
	}
	code := p.lastExit
	p.cmd, p.waitCh = nil, nil
	out := p.log()[before:]
	if code == 0 {
		p.tb.Fatalf("hubctl serve exited 0 on data it must refuse\n%s", out)
	}
	return out
}

// terminate sends SIGTERM and waits for the process to exit; it returns
// the exit code and how long the stop took.
func (p *hubProc) terminate(limit time.Duration) (int, time.Duration) {
	p.tb.Helper()
	start := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.waitCh:
	case <-time.After(limit):
		p.kill()
		p.tb.Fatalf("hubctl serve did not exit within %v of SIGTERM\n%s", limit, tail(p.log(), 40))
	}
	code := p.lastExit
	p.cmd, p.waitCh = nil, nil
	return code, time.Since(start)
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *hubProc) kill() {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	if p.waitCh != nil {
		<-p.waitCh
	}
	p.cmd, p.waitCh = nil, nil
}

// stop ends the process (cleanup): SIGTERM, then SIGKILL after 10 s.
func (p *hubProc) stop() {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.waitCh:
		p.cmd, p.waitCh = nil, nil
	case <-time.After(10 * time.Second):
		p.kill()
	}
}

func (p *hubProc) pid() int { return p.cmd.Process.Pid }

func (p *hubProc) log() string {
	b, _ := os.ReadFile(p.logFile)
	return string(b)
}

// auditDir is the directory holding the hub's audit.log: --data itself
// when one bundle is served, --data/<region> when several are.
func (p *hubProc) auditDir() string {
	if _, err := os.Stat(filepath.Join(p.data, "audit.log")); err == nil {
		return p.data
	}
	return filepath.Join(p.data, p.region)
}

// hubctl runs another hubctl command against the project's configuration.
func (p *hubProc) hubctl(args ...string) (int, string) {
	cmd := exec.Command(p.bin, append(args, "--config", p.cfg)...)
	cmd.Dir = p.dir
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), string(out)
	} else if err != nil {
		p.tb.Fatalf("hubctl %v: %v", args, err)
	}
	return 0, string(out)
}

// hubSession is a logged-in user of a hubProc: a client that does not
// follow redirects, with the session's CSRF token.
type hubSession struct {
	p    *hubProc
	c    *http.Client
	csrf string
}

// transport dials every *.localhost on the hub's loopback port. The hub's
// CA is the one in its data dir, created at first start: not checked.
func (p *hubProc) transport() *http.Transport {
	return &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, port, _ := net.SplitHostPort(addr)
			return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
		},
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true},
		DisableCompression:  true,
		MaxIdleConnsPerHost: 64,
		WriteBufferSize:     256 << 10,
		ReadBufferSize:      256 << 10,
	}
}

var devLoginFormRe = regexp.MustCompile(`<form method="post" action="([^"]+)" class="login">\s*<input type="hidden" name="id" value="([^"]+)">`)

// login logs in as user of kommune through the development identity
// provider, as devLoginAndGet does, and reads the CSRF token from the home
// page the login returns to.
func (p *hubProc) login(kommune int, user string) *hubSession {
	t := p.tb
	t.Helper()
	jar, _ := cookiejar.New(nil)
	tr := p.transport()
	browse := &http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: tr}
	resp, body := get(t, browse, fmt.Sprintf("%s/login?kommune=%d&return=%s", p.base, kommune, url.QueryEscape("/")))
	m := devLoginFormRe.FindStringSubmatch(body)
	if resp.StatusCode != 200 || m == nil {
		t.Fatalf("no dev login form at %s: %s\n%s", resp.Request.URL, resp.Status, tail(body, 20))
	}
	action := resolve(resp.Request.URL, html.UnescapeString(m[1]))
	resp, body = postForm(t, browse, action, url.Values{"id": {html.UnescapeString(m[2])}, "username": {user}, "password": {devidp.Password}, "action": {"login"}})
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/" {
		t.Fatalf("dev login as %s ended at %s: %s\n%s", user, resp.Request.URL, resp.Status, tail(body, 20))
	}
	cm := csrfRe.FindStringSubmatch(body)
	if cm == nil {
		t.Fatalf("no CSRF token on the home page after login as %s", user)
	}
	return &hubSession{p: p, csrf: html.UnescapeString(cm[1]), c: &http.Client{
		Jar: jar, Transport: tr, // no timeout: big transfers; callers use contexts
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// dropForm is a streamed multipart body of the new-drop form with one file:
// the fields and the file's part header, the file's bytes from a reader,
// and the closing boundary. Its length is known, so the request carries a
// Content-Length and nothing is buffered.
func dropForm(caseRef, recipient, fileName string, size int64, file io.Reader) (body io.Reader, length int64, contentType string) {
	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	for _, f := range [][2]string{{"recipients", recipient}, {"case_ref", caseRef}, {"purpose", "section_12c_advice"},
		{"purpose_text", ""}, {"retention_days", "30"}, {"message", "Til orientering."}} {
		mw.WriteField(f[0], f[1])
	}
	mw.CreateFormFile("files", fileName)
	prefix := bytes.Clone(head.Bytes())
	head.Reset()
	mw.Close()
	suffix := bytes.Clone(head.Bytes())
	return io.MultiReader(bytes.NewReader(prefix), file, bytes.NewReader(suffix)),
		int64(len(prefix)) + size + int64(len(suffix)), mw.FormDataContentType()
}

// sendDrop posts a one-file drop, the file's bytes read from file; it
// returns the drop's id when the hub acknowledged it (303 to the drop).
func (s *hubSession) sendDrop(ctx context.Context, caseRef, recipient, fileName string, size int64, file io.Reader) (string, error) {
	body, n, ct := dropForm(caseRef, recipient, fileName, size, file)
	req, err := http.NewRequestWithContext(ctx, "POST", s.p.base+"/drops", body)
	if err != nil {
		return "", err
	}
	req.Header.Set("X-CSRF-Token", s.csrf)
	req.ContentLength = n
	req.Header.Set("Content-Type", ct)
	resp, err := s.c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	m := sentRe.FindStringSubmatch(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || m == nil {
		return "", fmt.Errorf("send %s: %s %q\n%s", caseRef, resp.Status, resp.Header.Get("Location"), tail(string(rb), 20))
	}
	return m[1], nil
}

// get fetches a hub path with the session.
func (s *hubSession) get(path string) (*http.Response, string) {
	s.p.tb.Helper()
	return get(s.p.tb, s.c, s.p.base+path)
}

// fileLink returns the download path of the (first) file of a drop.
func (s *hubSession) fileLink(id string) string {
	s.p.tb.Helper()
	resp, page := s.get("/drops/" + id)
	m := fileLinkRe.FindStringSubmatch(page)
	if resp.StatusCode != 200 || m == nil {
		s.p.tb.Fatalf("drop %s: %s, no download link\n%s", id, resp.Status, tail(page, 20))
	}
	return m[1]
}

// download streams a file into w and returns the byte count.
func (s *hubSession) download(ctx context.Context, path string, w io.Writer) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", s.p.base+path, nil)
	if err != nil {
		return 0, err
	}
	resp, err := s.c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return 0, fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	n, err := io.CopyBuffer(w, resp.Body, make([]byte, 256<<10))
	if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
		err = fmt.Errorf("GET %s: %d bytes of %d", path, n, resp.ContentLength)
	}
	return n, err
}

var dropIDRe = regexp.MustCompile(`href="/drops/([0-9a-f]{32})"`)

// sentIDs lists the drops in the sender's sent list (drafts included).
func (s *hubSession) sentIDs() map[string]bool {
	s.p.tb.Helper()
	resp, body := s.get("/drops/sent")
	if resp.StatusCode != 200 {
		s.p.tb.Fatalf("sent list: %s", resp.Status)
	}
	ids := map[string]bool{}
	for _, m := range dropIDRe.FindAllStringSubmatch(body, -1) {
		ids[m[1]] = true
	}
	return ids
}

// procRSSMiB reads VmRSS of pid in MiB.
func procRSSMiB(pid int) (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return float64(kb) / 1024, err
		}
	}
	return 0, errors.New("no VmRSS")
}

// errCrashed ends the body of an upload that was held back until the hub
// was killed.
var errCrashed = errors.New("the hub was killed during this upload")

// TestFiledropSurvivesSIGKILL kills a real hub process with SIGKILL while
// uploads are in flight, after others were acknowledged, and starts it
// again on the same data: every acknowledged drop is there with the same
// bytes, no cut-off upload left a drop behind, and the audit chain
// verifies.
func TestFiledropSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real hub processes")
	}
	p := newHubProc(t, "nordjylland", "")
	p.start()
	s := p.login(851, "aalborg-konsulent")

	// Half of the uploads run through; the other half stop at 10 %, 50 %,
	// 90 % and 100 % of their file's bytes (all of the file but not the
	// closing boundary) until the hub is dead.
	type upload struct {
		caseRef, recipient string
		data               []byte
		sha                string
		pauseAt            float64 // < 0: not held
		id                 string
		err                error
	}
	recipients := []string{"773:773.morsoe-fagperson", "fagperson.demo@morsoe.example"}
	holds := []float64{-1, 0.1, -1, 0.5, -1, 0.9, -1, 1.0}
	ups := make([]*upload, len(holds))
	for i, h := range holds {
		data := randomBytes(2<<20 + mrand.IntN(6<<20+1))
		ups[i] = &upload{caseRef: fmt.Sprintf("SAG-CRASH-%d", i), recipient: recipients[i%2], data: data, sha: sum(data), pauseAt: h}
	}

	release := make(chan struct{})
	var paused, done []chan struct{}
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, u := range ups {
		var body io.Reader = bytes.NewReader(u.data)
		if u.pauseAt >= 0 {
			hr := &pausedReader{cut: true, r: body, pauseAt: int64(u.pauseAt * float64(len(u.data))), paused: make(chan struct{}), release: release}
			paused = append(paused, hr.paused)
			body = hr
		}
		d := make(chan struct{})
		if u.pauseAt < 0 {
			done = append(done, d)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(d)
			u.id, u.err = s.sendDrop(ctx, u.caseRef, u.recipient, "bilag.bin", int64(len(u.data)), body)
		}()
	}
	waitAll := func(what string, chs []chan struct{}) {
		for _, ch := range chs {
			select {
			case <-ch:
			case <-ctx.Done():
				close(release)
				t.Fatalf("timed out waiting for %s\n%s", what, tail(p.log(), 40))
			}
		}
	}
	waitAll("the unheld uploads", done)
	waitAll("the held uploads to reach their pause", paused)

	p.kill()
	close(release)
	wg.Wait()

	acked := map[string]*upload{}
	for i, u := range ups {
		switch {
		case u.pauseAt < 0 && u.err != nil:
			t.Fatalf("upload %d (not held) failed before the kill: %v", i, u.err)
		case u.pauseAt >= 0 && u.err == nil:
			t.Fatalf("upload %d, held at %.0f %%, was acknowledged: %s", i, u.pauseAt*100, u.id)
		case u.err == nil:
			acked[u.id] = u
		}
		t.Logf("upload %d: %d bytes, held at %v: id %q err %v", i, len(u.data), u.pauseAt, u.id, u.err)
	}
	if len(acked) != 4 {
		t.Fatalf("%d acknowledged uploads, want 4", len(acked))
	}

	p.start()
	s = p.login(851, "aalborg-konsulent")
	visible := s.sentIDs()
	for id := range visible {
		if acked[id] == nil {
			_, page := s.get("/drops/" + id)
			field := func(dt string) string {
				if m := regexp.MustCompile(`<dt>` + dt + `</dt><dd>([^<]*)</dd>`).FindStringSubmatch(page); m != nil {
					return html.UnescapeString(m[1])
				}
				return "?"
			}
			t.Errorf("drop %s (case %s, sent: %q, %d file(s)) is in the sent list but was never acknowledged: a cut-off upload left it behind",
				id, field("Sag"), field("Sendt"), len(fileLinkRe.FindAllString(page, -1)))
		}
	}
	for id, u := range acked {
		if !visible[id] {
			t.Errorf("acknowledged drop %s (%s) is missing after the restart", id, u.caseRef)
			continue
		}
		if _, page := s.get("/drops/" + id); !strings.Contains(page, u.sha) {
			t.Errorf("drop %s: its page does not show the SHA-256 %s", id, u.sha)
		}
		h := sha256.New()
		n, err := s.download(ctx, s.fileLink(id), h)
		if got := hex.EncodeToString(h.Sum(nil)); err != nil || n != int64(len(u.data)) || got != u.sha {
			t.Errorf("drop %s download: %d bytes (want %d), SHA-256 %s (want %s), %v", id, n, len(u.data), got, u.sha, err)
		}
	}

	if code, out := p.hubctl("audit", "verify", "--data", p.auditDir()); code != 0 {
		t.Errorf("hubctl audit verify --data %s: exit %d\n%s", p.auditDir(), code, out)
	} else {
		t.Logf("audit verify --data %s: %s", p.auditDir(), strings.TrimSpace(out))
	}
}
