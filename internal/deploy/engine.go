package deploy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/hubkit/hubkit/internal/bundle"
)

// engine carries out deploy, status and remove on one target directory
// through a host and a service manager. Local and SSH only differ in the
// host and in how they pick the service manager.
type engine struct {
	h    host
	dir  string
	name string // the target, for messages
	svc  service
}

// logLines is how many lines of the hub's log an error quotes.
const logLines = 30

// rollbackBudget bounds the rollback after a failed deploy, which runs
// even when the deploy's context was cancelled (an interrupted apply must
// not leave a broken release serving).
const rollbackBudget = 2 * time.Minute

// releaseFiles are the files every release directory has, in the order
// sha256sum lists them.
var releaseFiles = []string{"caddy.json", "hubctl", "manifest.json", "site.json"}

func (e *engine) deploy(ctx context.Context, rel Release) (*Result, error) {
	if err := rel.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", e.name, err)
	}
	m, err := manifestOf(rel)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", e.name, err)
	}
	binSum, err := FileSHA256(rel.Binary)
	if err != nil {
		return nil, fmt.Errorf("%s: the hubctl binary to deploy: %w", e.name, err)
	}
	id := ReleaseID(m.BundleHash, binSum)
	want := map[string]string{"hubctl": binSum}
	for name, data := range rel.Files {
		sum := sha256.Sum256(data)
		want[name] = hex.EncodeToString(sum[:])
	}

	if _, err := e.h.sh(ctx, script(
		"umask 022",
		fmt.Sprintf("mkdir -p %s", quote(path.Join(e.dir, "releases"))),
	), nil); err != nil {
		return nil, fmt.Errorf("%s: create %s: %w", e.name, e.dir, err)
	}
	reused, err := e.upload(ctx, id, rel, want)
	if err != nil {
		return nil, fmt.Errorf("%s: upload release %s: %w", e.name, id, err)
	}
	prev, err := e.current(ctx)
	if err != nil {
		return nil, err
	}
	prevEnv, err := e.readEnv(ctx)
	if err != nil {
		return nil, err
	}
	if err := e.svc.install(ctx); err != nil {
		return nil, fmt.Errorf("%s: %w", e.name, err)
	}
	if err := e.writeEnv(ctx, renderEnv(e.dir, serviceSettings{Listen: rel.Listen, Env: rel.Env})); err != nil {
		return nil, err
	}
	if err := e.switchTo(ctx, id); err != nil {
		return nil, err
	}
	mark := e.svc.logMark(ctx)
	err = e.svc.restart(ctx)
	if err == nil {
		err = e.waitReady(ctx, rel.Listen, rel.Domain, rel.healthTimeout())
	}
	if err == nil {
		if err := e.prune(ctx); err != nil {
			return nil, fmt.Errorf("%s: release %s is serving, but pruning old releases failed: %w", e.name, id, err)
		}
		return &Result{ReleaseID: id, Previous: prev, Reused: reused}, nil
	}

	// The new release failed: put the previous one back.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackBudget+max(rel.healthTimeout(), DefaultHealthTimeout))
	defer cancel()
	tail := e.svc.logSince(rctx, mark, logLines)
	if prev == "" {
		_ = e.svc.stop(rctx)
		_, _ = e.h.sh(rctx, fmt.Sprintf("rm -f %s", quote(path.Join(e.dir, "current"))), nil)
		return nil, &HealthError{Target: e.name, ReleaseID: id, Cause: err, LogTail: tail}
	}
	rb := &RollbackError{Target: e.name, ReleaseID: id, Previous: prev, Cause: err, LogTail: tail}
	rb.RollbackErr = e.rollback(rctx, prev, prevEnv, rel)
	return nil, rb
}

// rollback switches back to release prev with the service settings it
// ran with, restarts it and waits until it is ready.
func (e *engine) rollback(ctx context.Context, prev string, prevEnv []byte, failed Release) error {
	listen, domain := failed.Listen, failed.Domain
	if prevEnv != nil {
		if _, s, err := parseEnv(prevEnv); err == nil && s.Listen != "" {
			listen = s.Listen
		}
		if err := e.writeEnv(ctx, prevEnv); err != nil {
			return err
		}
	}
	if b, err := e.h.sh(ctx, "cat "+quote(path.Join(e.dir, "releases", prev, bundle.ManifestFile)), nil); err == nil {
		var m bundle.Manifest
		if json.Unmarshal(b, &m) == nil && m.Domain != "" {
			domain = m.Domain
		}
	}
	if err := e.switchTo(ctx, prev); err != nil {
		return err
	}
	if err := e.svc.restart(ctx); err != nil {
		return err
	}
	// The previous release was ready before: give it at least the default
	// time, however short the failed release's timeout was.
	return e.waitReady(ctx, listen, domain, max(failed.healthTimeout(), DefaultHealthTimeout))
}

func (e *engine) waitReady(ctx context.Context, listen, domain string, timeout time.Duration) error {
	dial, addr := e.h.probeDialer(listen)
	return newProbe(dial, addr, domain).wait(ctx, timeout, e.svc.running)
}

// manifestOf reads the release's manifest and checks that the bundle's
// files are the ones it lists.
func manifestOf(rel Release) (*bundle.Manifest, error) {
	var m bundle.Manifest
	if err := json.Unmarshal(rel.Files[bundle.ManifestFile], &m); err != nil {
		return nil, fmt.Errorf("the bundle's %s: %w", bundle.ManifestFile, err)
	}
	if m.BundleHash == "" {
		return nil, fmt.Errorf("the bundle's %s has no bundle_hash", bundle.ManifestFile)
	}
	if m.Region != rel.Region {
		return nil, fmt.Errorf("the bundle is of region %q, not %q", m.Region, rel.Region)
	}
	for name, sum := range m.Files {
		got := sha256.Sum256(rel.Files[name])
		if hex.EncodeToString(got[:]) != sum {
			return nil, fmt.Errorf("the bundle's %s does not match its manifest (render the bundle again)", name)
		}
	}
	return &m, nil
}

// upload puts release id on the target, unless an intact copy is there.
// It writes into a hidden directory and renames that into place, so a
// release directory is always complete.
func (e *engine) upload(ctx context.Context, id string, rel Release, want map[string]string) (reused bool, err error) {
	final := path.Join(e.dir, "releases", id)
	if got, err := e.sums(ctx, final); err == nil && maps.Equal(got, want) {
		_, err := e.h.sh(ctx, "touch "+quote(final), nil)
		return true, err
	}
	tmp := path.Join(e.dir, "releases", ".upload."+id)
	if _, err := e.h.sh(ctx, script(
		"umask 022",
		fmt.Sprintf("rm -rf %s", quote(tmp)),
		fmt.Sprintf("mkdir -m 0755 %s", quote(tmp)),
	), nil); err != nil {
		return false, err
	}
	names := make([]string, 0, len(rel.Files))
	for n := range rel.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if _, err := e.h.sh(ctx, script("umask 022", "cat > "+quote(path.Join(tmp, n))), bytes.NewReader(rel.Files[n])); err != nil {
			return false, fmt.Errorf("write %s: %w", n, err)
		}
	}
	if err := e.uploadBinary(ctx, rel.Binary, want["hubctl"], path.Join(tmp, "hubctl")); err != nil {
		return false, fmt.Errorf("write hubctl: %w", err)
	}
	got, err := e.sums(ctx, tmp)
	if err != nil {
		return false, err
	}
	if !maps.Equal(got, want) {
		return false, fmt.Errorf("the uploaded files do not have the expected sha256 sums (disk full, or the binary changed while uploading?)")
	}
	old := path.Join(e.dir, "releases", ".old."+id)
	_, err = e.h.sh(ctx, script(
		fmt.Sprintf("rm -rf %s", quote(old)),
		fmt.Sprintf("if [ -e %s ]; then mv %s %s; fi", quote(final), quote(final), quote(old)),
		fmt.Sprintf("mv %s %s", quote(tmp), quote(final)),
		fmt.Sprintf("rm -rf %s", quote(old)),
	), nil)
	return false, err
}

// uploadBinary puts the hubctl binary at dst. A new bundle served by the
// same hubctl is the common case, so when the current release has the
// same binary it is copied on the target instead of sent again (some
// 100 MB, which matters over a slow link).
func (e *engine) uploadBinary(ctx context.Context, binary, sum, dst string) error {
	cur := quote(path.Join(e.dir, "current", "hubctl"))
	out, err := e.h.sh(ctx, fmt.Sprintf("if [ -f %s ]; then sha256sum < %s; fi", cur, cur), nil)
	if f := strings.Fields(string(out)); err == nil && len(f) > 0 && f[0] == sum {
		_, err = e.h.sh(ctx, script(fmt.Sprintf("cp %s %s", cur, quote(dst)), "chmod 0755 "+quote(dst)), nil)
		return err
	}
	bin, err := os.Open(binary)
	if err != nil {
		return err
	}
	defer bin.Close()
	_, err = e.h.sh(ctx, script("umask 022", "cat > "+quote(dst), "chmod 0755 "+quote(dst)), bin)
	return err
}

// sums returns the sha256 sums of the files of a release directory.
func (e *engine) sums(ctx context.Context, dir string) (map[string]string, error) {
	args := make([]string, len(releaseFiles))
	for i, f := range releaseFiles {
		args[i] = quote(f)
	}
	// The files every release has (a missing one is an error), and the
	// optional ones of its bundle (backup.json) when present.
	out, err := e.h.sh(ctx, fmt.Sprintf("cd %s && sha256sum -- %s && { [ ! -e %s ] || sha256sum -- %s; }",
		quote(dir), strings.Join(args, " "), quote(bundle.BackupFile), quote(bundle.BackupFile)), nil)
	if err != nil {
		return nil, err
	}
	got := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		sum, name, ok := strings.Cut(l, "  ")
		if ok {
			got[name] = sum
		}
	}
	return got, nil
}

// current returns the release current points to, "" when there is none.
func (e *engine) current(ctx context.Context) (string, error) {
	out, err := e.h.sh(ctx, fmt.Sprintf("readlink %s || true", quote(path.Join(e.dir, "current"))), nil)
	if err != nil {
		return "", fmt.Errorf("%s: read the current symlink: %w", e.name, err)
	}
	target := strings.TrimSpace(string(out))
	if target == "" {
		return "", nil
	}
	return path.Base(target), nil
}

// switchTo points current at release id: a new symlink, renamed over the
// old one, so current is never missing or half-written.
func (e *engine) switchTo(ctx context.Context, id string) error {
	tmp := path.Join(e.dir, ".current.tmp")
	_, err := e.h.sh(ctx, script(
		fmt.Sprintf("ln -sfn %s %s", quote("releases/"+id), quote(tmp)),
		fmt.Sprintf("mv -Tf %s %s", quote(tmp), quote(path.Join(e.dir, "current"))),
	), nil)
	if err != nil {
		return fmt.Errorf("%s: switch current to release %s: %w", e.name, id, err)
	}
	return nil
}

// settingsStore is a service manager that keeps the service settings
// itself instead of in hub.env alone: systemd keeps the secrets as
// credentials. Both methods see the settings as hub.env content.
type settingsStore interface {
	writeSettings(ctx context.Context, e *engine, data []byte) error
	readSettings(ctx context.Context, e *engine) ([]byte, error)
	// secretNames lists the names of the secrets kept outside hub.env.
	secretNames(ctx context.Context) ([]string, error)
}

// readEnv returns the service settings as hub.env content, nil when there are none.
func (e *engine) readEnv(ctx context.Context) ([]byte, error) {
	if st, ok := e.svc.(settingsStore); ok {
		return st.readSettings(ctx, e)
	}
	return e.getEnvFile(ctx)
}

// writeEnv stores the service settings, given as hub.env content.
func (e *engine) writeEnv(ctx context.Context, data []byte) error {
	if st, ok := e.svc.(settingsStore); ok {
		return st.writeSettings(ctx, e, data)
	}
	return e.putEnvFile(ctx, data)
}

// getEnvFile returns hub.env, nil when there is none.
func (e *engine) getEnvFile(ctx context.Context) ([]byte, error) {
	f := quote(path.Join(e.dir, EnvFile))
	out, err := e.h.sh(ctx, fmt.Sprintf("if [ -f %s ]; then echo present; cat %s; fi", f, f), nil)
	if err != nil {
		return nil, fmt.Errorf("%s: read %s: %w", e.name, EnvFile, err)
	}
	rest, ok := bytes.CutPrefix(out, []byte("present\n"))
	if !ok {
		return nil, nil
	}
	return rest, nil
}

// putEnvFile replaces hub.env atomically, created with mode 0600.
func (e *engine) putEnvFile(ctx context.Context, data []byte) error {
	f := path.Join(e.dir, EnvFile)
	_, err := e.h.sh(ctx, script(
		"umask 077",
		fmt.Sprintf("cat > %s", quote(f+".tmp")),
		fmt.Sprintf("mv -f %s %s", quote(f+".tmp"), quote(f)),
	), bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("%s: write %s: %w", e.name, f, err)
	}
	return nil
}

// prune removes all but the KeepReleases most recently deployed releases
// besides the current one, and leftovers of interrupted uploads.
func (e *engine) prune(ctx context.Context) error {
	_, err := e.h.sh(ctx, script(
		"cd "+quote(path.Join(e.dir, "releases")),
		"rm -rf .upload.* .old.*",
		`cur=$(basename "$(readlink ../current)")`,
		"n=0",
		`for r in $(ls -1t); do`,
		`  [ "$r" = "$cur" ] && continue`,
		`  n=$((n+1))`,
		fmt.Sprintf(`  if [ "$n" -gt %d ]; then rm -rf -- "$r"; fi`, KeepReleases),
		`done`,
	), nil)
	return err
}

// status reports what is deployed; probe asks /readyz when set.
func (e *engine) status(ctx context.Context, probe bool) (*Status, error) {
	out, err := e.h.sh(ctx, fmt.Sprintf("if [ -d %s ]; then echo yes; else echo no; fi", quote(e.dir)), nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", e.name, err)
	}
	st := &Status{Exists: strings.TrimSpace(string(out)) == "yes"}
	if !st.Exists {
		return st, nil
	}
	if st.ReleaseID, err = e.current(ctx); err != nil {
		return nil, err
	}
	// Status needs the names only: the secrets stay where they are.
	if env, err := e.getEnvFile(ctx); err != nil {
		return nil, err
	} else if env != nil {
		if _, s, err := parseEnv(env); err == nil {
			st.Listen, st.EnvNames = s.Listen, envNames(s.Env)
		}
	}
	if store, ok := e.svc.(settingsStore); ok {
		names, err := store.secretNames(ctx)
		if err != nil {
			return nil, err
		}
		st.EnvNames = append(st.EnvNames, names...)
		sort.Strings(st.EnvNames)
	}
	if st.Running, err = e.svc.running(ctx); err != nil {
		return nil, fmt.Errorf("%s: ask %s whether the hub runs: %w", e.name, e.svc, err)
	}
	if st.ReleaseID == "" {
		st.Problem = "current is missing: no release is deployed"
		return st, nil
	}
	cur := path.Join(e.dir, "current")
	b, err := e.h.sh(ctx, "cat "+quote(path.Join(cur, bundle.ManifestFile)), nil)
	if err != nil {
		st.Problem = fmt.Sprintf("current points to release %s, whose %s cannot be read (%s)", st.ReleaseID, bundle.ManifestFile, firstLine(err.Error()))
		return st, nil
	}
	var m bundle.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		st.Problem = fmt.Sprintf("current/%s is not valid JSON: %v", bundle.ManifestFile, err)
		return st, nil
	}
	st.Manifest = &m
	st.Files = map[string][]byte{bundle.ManifestFile: b}
	for name := range m.Files {
		if !isBundleFile(name) {
			continue // never a path the manifest could lead out of the release
		}
		if data, err := e.h.sh(ctx, "cat "+quote(path.Join(cur, name)), nil); err == nil {
			st.Files[name] = data
		}
	}
	if got, err := e.sums(ctx, cur); err != nil {
		st.Problem = fmt.Sprintf("release %s is incomplete: %s", st.ReleaseID, firstLine(err.Error()))
	} else {
		st.HubctlSHA256 = got["hubctl"]
		st.Problem = checkRelease(st.ReleaseID, &m, got)
	}
	if probe && st.Running && st.Listen != "" && m.Domain != "" {
		dial, addr := e.h.probeDialer(st.Listen)
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		st.Healthy = newProbe(dial, addr, m.Domain).once(pctx) == nil
		cancel()
	}
	return st, nil
}

// checkRelease compares a deployed release with its manifest and id.
func checkRelease(id string, m *bundle.Manifest, sums map[string]string) string {
	names := make([]string, 0, len(m.Files))
	for n := range m.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if sums[n] != m.Files[n] {
			return fmt.Sprintf("current/%s does not match current/%s (changed on the host)", n, bundle.ManifestFile)
		}
	}
	if ReleaseID(m.BundleHash, sums["hubctl"]) != id {
		return fmt.Sprintf("release %s does not hold what its name says: its %s or its hubctl was changed on the host", id, bundle.ManifestFile)
	}
	return ""
}

// remove stops the service and removes the target's releases; purge
// removes the whole directory with the hub's data.
func (e *engine) remove(ctx context.Context, purge bool) error {
	out, err := e.h.sh(ctx, fmt.Sprintf("if [ -d %s ]; then echo yes; fi", quote(e.dir)), nil)
	if err != nil {
		return fmt.Errorf("%s: %w", e.name, err)
	}
	if err := e.svc.uninstall(ctx, purge); err != nil {
		return fmt.Errorf("%s: %w", e.name, err)
	}
	if strings.TrimSpace(string(out)) != "yes" {
		return nil
	}
	var lines []string
	if purge {
		lines = []string{"rm -rf -- " + quote(e.dir)}
	} else {
		for _, f := range []string{"current", ".current.tmp", "releases", EnvFile, EnvFile + ".tmp", pidFile, logFile, logFile + ".1"} {
			lines = append(lines, "rm -rf -- "+quote(path.Join(e.dir, f)))
		}
	}
	if _, err := e.h.sh(ctx, script(lines...), nil); err != nil {
		return fmt.Errorf("%s: remove: %w", e.name, err)
	}
	return nil
}
