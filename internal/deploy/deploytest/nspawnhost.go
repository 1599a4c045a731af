package deploytest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/hubkit/hubkit/internal/testenv"
)

// The root file system of the systemd test host: Debian 12 from Debian's
// own packages, built once by debootstrap and cached. Bump
// systemdRootVersion when prepareRoot changes what it writes.
const (
	systemdRootVersion = "1"
	systemdRootSuite   = "bookworm"
	systemdRootMirror  = "http://deb.debian.org/debian"
)

// systemdRootPackages are installed on top of debootstrap's minbase.
var systemdRootPackages = []string{"systemd", "systemd-sysv", "dbus", "openssh-server", "ca-certificates"}

// DeployUser is the unprivileged login user of the systemd test host.
const DeployUser = "hubkit-deploy"

// SystemdHost is a booted Debian 12 machine: systemd as PID 1 in a
// systemd-nspawn container that lives in the test network namespace (its
// address is HostAddr), with OpenSSH answering on port 22. Files the
// container changes go to an overlay that is thrown away at the end, so
// every test gets a pristine host.
type SystemdHost struct {
	NS   string // network namespace name
	Addr string // HostAddr
	Port int    // 22
	User string // root
	// KeyFile is root's private key; DeployKeyFile is DeployUser's.
	KeyFile       string
	DeployKeyFile string
	// HostKey is sshd's host public key (authorized_keys format), to pin.
	HostKey string
	// BootTime is how long the container took from start to a running
	// system (systemctl is-system-running --wait) with sshd answering.
	BootTime time.Duration
	// Root is the container's root directory as seen from this machine.
	Root string

	client *ssh.Client
}

// StartSystemdHost boots a systemd test host; it is powered off and
// removed when the test ends. Only one test host exists on the machine at
// a time (a file lock serialises test processes). It needs root,
// systemd-nspawn (systemd-container), debootstrap and ip (iproute2); a
// missing package is installed with apt-get. The first run builds the
// root file system (debootstrap, about two minutes) into
// ~/.cache/hubkit/nspawn-root-<key>.
func StartSystemdHost(t testing.TB) *SystemdHost {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("deploytest: the systemd test host needs root (debootstrap, systemd-nspawn, ip netns, overlay mounts); run the tests as root")
	}
	requireTools(t, map[string]string{"ip": "iproute2", "systemd-nspawn": "systemd-container", "debootstrap": "debootstrap"})
	base := SystemdRoot(t)
	unlock := lockNetwork(t)
	t.Cleanup(unlock)

	h := &SystemdHost{Addr: HostAddr, Port: 22, User: "root"}
	h.NS = startNetwork(t)
	dir := t.TempDir()
	h.Root = mountOverlay(t, base, dir)

	// Keys: a fresh host key pinned by the tests, and one login key each
	// for root and the deploy user.
	keys := &SSHHost{dir: dir}
	hostPub := keys.writeKey(t, "ssh_host_ed25519_key")
	rootPub := keys.writeKey(t, "id_root")
	deployPub := keys.writeKey(t, "id_deploy")
	h.HostKey = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(hostPub)))
	h.KeyFile, h.DeployKeyFile = filepath.Join(dir, "id_root"), filepath.Join(dir, "id_deploy")
	hostPriv, err := os.ReadFile(filepath.Join(dir, "ssh_host_ed25519_key"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(h.Root, "etc/ssh/ssh_host_ed25519_key"), hostPriv, 0o600, 0, 0)
	writeFile(t, filepath.Join(h.Root, "etc/ssh/ssh_host_ed25519_key.pub"), ssh.MarshalAuthorizedKey(hostPub), 0o644, 0, 0)
	writeFile(t, filepath.Join(h.Root, "root/.ssh/authorized_keys"), ssh.MarshalAuthorizedKey(rootPub), 0o600, 0, 0)
	uid, gid := passwdIDs(t, h.Root, DeployUser)
	writeFile(t, filepath.Join(h.Root, "home", DeployUser, ".ssh/authorized_keys"), ssh.MarshalAuthorizedKey(deployPub), 0o600, uid, gid)

	start := time.Now()
	h.boot(t, dir)
	h.BootTime = time.Since(start)
	t.Logf("deploytest: systemd test host booted in %s", h.BootTime.Round(time.Millisecond))
	return h
}

// boot starts the container and waits until systemd reports the system
// running and sshd answers.
func (h *SystemdHost) boot(t testing.TB, dir string) {
	t.Helper()
	console := filepath.Join(dir, "console.log")
	logf, err := os.Create(console)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("systemd-nspawn", "--quiet", "--boot", "--register=no", "--keep-unit",
		"--network-namespace-path=/run/netns/"+h.NS, "--console=pipe",
		"--machine=hubkit-test-"+strconv.Itoa(os.Getpid()), "--hostname=hubkit-test", "-D", h.Root)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("deploytest: start systemd-nspawn: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(exited) }()
	t.Cleanup(func() {
		if h.client != nil {
			h.client.Close()
		}
		// nspawn turns SIGTERM into an orderly poweroff of the container.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			t.Logf("deploytest: the systemd test host did not power off within 20s; killing it")
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	fail := func(format string, args ...any) {
		t.Helper()
		tail, _ := os.ReadFile(console)
		if len(tail) > 8<<10 {
			tail = tail[len(tail)-8<<10:]
		}
		t.Fatalf("deploytest: systemd test host: "+format+"\nconsole:\n%s", append(args, tail)...)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case <-exited:
			fail("systemd-nspawn exited during boot")
		default:
		}
		c, err := h.Dial(h.User, h.KeyFile)
		if err == nil {
			h.client = c
			break
		}
		if time.Now().After(deadline) {
			fail("ssh does not answer on %s:22 within 90s: %v", h.Addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	out, err := h.Run("systemctl is-system-running --wait")
	if state := strings.TrimSpace(out); err != nil && state != "degraded" {
		fail("systemctl is-system-running: %q %v", state, err)
	} else if state == "degraded" {
		failed, _ := h.Run("systemctl --failed --no-legend")
		t.Logf("deploytest: the systemd test host is degraded:\n%s", failed)
	}
}

// Dial opens an SSH connection as user with the private key file,
// pinning the host key.
func (h *SystemdHost) Dial(user, keyFile string) (*ssh.Client, error) {
	pem, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, err
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		return nil, err
	}
	want, _, _, _, err := ssh.ParseAuthorizedKey([]byte(h.HostKey))
	if err != nil {
		return nil, err
	}
	return ssh.Dial("tcp", net.JoinHostPort(h.Addr, strconv.Itoa(h.Port)), &ssh.ClientConfig{
		User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.FixedHostKey(want), Timeout: 2 * time.Second,
	})
}

// Run runs a shell command on the host as root over SSH and returns its
// standard output; the error carries its standard error.
func (h *SystemdHost) Run(command string) (string, error) {
	s, err := h.client.NewSession()
	if err != nil {
		return "", err
	}
	defer s.Close()
	var stdout, stderr bytes.Buffer
	s.Stdout, s.Stderr = &stdout, &stderr
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(command) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		err = fmt.Errorf("timed out after 2m")
	}
	if err != nil {
		return stdout.String(), fmt.Errorf("%s: %v: %s", command, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// MustRun is Run that fails the test on an error.
func (h *SystemdHost) MustRun(t testing.TB, command string) string {
	t.Helper()
	out, err := h.Run(command)
	if err != nil {
		t.Fatalf("deploytest: on the systemd test host: %v", err)
	}
	return out
}

// StartOIDCProvider runs the test OpenID Provider in the host's network
// namespace and returns its issuer, http://127.0.0.1:<port>/...: a
// loopback issuer, which a hub accepts over plain HTTP, reached by the hub
// on the namespace's loopback. The provider listens on all the
// namespace's addresses, so a test's HTTP client reaches the same port at
// Addr (dial Addr for 127.0.0.1, see DialLoopback).
func (h *SystemdHost) StartOIDCProvider(t testing.TB, cfg testenv.OIDCConfig) string {
	t.Helper()
	cfg.Host = "0.0.0.0"
	cfg.Port = FreePort(t) // free in the fresh namespace too
	cfg.Issuer = "http://127.0.0.1:" + strconv.Itoa(cfg.Port) + cfg.IssuerPath
	return startOIDCProviderIn(t, h.NS, cfg)
}

// DialLoopback rewrites an address on 127.0.0.1 to the same port at the
// host's address: what the host's loopback serves, as seen from here.
func (h *SystemdHost) DialLoopback(addr string) string {
	if host, port, err := net.SplitHostPort(addr); err == nil && host == "127.0.0.1" {
		return net.JoinHostPort(h.Addr, port)
	}
	return addr
}

// SystemdRoot returns the cached root file system of the systemd test
// host, building it first when the cache has none. Builds go into a
// temporary directory renamed into place when complete, under a lock, so
// neither a killed build nor two test processes leave a half root.
func SystemdRoot(t testing.TB) string {
	t.Helper()
	cache, err := cacheDir()
	if err != nil {
		t.Fatalf("deploytest: %v", err)
	}
	sum := sha256.Sum256([]byte(strings.Join(append([]string{systemdRootVersion, systemdRootSuite, systemdRootMirror}, systemdRootPackages...), "\n")))
	root := filepath.Join(cache, "nspawn-root-"+hex.EncodeToString(sum[:])[:12])
	if _, err := os.Stat(filepath.Join(root, "etc/os-release")); err == nil {
		return root
	}
	f, err := os.OpenFile(filepath.Join(cache, "nspawn-root.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(filepath.Join(root, "etc/os-release")); err == nil {
		return root // another test process built it meanwhile
	}
	// Leftovers of killed builds: nobody else builds while we hold the lock.
	stale, _ := filepath.Glob(root + ".tmp-*")
	for _, s := range stale {
		_ = os.RemoveAll(s)
	}
	tmp := root + ".tmp-" + strconv.Itoa(os.Getpid())
	start := time.Now()
	t.Logf("deploytest: building the systemd test host's root with debootstrap into %s (once per cache key; about two minutes)", root)
	cmd := exec.Command("debootstrap", "--variant=minbase", "--include="+strings.Join(systemdRootPackages, ","), systemdRootSuite, tmp, systemdRootMirror)
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = os.RemoveAll(tmp)
		if len(out) > 4<<10 {
			out = out[len(out)-4<<10:]
		}
		t.Fatalf("deploytest: debootstrap %s from %s: %v\n%s", systemdRootSuite, systemdRootMirror, err, out)
	}
	if err := prepareRoot(tmp); err != nil {
		_ = os.RemoveAll(tmp)
		t.Fatalf("deploytest: prepare the systemd test host's root: %v", err)
	}
	if err := os.Rename(tmp, root); err != nil {
		_ = os.RemoveAll(tmp)
		t.Fatal(err)
	}
	t.Logf("deploytest: debootstrap and preparation took %s", time.Since(start).Round(time.Second))
	return root
}

// prepareRoot turns a fresh debootstrap into the test host's base: a
// deploy user, sshd accepting keys only, no host keys (every test writes
// its own), no package cache.
func prepareRoot(root string) error {
	if out, err := exec.Command("chroot", root, "useradd", "--create-home", "--shell", "/bin/bash", DeployUser).CombinedOutput(); err != nil {
		return fmt.Errorf("useradd %s: %v: %s", DeployUser, err, out)
	}
	keys, _ := filepath.Glob(filepath.Join(root, "etc/ssh/ssh_host_*"))
	debs, _ := filepath.Glob(filepath.Join(root, "var/cache/apt/archives/*.deb"))
	for _, f := range append(keys, debs...) {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	conf := "# hubkit systemd test host: key logins only, one host key.\n" +
		"HostKey /etc/ssh/ssh_host_ed25519_key\nPermitRootLogin prohibit-password\n" +
		"PasswordAuthentication no\nKbdInteractiveAuthentication no\nMaxSessions 30\n"
	if err := os.WriteFile(filepath.Join(root, "etc/ssh/sshd_config.d/hubkit-test.conf"), []byte(conf), 0o644); err != nil {
		return err
	}
	for _, d := range []string{"root/.ssh", filepath.Join("home", DeployUser, ".ssh")} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			return err
		}
	}
	if out, err := exec.Command("chroot", root, "chown", DeployUser+":", filepath.Join("/home", DeployUser, ".ssh")).CombinedOutput(); err != nil {
		return fmt.Errorf("chown: %v: %s", err, out)
	}
	return os.WriteFile(filepath.Join(root, "etc/hostname"), []byte("hubkit-test\n"), 0o644)
}

// mountOverlay mounts base read-only under a writable overlay in dir and
// returns the merged directory; unmounted when the test ends.
func mountOverlay(t testing.TB, base, dir string) string {
	t.Helper()
	upper, work, merged := filepath.Join(dir, "upper"), filepath.Join(dir, "work"), filepath.Join(dir, "root")
	for _, d := range []string{upper, work, merged} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", base, upper, work)
	if err := syscall.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		t.Fatalf("deploytest: mount an overlay over %s: %v", base, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(merged, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
			t.Errorf("deploytest: unmount %s: %v", merged, err)
		}
	})
	return merged
}

func cacheDir() (string, error) {
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no cache directory: set XDG_CACHE_HOME or HOME: %w", err)
		}
		base = filepath.Join(home, ".cache")
	}
	dir := filepath.Join(base, "hubkit")
	return dir, os.MkdirAll(dir, 0o755)
}

// passwdIDs reads a user's uid and gid from root/etc/passwd.
func passwdIDs(t testing.TB, root, user string) (int, int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "etc/passwd"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Split(l, ":")
		if len(f) >= 4 && f[0] == user {
			uid, err1 := strconv.Atoi(f[2])
			gid, err2 := strconv.Atoi(f[3])
			if err1 == nil && err2 == nil {
				return uid, gid
			}
		}
	}
	t.Fatalf("deploytest: no user %s in %s/etc/passwd", user, root)
	return 0, 0
}

func writeFile(t testing.TB, name string, data []byte, mode os.FileMode, uid, gid int) {
	t.Helper()
	if err := os.WriteFile(name, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(name, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(name, uid, gid); err != nil {
		t.Fatal(err)
	}
}
