package e2e

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hubkit/hubkit/internal/devidp"
)

// pgServer is a PostgreSQL server the test started itself: a fresh
// cluster (initdb) in a temporary directory, listening on a free loopback
// port and on a Unix socket in that directory, stopped when the test ends.
type pgServer struct {
	bin  string // directory of initdb, postgres, psql
	dir  string // data directory
	sock string // Unix socket directory
	port int
	role string // superuser role (trust authentication on loopback)
	cmd  *exec.Cmd
	log  *syncBuffer
}

// syncBuffer is a bytes.Buffer safe for a process writing and a test reading.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// pgBinDir finds the PostgreSQL server programs: Debian's package
// postgresql installs them in /usr/lib/postgresql/<major>/bin (the newest
// major wins); otherwise initdb on PATH (symlinks resolved, so psql and
// postgres are found beside it).
func pgBinDir(t testing.TB) string {
	t.Helper()
	var found []string
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "postgres")) {
			found = append(found, d)
		}
	}
	if len(found) > 0 {
		major := func(d string) int { n, _ := strconv.Atoi(filepath.Base(filepath.Dir(d))); return n }
		sort.Slice(found, func(i, j int) bool { return major(found[i]) > major(found[j]) })
		return found[0]
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			d := filepath.Dir(real)
			if isExecutable(filepath.Join(d, "postgres")) {
				return d
			}
		}
	}
	t.Fatal("PostgreSQL server programs not found (no /usr/lib/postgresql/<version>/bin/initdb, no initdb on PATH): " +
		"install the Debian package postgresql (.ci/install-deps does, as root), which the tests of the Terraform pg backend start themselves")
	return ""
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// pgCredential is who runs initdb and postgres: PostgreSQL refuses to run
// as root, so as root the cluster belongs to the postgres system user the
// Debian package creates, or to nobody where there is none.
func pgCredential(t testing.TB) (*syscall.Credential, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil, ""
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.Atoi(u.Uid)
		gid, err2 := strconv.Atoi(u.Gid)
		if err1 != nil || err2 != nil || uid == 0 {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, name
	}
	t.Fatal("running as root and there is neither a postgres nor a nobody user to run PostgreSQL as (it refuses to run as root)")
	return nil, ""
}

// startPostgres initialises and starts a PostgreSQL cluster for the test.
func startPostgres(t *testing.T) *pgServer {
	t.Helper()
	s := &pgServer{bin: pgBinDir(t), role: "hubkit", log: &syncBuffer{}}
	cred, userName := pgCredential(t)
	base := t.TempDir()
	s.dir, s.sock = filepath.Join(base, "data"), filepath.Join(base, "sock")
	for _, d := range []string{s.dir, s.sock} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if cred != nil {
		// The server's user must reach its directories: the test's temp
		// directories are root's and 0700.
		for _, d := range []string{filepath.Dir(base), base} {
			if err := os.Chmod(d, 0o711); err != nil {
				t.Fatal(err)
			}
		}
		for _, d := range []string{s.dir, s.sock} {
			if err := os.Chown(d, int(cred.Uid), int(cred.Gid)); err != nil {
				t.Fatal(err)
			}
		}
	}
	run := func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(filepath.Join(s.bin, name), args...)
		cmd.Dir = base
		cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
		if cred != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
		return cmd
	}
	initdb := run("initdb", "-D", s.dir, "-U", s.role, "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb (as %s) in %s: %v\n%s", orSelf(userName), s.dir, err, out)
	}

	s.port = freePort(t)
	s.cmd = run("postgres", "-D", s.dir, "-h", "127.0.0.1", "-p", strconv.Itoa(s.port), "-k", s.sock,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=100")
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start postgres: %v", err)
	}
	exited := make(chan struct{})
	go func() { s.cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		// SIGINT is PostgreSQL's fast shutdown: clients are disconnected.
		s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			s.cmd.Process.Kill()
			<-exited
			t.Errorf("postgres did not shut down within 30s; killed it\n%s", tail(s.log.String(), 20))
		}
	})

	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := s.psqlErr("postgres", "SELECT 1")
		if err == nil && out == "1" {
			break
		}
		select {
		case <-exited:
			t.Fatalf("postgres exited on start:\n%s", tail(s.log.String(), 30))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("postgres on 127.0.0.1:%d not ready within 60s: %v %s\n%s", s.port, err, out, tail(s.log.String(), 30))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("PostgreSQL %s (as %s) on 127.0.0.1:%d, data %s", filepath.Base(filepath.Dir(s.bin)), orSelf(userName), s.port, s.dir)
	return s
}

func orSelf(name string) string {
	if name == "" {
		return "the test's user"
	}
	return name
}

// conn is the connection string of database db, as Terraform's pg backend
// takes it (lib/pq URL form).
func (s *pgServer) conn(db string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", s.role, s.port, db)
}

// psqlErr runs SQL in database db and returns psql's unaligned output.
func (s *pgServer) psqlErr(db, sql string) (string, error) {
	cmd := exec.Command(filepath.Join(s.bin, "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", s.conn(db), "-c", sql)
	cmd.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=5")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return strings.TrimSpace(out.String() + errb.String()), fmt.Errorf("psql: %w: %s", err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// psql runs SQL in database db and fails the test on an error.
func (s *pgServer) psql(t testing.TB, db, sql string) string {
	t.Helper()
	out, err := s.psqlErr(db, sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

// usePG points a project at database db of s through the pg backend with
// the given lock timeout.
func (p *project) usePG(lockTimeout string) {
	f, err := os.OpenFile(p.cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		p.t.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintf(f, "terraform:\n  backend: pg\n  pg_conn_env: HUBKIT_PG_CONN\n  lock_timeout: %s\n", lockTimeout)
}

// hubkitSchemas lists the schemas the pg backend created for hubkit.
func (s *pgServer) hubkitSchemas(t testing.TB, db string) []string {
	out := s.psql(t, db, `SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'hubkit\_%' ORDER BY 1`)
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

// TestPGBackend provisions through Terraform's pg backend against a real
// PostgreSQL: three regions applied in parallel create their states (one
// schema each, created one at a time by the runner), and two operators
// applying the same region at once are serialised by the state lock.
func TestPGBackend(t *testing.T) {
	pg := startPostgres(t)
	const db = "hubkit_tf"
	pg.psql(t, "postgres", "CREATE DATABASE "+db)
	// Set before the project so that the project's clean-up (destroy)
	// still sees it.
	t.Setenv("HUBKIT_PG_CONN", pg.conn(db))
	var p *project
	stopLeftoverHubs(t, func() string {
		if p == nil {
			return ""
		}
		return p.dir
	})
	p = newProject(t)
	p.usePG("5s")

	three := []string{"nordjylland", "midtjylland", "syddanmark"}
	t.Run("parallel-new-states", func(t *testing.T) {
		code, out, errOut := p.hubctl("apply", "--region", "nordjylland", "--region", "midtjylland", "--region", "syddanmark", "--auto-approve")
		if code != 0 {
			t.Fatalf("apply of three regions on the pg backend: exit %d, want 0\n%s\n%s", code, out, tail(errOut, 60))
		}
		var want []string
		for _, r := range three {
			want = append(want, "hubkit_"+r)
		}
		sort.Strings(want)
		if got := pg.hubkitSchemas(t, db); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("schemas in PostgreSQL: %v, want %v", got, want)
		}
		for _, r := range three {
			// Each schema holds the region's state (workspace "default")
			// with the hub in it, and nothing is kept locally.
			st := pg.psql(t, db, fmt.Sprintf(`SELECT name, position('"hubkit_site"' in data) > 0 FROM hubkit_%s.states ORDER BY name`, r))
			if st != "default|t" {
				t.Errorf("hubkit_%s.states: %q, want one state \"default\" holding the hubkit_site", r, st)
			}
			if _, err := os.Stat(filepath.Join(p.dir, "state", r, "terraform.tfstate")); err == nil {
				t.Errorf("%s: a local terraform.tfstate exists though the backend is pg", r)
			}
		}
		code, out, errOut = p.hubctl("plan", "--region", "nordjylland", "--region", "midtjylland", "--region", "syddanmark")
		if code != 0 {
			t.Fatalf("plan after apply: exit %d, want 0\n%s\n%s", code, out, tail(errOut, 40))
		}
	})
	if t.Failed() {
		t.FailNow()
	}

	// A lock held elsewhere (as another Terraform holds it: PostgreSQL
	// advisory lock on the state's id) makes hubctl wait lock_timeout and
	// then fail, saying it is the lock.
	t.Run("held-lock", func(t *testing.T) {
		id := pg.psql(t, db, "SELECT id FROM hubkit_nordjylland.states WHERE name = 'default'")
		holder := exec.Command(filepath.Join(pg.bin, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", pg.conn(db),
			"-c", fmt.Sprintf("SELECT pg_advisory_lock(%s)", id), "-c", "SELECT pg_sleep(120)")
		var hout syncBuffer
		holder.Stdout, holder.Stderr = &hout, &hout
		if err := holder.Start(); err != nil {
			t.Fatal(err)
		}
		release := func() {
			// The server session outlives a killed psql while it sleeps:
			// end it in the server, which releases its locks.
			pg.psqlErr(db, fmt.Sprintf("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s", id))
			holder.Process.Kill()
			holder.Wait()
		}
		defer release()
		waitFor(t, 10*time.Second, "the test's session to hold the state's advisory lock", func() bool {
			return pg.psql(t, db, fmt.Sprintf("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = %s", id)) == "1"
		})
		t0 := time.Now()
		code, out, errOut := p.hubctl("plan", "--region", "nordjylland")
		waited := time.Since(t0)
		if code != 1 {
			t.Fatalf("plan while the state is locked: exit %d, want 1\n%s\n%s", code, out, tail(errOut, 40))
		}
		if !strings.Contains(errOut, "Error acquiring the state lock") || !strings.Contains(out, "nordjylland  plan failed") {
			t.Errorf("plan while the state is locked does not fail with Terraform's lock error:\nstdout:\n%s\nstderr:\n%s", out, tail(errOut, 40))
		}
		// Not a timed assertion of speed: lock_timeout must have been
		// honoured (waited at least 5s) rather than failing at once.
		if waited < 5*time.Second {
			t.Errorf("plan failed after %s, before the configured lock_timeout of 5s", waited)
		}
		t.Logf("lock error after %s:\n%s", waited.Round(time.Millisecond), grepLines(errOut, "state lock", "locked", "ID:"))
		release()
		waitFor(t, 10*time.Second, "the advisory lock to be released", func() bool {
			return pg.psql(t, db, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") == "0"
		})
		if code, out, errOut := p.hubctl("plan", "--region", "nordjylland"); code != 0 {
			t.Errorf("plan once the lock is released: exit %d, want 0\n%s\n%s", code, out, tail(errOut, 40))
		}
	})

	// Two hubctl apply of the same change at once, in the same checkout
	// (same state directory, as two pipelines on one runner): one applies
	// it; the other waits for the first one's lock and either finds
	// nothing left to do or gives up after lock_timeout, saying so.
	t.Run("concurrent-apply-same-dir", func(t *testing.T) {
		concurrentApply(t, p, pg, db, p.cfg, "Lise Låsetest", "lise.laasetest")
	})

	// Two operators apply the same change at once, each from their own
	// checkout (own state directory) against the same state in PostgreSQL
	// and the same target: Terraform's state lock lets one apply it.
	t.Run("concurrent-apply-two-checkouts", func(t *testing.T) {
		cfgB := filepath.Join(p.dir, "hubkit-b.yaml")
		b, _ := os.ReadFile(p.cfg)
		b = bytes.Replace(b, []byte("state_dir: "+filepath.Join(p.dir, "state")+"\n"), []byte("state_dir: "+filepath.Join(p.dir, "state-b")+"\n"), 1)
		if !bytes.Contains(b, []byte("state-b")) {
			t.Fatalf("could not point the second configuration at its own state_dir:\n%s", b)
		}
		if err := os.WriteFile(cfgB, b, 0o644); err != nil {
			t.Fatal(err)
		}
		concurrentApply(t, p, pg, db, cfgB, "Lars Låsetest", "lars.laasetest")
	})

	t.Run("destroy", func(t *testing.T) {
		code, out, errOut := p.hubctl("destroy", "--region", "nordjylland", "--region", "midtjylland", "--region", "syddanmark", "--auto-approve")
		if code != 0 {
			t.Fatalf("destroy: exit %d, want 0\n%s\n%s", code, out, tail(errOut, 40))
		}
		for _, r := range three {
			st := pg.psql(t, db, fmt.Sprintf(`SELECT position('"hubkit_site"' in data) > 0 FROM hubkit_%s.states WHERE name = 'default'`, r))
			if st != "f" {
				t.Errorf("hubkit_%s: the state still holds the hub after destroy (%q)", r, st)
			}
		}
	})
}

// concurrentApply adds a resource person to Nordjylland and runs hubctl
// apply --region nordjylland twice at once, with the project's
// configuration and with cfgB. Exactly one must apply the change; the
// other must precisely either find no changes (it waited for the lock) or
// fail on a lock: hubctl's working directory lock when both share the
// state directory, Terraform's state lock (or its refusal of a plan that
// the other apply made stale) when they do not. Afterwards no lock is
// left and plans find nothing to do.
func concurrentApply(t *testing.T, p *project, pg *pgServer, db, cfgB, name, email string) {
	sameDir := cfgB == p.cfg
	file := filepath.Join(p.dir, "regions", "nordjylland.yaml")
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	person := fmt.Sprintf("  - name: %s\n    title: SSP-konsulent\n    organisation: Aalborg Kommune\n    kommune: Aalborg\n    email: %s@aalborg.example\n    tags: [ssp]\n\npartners:", name, email)
	if err := os.WriteFile(file, bytes.Replace(src, []byte("partners:"), []byte(person), 1), 0o644); err != nil {
		t.Fatal(err)
	}

	type result struct {
		code     int
		out, err string
	}
	var res [2]result
	var wg sync.WaitGroup
	for i, cfg := range []string{p.cfg, cfgB} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(buildHubctl(t), "apply", "--region", "nordjylland", "--auto-approve", "--config", cfg)
			cmd.Dir = p.dir
			cmd.Env = append(os.Environ(), devidp.SecretEnv+"=e2e-dev-secret")
			var o, e bytes.Buffer
			cmd.Stdout, cmd.Stderr = &o, &e
			if err := cmd.Run(); err != nil && cmd.ProcessState == nil {
				res[i] = result{code: -1, err: err.Error()}
				return
			}
			res[i] = result{code: cmd.ProcessState.ExitCode(), out: o.String(), err: e.String()}
		}()
	}
	wg.Wait()

	winner := -1
	for i, r := range res {
		if r.code == 0 && strings.Contains(r.out, "nordjylland  applied") {
			if winner >= 0 {
				t.Fatalf("both concurrent applies applied changes: the lock did not serialise them\nfirst:\n%s\nsecond:\n%s", res[winner].out, r.out)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatalf("neither concurrent apply succeeded: exit %d and %d\nfirst stdout:\n%s\nfirst stderr:\n%s\nsecond stdout:\n%s\nsecond stderr:\n%s",
			res[0].code, res[1].code, res[0].out, tail(res[0].err, 40), res[1].out, tail(res[1].err, 40))
	}
	w, l := res[winner], res[1-winner]
	added := fmt.Sprintf("people: +%s <%s@aalborg.example>", name, email)
	if !strings.Contains(w.out, "nordjylland  applied") || !strings.Contains(w.out, added) {
		t.Errorf("the successful apply did not plan (%q) and apply the new person:\n%s", added, w.out)
	}
	failedOn := func(phase string) bool { return strings.Contains(l.out, "nordjylland  "+phase+" failed") }
	switch {
	case l.code == 0 && strings.Contains(l.out, "nordjylland      0       0        0  no changes") && !strings.Contains(l.out, "applied"):
		t.Logf("outcome: the other apply waited for the lock, then found no changes (exit 0)")
	case sameDir && l.code == 1 && failedOn("plan") && strings.Contains(l.out, "still holds its lock "+filepath.Join(p.dir, "state", "nordjylland", ".hubctl.lock")+" after 5s"):
		t.Logf("outcome: the other apply gave up on the working directory's lock after lock_timeout:\n%s", grepLines(l.out, "lock"))
	case !sameDir && l.code == 1 && (failedOn("plan") || failedOn("apply")) &&
		strings.Contains(l.out, "Error acquiring the state lock") && strings.Contains(l.out, "Workspace is already locked: default"):
		t.Logf("outcome: the other apply gave up on Terraform's state lock after lock_timeout:\n%s", grepLines(l.out, "state lock", "locked", "ID:"))
	case !sameDir && l.code == 1 && failedOn("apply") && strings.Contains(l.out, "Saved plan is stale"):
		t.Logf("outcome: the other apply planned before the first one applied, waited for the state lock, and Terraform refused its stale plan")
	default:
		t.Errorf("the other concurrent apply neither found no changes (exit 0) nor failed clearly on the lock: exit %d\nstdout:\n%s\nstderr:\n%s",
			l.code, l.out, tail(l.err, 60))
	}

	if got := pg.psql(t, db, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"); got != "0" {
		t.Errorf("%s advisory locks remain in PostgreSQL after both applies exited", got)
	}
	for _, cfg := range []string{p.cfg, cfgB} {
		code, out, errOut := p.hubctlConfig(cfg, "plan", "--region", "nordjylland")
		if code != 0 {
			t.Errorf("plan --region nordjylland (%s) after the concurrent applies: exit %d, want 0\n%s\n%s", filepath.Base(cfg), code, out, tail(errOut, 40))
		}
		if sameDir {
			break
		}
	}
	body := p.devLoginAndGet(t, "nordjylland", 851, "aalborg-konsulent", "/directory?q="+url.QueryEscape(strings.Fields(name)[0]))
	if !strings.Contains(body, name) {
		t.Errorf("the served directory does not show %s, added by the concurrent applies", name)
	}
}

// hubctlConfig runs hubctl in the project with another configuration file.
func (p *project) hubctlConfig(cfg string, args ...string) (int, string, string) {
	saved := p.cfg
	p.cfg = cfg
	defer func() { p.cfg = saved }()
	return p.hubctl(args...)
}

// waitFor polls cond until it holds or d has passed.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// grepLines returns the lines of s containing any of words.
func grepLines(s string, words ...string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		for _, w := range words {
			if strings.Contains(line, w) {
				out = append(out, line)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}
