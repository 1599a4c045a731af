// Package deploy puts a hub release onto a target machine and keeps it
// running: it is the mechanics behind the Terraform resource hubkit_site,
// usable without Terraform.
//
// A target directory looks the same on every kind of target:
//
//	<dir>/releases/<release-id>/{hubctl, caddy.json, site.json, manifest.json}
//	<dir>/current  -> releases/<release-id>   (relative symlink, switched atomically)
//	<dir>/data/                                (0700; the hub's data; deploy never touches it)
//	<dir>/hub.env                              (0600; the service's environment; holds the secrets except under systemd,
//	                                            where they are credentials in /etc/hubkit/credentials/<region>/)
//	<dir>/hub.pid, <dir>/hub.log               (start-stop-daemon and the built-in supervisor)
//
// A deploy uploads the release (or reuses an intact one), switches current,
// restarts the service and waits until the hub answers /readyz. When it
// does not, the previous release and service settings are switched back and
// restarted, and Deploy returns a *RollbackError. Old releases beyond
// KeepReleases are pruned.
//
// Every step is a small POSIX shell script run on the target (with /bin/sh
// locally, over an SSH session remotely), so the local tests exercise the
// very commands that run on remote hosts.
package deploy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/hubkit/hubkit/internal/bundle"
)

// KeepReleases is how many releases besides the current one stay on a
// target, so that an operator can switch back by hand.
const KeepReleases = 3

// DefaultHealthTimeout bounds the wait for a restarted hub's /readyz.
const DefaultHealthTimeout = 60 * time.Second

// Target is a machine a hub is deployed on. Local and SSH implement it.
type Target interface {
	// Deploy installs rel and makes it the running release, rolling back
	// to the previous one when the new release does not become ready.
	Deploy(ctx context.Context, rel Release) (*Result, error)
	// Status reports what is deployed. A missing target directory is not
	// an error: Status.Exists is false.
	Status(ctx context.Context) (*Status, error)
	// Remove stops and removes the service and the releases. The data
	// directory stays unless purge is set, then the whole directory goes.
	Remove(ctx context.Context, purge bool) error
	// String names the target in messages, e.g. "ssh root@hub.example:22:/srv/hubkit/nordjylland".
	String() string
}

// Release is what Deploy installs: a rendered bundle and the hubctl binary
// that serves it, with the service's settings.
type Release struct {
	// Files are the bundle's files (caddy.json, site.json, manifest.json),
	// as rendered by internal/bundle.
	Files map[string][]byte
	// Binary is the path of the hubctl executable to install.
	Binary string
	// Listen is the hub's listen address, host:port.
	Listen string
	// Domain is the hub's host name; the health check sends it as SNI and Host.
	Domain string
	// Region is the region id; it names the systemd unit (hubkit-<region>.service).
	Region string
	// Env is extra environment for the hub, e.g. client secrets, never
	// logged. Under systemd every entry is a systemd credential of that name
	// (a root-only file in CredentialDir, read by the hub in
	// $CREDENTIALS_DIRECTORY), not an environment variable; otherwise the
	// values are written to <dir>/hub.env (mode 0600).
	Env map[string]string
	// BackupDest, when set, installs a nightly backup of the data directory
	// to it (`hubctl backup --data <dir>/data --to BackupDest`): an absolute
	// directory on the host or a URL. Only systemd hosts run it (a timer).
	BackupDest string
	// HealthTimeout bounds the wait for /readyz; 0 means DefaultHealthTimeout.
	HealthTimeout time.Duration
}

// Result describes a successful deploy.
type Result struct {
	ReleaseID string
	// Previous is the release that was current before, "" on a first deploy.
	Previous string
	// Reused is true when an intact copy of the release was already on the target.
	Reused bool
}

// Status is what a target has deployed.
type Status struct {
	// Exists is false when the target directory does not exist at all.
	Exists bool
	// ReleaseID is the release current points to; "" when current is missing.
	ReleaseID string
	// Manifest is current/manifest.json; nil when missing or unreadable.
	Manifest *bundle.Manifest
	// Files are the bundle's files of the current release, when readable.
	Files map[string][]byte
	// HubctlSHA256 is the sha256 of the current release's hubctl.
	HubctlSHA256 string
	// Problem says what is wrong with the deployed release, "" when it is
	// intact: current missing, manifest unreadable, files that don't match
	// the manifest.
	Problem string
	// Listen and EnvNames are the service settings of hub.env (the
	// values of the environment are not reported).
	Listen   string
	EnvNames []string
	// Running says whether the service manager reports the hub running.
	Running bool
	// Healthy says whether /readyz answered 200 just now.
	Healthy bool
}

// ReleaseID identifies a release by its content: the first 16 hex digits
// of sha256(bundle hash + sha256 of the hubctl binary, in hex). The same
// bundle served by another hubctl build is another release.
func ReleaseID(bundleHash, binarySHA256 string) string {
	sum := sha256.Sum256([]byte(bundleHash + binarySHA256))
	return hex.EncodeToString(sum[:])[:16]
}

// FileSHA256 returns the sha256 of a file in hex.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// HealthError is returned when a release did not become ready and there
// was no previous release to return to (a first deploy): the service is
// stopped and current removed, so nothing half-working is left serving.
type HealthError struct {
	Target    string
	ReleaseID string
	Cause     error
	LogTail   string // the last lines the failed release logged
}

func (e *HealthError) Error() string {
	return fmt.Sprintf("%s: release %s failed its health check (%v); there was no previous release to roll back to, so the service is stopped%s",
		e.Target, e.ReleaseID, e.Cause, logSuffix(e.LogTail))
}

func (e *HealthError) Unwrap() error { return e.Cause }

// RollbackError is returned when a new release failed its health check and
// the previous release was put back. RollbackErr is nil when the previous
// release is ready again.
type RollbackError struct {
	Target      string
	ReleaseID   string // the release that failed
	Previous    string // the release rolled back to
	Cause       error  // why the new release failed
	LogTail     string // the last lines the failed release logged
	RollbackErr error  // non-nil when the previous release did not come back either
}

func (e *RollbackError) Error() string {
	back := fmt.Sprintf("was rolled back to release %s, which is serving again", e.Previous)
	if e.RollbackErr != nil {
		back = fmt.Sprintf("was rolled back to release %s, but that did not become ready either (%v): the hub is down, look at the service log on the target", e.Previous, e.RollbackErr)
	}
	return fmt.Sprintf("%s: the new release %s failed its health check (%v) and %s%s",
		e.Target, e.ReleaseID, e.Cause, back, logSuffix(e.LogTail))
}

func (e *RollbackError) Unwrap() error { return e.Cause }

func logSuffix(tail string) string {
	tail = strings.TrimRight(tail, "\n")
	if tail == "" {
		return ""
	}
	return "\nlast lines of the hub's log:\n" + tail
}

// validate checks a release before anything touches the target.
func (r *Release) validate() error {
	var problems []string
	for _, name := range []string{bundle.CaddyFile, bundle.SiteFile, bundle.ManifestFile} {
		if len(r.Files[name]) == 0 {
			problems = append(problems, "the bundle has no "+name)
		}
	}
	for name := range r.Files {
		if !isBundleFile(name) {
			problems = append(problems, fmt.Sprintf("the bundle has an unexpected file %q", name))
		}
	}
	if r.Binary == "" {
		problems = append(problems, "no hubctl binary given")
	}
	if _, _, err := splitListen(r.Listen); err != nil {
		problems = append(problems, err.Error())
	}
	if r.Domain == "" {
		problems = append(problems, "no domain given (the health check needs it)")
	}
	if !validRegionID(r.Region) {
		problems = append(problems, fmt.Sprintf("region %q is not a region id (lower-case letters, digits, -)", r.Region))
	}
	if err := checkEnv(r.Env); err != nil {
		problems = append(problems, err.Error())
	}
	if r.BackupDest != "" {
		if err := checkBackupDest(r.BackupDest); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

func isBundleFile(name string) bool {
	return name == bundle.CaddyFile || name == bundle.SiteFile || name == bundle.ManifestFile || name == bundle.BackupFile
}

func validRegionID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func (r *Release) healthTimeout() time.Duration {
	if r.HealthTimeout > 0 {
		return r.HealthTimeout
	}
	return DefaultHealthTimeout
}
