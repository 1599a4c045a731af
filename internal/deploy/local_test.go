package deploy_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hubkit/hubkit/internal/bundle"
	"github.com/hubkit/hubkit/internal/deploy"
	"github.com/hubkit/hubkit/internal/deploy/deploytest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	deploytest.Cleanup()
	os.Exit(code)
}

const devSecretEnv = "HUBKIT_DEV_CLIENT_SECRET"

// site is a local test site: development bundles of Nordjylland from an
// editable copy of the regions, served on a free loopback port.
type site struct {
	t       *testing.T
	regions string
	port    int
	bin     string
	dir     string
}

func newSite(t *testing.T) *site {
	return &site{
		t:       t,
		regions: deploytest.CopyRegions(t),
		port:    deploytest.FreePort(t),
		bin:     deploytest.Hubctl(t),
		dir:     filepath.Join(t.TempDir(), "nordjylland"),
	}
}

// release renders the current regions; bundlePort != s.port makes a
// release whose /readyz fails: its development identity provider's issuer
// names a port nothing listens on, so discovery fails, as when a bundle is
// rendered for another port than it is served on.
func (s *site) release(bundlePort int) deploy.Release {
	b := deploytest.Render(s.t, s.regions, "nordjylland", bundle.Options{Dev: true, Version: "test", Port: bundlePort})
	return deploy.Release{
		Files: b.Files, Binary: s.bin, Listen: deploytest.Listen(s.port), Domain: b.Manifest.Domain,
		Region: "nordjylland", Env: map[string]string{devSecretEnv: "test-secret-" + strconv.Itoa(s.port)},
		HealthTimeout: 30 * time.Second,
	}
}

func (s *site) good() deploy.Release { return s.release(s.port) }

func (s *site) broken() deploy.Release {
	r := s.release(deploytest.FreePort(s.t))
	r.HealthTimeout = 4 * time.Second
	return r
}

func (s *site) readyz() error {
	return deploytest.Readyz(deploytest.Listen(s.port), bundle.DevDomain("nordjylland"))
}

func (s *site) editPerson(from, to string) {
	deploytest.EditRegion(s.t, s.regions, "nordjylland", "name: "+from, "name: "+to)
}

func (s *site) currentLink() string {
	l, err := os.Readlink(filepath.Join(s.dir, "current"))
	if err != nil {
		s.t.Fatal(err)
	}
	return l
}

func (s *site) releases() []string {
	entries, err := os.ReadDir(filepath.Join(s.dir, "releases"))
	if err != nil {
		s.t.Fatal(err)
	}
	var ids []string
	for _, e := range entries {
		ids = append(ids, e.Name())
	}
	return ids
}

func (s *site) portClosed() bool {
	c, err := net.DialTimeout("tcp", deploytest.Listen(s.port), time.Second)
	if err == nil {
		c.Close()
		return false
	}
	return true
}

func TestLocalLifecycle(t *testing.T) {
	ctx := context.Background()
	s := newSite(t)
	target := &deploy.Local{Dir: s.dir}
	t.Cleanup(func() { _ = target.Remove(context.Background(), true) })

	// First deploy.
	rel1 := s.good()
	r1, err := target.Deploy(ctx, rel1)
	if err != nil {
		t.Fatal(err)
	}
	if r1.Previous != "" || r1.Reused || len(r1.ReleaseID) != 16 {
		t.Fatalf("first deploy: %+v", r1)
	}
	if err := s.readyz(); err != nil {
		t.Fatalf("hub not ready after deploy: %v", err)
	}
	if got := s.currentLink(); got != "releases/"+r1.ReleaseID {
		t.Errorf("current -> %q, want releases/%s", got, r1.ReleaseID)
	}
	checkMode(t, filepath.Join(s.dir, "data"), 0o700)
	checkMode(t, filepath.Join(s.dir, deploy.EnvFile), 0o600)
	env, _ := os.ReadFile(filepath.Join(s.dir, deploy.EnvFile))
	if !strings.Contains(string(env), devSecretEnv+"='"+rel1.Env[devSecretEnv]+"'") {
		t.Errorf("hub.env does not pass %s through:\n%s", devSecretEnv, env)
	}
	st, err := target.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m1 := manifestHash(t, rel1)
	if !st.Exists || st.ReleaseID != r1.ReleaseID || st.Manifest == nil || st.Manifest.BundleHash != m1 ||
		st.Problem != "" || !st.Running || !st.Healthy || st.Listen != rel1.Listen || strings.Join(st.EnvNames, ",") != devSecretEnv {
		t.Fatalf("status after deploy: %s", show(st))
	}

	// The same release again is reused, not uploaded.
	if r, err := target.Deploy(ctx, rel1); err != nil || !r.Reused || r.ReleaseID != r1.ReleaseID {
		t.Fatalf("redeploy: %+v, %v", r, err)
	}

	// Update: a resource person changes, so does the bundle.
	s.editPerson("Maja Nørgaard", "Maja Nørgaard Holm")
	r2, err := target.Deploy(ctx, s.good())
	if err != nil {
		t.Fatal(err)
	}
	if r2.ReleaseID == r1.ReleaseID || r2.Previous != r1.ReleaseID {
		t.Fatalf("update: %+v (first %s)", r2, r1.ReleaseID)
	}
	if err := s.readyz(); err != nil {
		t.Fatalf("hub not ready after update: %v", err)
	}
	site, _ := os.ReadFile(filepath.Join(s.dir, "current", "site.json"))
	if !strings.Contains(string(site), "Maja Nørgaard Holm") {
		t.Error("current/site.json does not have the update")
	}

	// A release that never becomes ready is rolled back; the previous
	// release serves again.
	s.editPerson("Søren Kjær", "Søren Kjær Broken")
	_, err = target.Deploy(ctx, s.broken())
	var rb *deploy.RollbackError
	if !errors.As(err, &rb) {
		t.Fatalf("deploying a release that fails /readyz: got %v, want a RollbackError", err)
	}
	if rb.Previous != r2.ReleaseID || rb.RollbackErr != nil || rb.LogTail == "" {
		t.Fatalf("rollback: previous %s (want %s), rollback error %v, log tail %q", rb.Previous, r2.ReleaseID, rb.RollbackErr, rb.LogTail)
	}
	for _, want := range []string{"failed its health check", "rolled back to release " + r2.ReleaseID, "serving again", "503", "last lines of the hub's log"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("rollback error lacks %q:\n%v", want, err)
		}
	}
	if got := s.currentLink(); got != "releases/"+r2.ReleaseID {
		t.Errorf("after rollback current -> %q, want releases/%s", got, r2.ReleaseID)
	}
	if err := s.readyz(); err != nil {
		t.Fatalf("previous release not serving after rollback: %v", err)
	}

	// Old releases beyond deploy.KeepReleases are pruned (r1, r2 and the
	// failed one are there now; two more deploys push r1 out).
	s.editPerson("Søren Kjær Broken", "Søren Kjær Larsen")
	if _, err := target.Deploy(ctx, s.good()); err != nil {
		t.Fatal(err)
	}
	s.editPerson("Søren Kjær Larsen", "Søren Kjær Nielsen")
	r5, err := target.Deploy(ctx, s.good())
	if err != nil {
		t.Fatal(err)
	}
	ids := s.releases()
	if len(ids) != deploy.KeepReleases+1 || strings.Contains(strings.Join(ids, " "), r1.ReleaseID) {
		t.Errorf("releases after 5 deploys: %v; want %d, without the first (%s)", ids, deploy.KeepReleases+1, r1.ReleaseID)
	}

	// Drift: a changed manifest, then a missing current, are reported; a
	// deploy repairs them.
	mf := filepath.Join(s.dir, "current", bundle.ManifestFile)
	b, _ := os.ReadFile(mf)
	h := manifestHash(t, deploy.Release{Files: map[string][]byte{bundle.ManifestFile: b}})
	if err := os.WriteFile(mf, []byte(strings.Replace(string(b), h, strings.Repeat("0", 64), 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if st, err := target.Status(ctx); err != nil || !strings.Contains(st.Problem, "changed on the host") {
		t.Errorf("status after editing manifest.json: %s, %v", show(st), err)
	}
	cf := filepath.Join(s.dir, "current", bundle.CaddyFile)
	b, _ = os.ReadFile(cf)
	if err := os.WriteFile(cf, append(b, ' '), 0o644); err != nil {
		t.Fatal(err)
	}
	if st, err := target.Status(ctx); err != nil || !strings.Contains(st.Problem, "caddy.json does not match") {
		t.Errorf("status after editing caddy.json: %s, %v", show(st), err)
	}
	if err := os.Remove(filepath.Join(s.dir, "current")); err != nil {
		t.Fatal(err)
	}
	if st, err := target.Status(ctx); err != nil || st.ReleaseID != "" || !strings.Contains(st.Problem, "current is missing") {
		t.Errorf("status without current: %s, %v", show(st), err)
	}
	r6, err := target.Deploy(ctx, s.good())
	if err != nil || r6.ReleaseID != r5.ReleaseID || r6.Reused {
		t.Fatalf("repairing deploy: %+v, %v (want release %s uploaded again)", r6, err, r5.ReleaseID)
	}
	if st, err := target.Status(ctx); err != nil || st.Problem != "" || !st.Healthy {
		t.Errorf("status after repair: %s, %v", show(st), err)
	}

	// Remove keeps the data; purge removes everything.
	if err := target.Remove(ctx, false); err != nil {
		t.Fatal(err)
	}
	if !s.portClosed() {
		t.Error("the hub still listens after Remove")
	}
	if _, err := os.Stat(filepath.Join(s.dir, "data", "hub.db")); err != nil {
		t.Errorf("Remove lost the hub's data: %v", err)
	}
	for _, gone := range []string{"releases", "current", deploy.EnvFile, "hub.pid"} {
		if _, err := os.Lstat(filepath.Join(s.dir, gone)); !os.IsNotExist(err) {
			t.Errorf("Remove left %s behind (%v)", gone, err)
		}
	}
	if st, err := target.Status(ctx); err != nil || !st.Exists || st.ReleaseID != "" || st.Running {
		t.Errorf("status after Remove: %s, %v", show(st), err)
	}
	if err := target.Remove(ctx, true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.dir); !os.IsNotExist(err) {
		t.Errorf("Remove with purge left %s (%v)", s.dir, err)
	}
	if st, err := target.Status(ctx); err != nil || st.Exists {
		t.Errorf("status after purge: %s, %v", show(st), err)
	}
}

// TestLocalBuiltinSupervisor runs the same mechanics without
// start-stop-daemon, and a first deploy that fails.
func TestLocalBuiltinSupervisor(t *testing.T) {
	ctx := context.Background()
	s := newSite(t)
	target := &deploy.Local{Dir: s.dir, StartStopDaemon: "none"}
	t.Cleanup(func() { _ = target.Remove(context.Background(), true) })

	_, err := target.Deploy(ctx, s.broken())
	var he *deploy.HealthError
	if !errors.As(err, &he) {
		t.Fatalf("failing first deploy: got %v, want a HealthError", err)
	}
	if _, err := os.Lstat(filepath.Join(s.dir, "current")); !os.IsNotExist(err) {
		t.Errorf("a failed first deploy left current behind")
	}
	if !s.portClosed() {
		t.Error("a failed first deploy left the hub running")
	}

	r, err := target.Deploy(ctx, s.good())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.readyz(); err != nil {
		t.Fatal(err)
	}
	pid, _ := os.ReadFile(filepath.Join(s.dir, "hub.pid"))
	st, err := target.Status(ctx)
	if err != nil || st.ReleaseID != r.ReleaseID || !st.Running || !st.Healthy {
		t.Fatalf("status: %s, %v", show(st), err)
	}
	// A restart replaces the process.
	s.editPerson("Maja Nørgaard", "Maja Nørgaard Holm")
	if _, err := target.Deploy(ctx, s.good()); err != nil {
		t.Fatal(err)
	}
	pid2, _ := os.ReadFile(filepath.Join(s.dir, "hub.pid"))
	if string(pid) == string(pid2) {
		t.Errorf("the hub was not restarted (pid %s)", pid)
	}
	if err := target.Remove(ctx, false); err != nil {
		t.Fatal(err)
	}
	if !s.portClosed() {
		t.Error("the hub still listens after Remove")
	}
}

func TestReleaseValidation(t *testing.T) {
	s := &site{t: t, regions: deploytest.CopyRegions(t), port: 8443, bin: "/nonexistent/hubctl", dir: "/tmp/hubkit-never-created"}
	good := s.good()
	cases := []struct {
		name string
		edit func(*deploy.Release)
		want string
	}{
		{"no manifest", func(r *deploy.Release) { delete(r.Files, bundle.ManifestFile) }, "no manifest.json"},
		{"extra file", func(r *deploy.Release) { r.Files["evil.sh"] = []byte("x") }, `unexpected file "evil.sh"`},
		{"bad listen", func(r *deploy.Release) { r.Listen = "8443" }, "not host:port"},
		{"other region", func(r *deploy.Release) { r.Region = "midtjylland" }, `not "midtjylland"`},
		{"tampered", func(r *deploy.Release) { r.Files[bundle.SiteFile] = []byte("{}") }, "does not match its manifest"},
		{"reserved env", func(r *deploy.Release) { r.Env = map[string]string{"PATH": "/tmp"} }, "set by deploy itself"},
		{"quote in env", func(r *deploy.Release) { r.Env = map[string]string{"X": "it's"} }, "single quote"},
		{"missing binary", func(r *deploy.Release) {}, "/nonexistent/hubctl"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := good
			r.Files = map[string][]byte{}
			for k, v := range good.Files {
				r.Files[k] = v
			}
			c.edit(&r)
			_, err := (&deploy.Local{Dir: s.dir}).Deploy(context.Background(), r)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
			if _, err := os.Stat(s.dir); !os.IsNotExist(err) {
				t.Fatalf("an invalid release created %s", s.dir)
			}
		})
	}
}

func TestLocalRefusesSystemDirectories(t *testing.T) {
	for _, dir := range []string{"", "relative/dir", "/", "/etc", "/srv/../etc", "/srv/hub'; rm -rf /"} {
		if _, err := (&deploy.Local{Dir: dir}).Status(context.Background()); err == nil {
			t.Errorf("Local{Dir: %q} was accepted", dir)
		}
	}
}

func manifestHash(t *testing.T, r deploy.Release) string {
	t.Helper()
	m := string(r.Files[bundle.ManifestFile])
	i := strings.Index(m, `"bundle_hash": "`)
	if i < 0 {
		t.Fatalf("no bundle_hash in %s", m)
	}
	return m[i+len(`"bundle_hash": "`) : i+len(`"bundle_hash": "`)+64]
}

// show prints a status without the files.
func show(st *deploy.Status) string {
	if st == nil {
		return "<nil>"
	}
	c := *st
	c.Files = nil
	hash := ""
	if c.Manifest != nil {
		hash = c.Manifest.BundleHash
	}
	c.Manifest = nil
	return fmt.Sprintf("%+v bundle=%s", c, hash)
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != want {
		t.Errorf("%s has mode %o, want %o", path, fi.Mode().Perm(), want)
	}
}
