package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// SSH deploys onto a host reached over SSH with a private key, checking
// the host against a pinned host key. The hub runs under systemd as a
// hardened unit when the host runs systemd (then the user must be root:
// installing units, users and root-only credential files is root's work,
// and a sudo rule allowing it would be root in all but name), and under
// start-stop-daemon as the login user otherwise.
type SSH struct {
	Host string
	// Port defaults to 22.
	Port int
	// User defaults to root.
	User string
	// PrivateKeyFile is the path of an unencrypted private key (OpenSSH or PEM).
	PrivateKeyFile string
	// HostKey pins the host's public key, in authorized_keys format (see
	// ParseHostKey). A host that presents another key is refused.
	HostKey string
	// Dir is the target directory on the host, an absolute path.
	Dir string
}

var _ Target = (*SSH)(nil)

// dialTimeout bounds the TCP connection and the SSH handshake.
const dialTimeout = 20 * time.Second

func (t *SSH) port() int {
	if t.Port == 0 {
		return 22
	}
	return t.Port
}

func (t *SSH) user() string {
	if t.User == "" {
		return "root"
	}
	return t.User
}

func (t *SSH) addr() string { return net.JoinHostPort(t.Host, strconv.Itoa(t.port())) }

func (t *SSH) String() string { return fmt.Sprintf("ssh %s@%s:%s", t.user(), t.addr(), t.Dir) }

// connect opens the SSH connection, refusing a host whose key is not the pinned one.
func (t *SSH) connect(ctx context.Context) (*sshHost, error) {
	if t.Host == "" {
		return nil, fmt.Errorf("%s: no host given", t)
	}
	if err := checkDir(t.Dir); err != nil {
		return nil, fmt.Errorf("%s: %w", t, err)
	}
	want, err := ParseHostKey(t.HostKey)
	if err != nil {
		return nil, fmt.Errorf("%s: host_key: %w", t, err)
	}
	keyPEM, err := os.ReadFile(t.PrivateKeyFile)
	if err != nil {
		return nil, fmt.Errorf("%s: private key: %w", t, err)
	}
	signer, err := ssh.ParsePrivateKey(keyPEM)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		return nil, fmt.Errorf("%s: private key %s is protected by a passphrase; hubctl needs an unencrypted deploy key (ssh-keygen -t ed25519 -N '' -f FILE)", t, t.PrivateKeyFile)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: private key %s: %w", t, t.PrivateKeyFile, err)
	}
	cfg := &ssh.ClientConfig{
		User:              t.user(),
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback:   pinnedHostKey(want),
		HostKeyAlgorithms: hostKeyAlgorithms(want),
		Timeout:           dialTimeout,
	}
	d := &net.Dialer{Timeout: dialTimeout}
	conn, err := d.DialContext(ctx, "tcp", t.addr())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t, err)
	}
	_ = conn.SetDeadline(time.Now().Add(dialTimeout))
	c, chans, reqs, err := ssh.NewClientConn(conn, t.addr(), cfg)
	if err != nil {
		conn.Close()
		var hk *HostKeyError
		switch {
		case errors.As(err, &hk):
			return nil, hk
		case strings.Contains(err.Error(), "no common algorithm for host key"):
			return nil, fmt.Errorf("%s: the host offers no %s host key, which host_key pins: %w", t, want.Type(), err)
		case strings.Contains(err.Error(), "unable to authenticate"):
			return nil, fmt.Errorf("%s: the host refused the key %s for user %s: add its public key to ~%s/.ssh/authorized_keys on the host (%w)", t, t.PrivateKeyFile, t.user(), t.user(), err)
		}
		return nil, fmt.Errorf("%s: %w", t, err)
	}
	_ = conn.SetDeadline(time.Time{})
	return &sshHost{client: ssh.NewClient(c, chans, reqs), host: t.Host, name: t.String()}, nil
}

// engine connects and picks the service manager. region names the
// systemd unit; "" finds the unit that serves Dir, if any.
func (t *SSH) engine(ctx context.Context, region string) (*engine, *sshHost, error) {
	h, err := t.connect(ctx)
	if err != nil {
		return nil, nil, err
	}
	e := &engine{h: h, dir: t.Dir, name: t.String()}
	if e.svc, err = remoteService(ctx, h, t.Dir, region); err != nil {
		h.Close()
		return nil, nil, fmt.Errorf("%s: %w", t, err)
	}
	return e, h, nil
}

// Deploy implements Target.
func (t *SSH) Deploy(ctx context.Context, rel Release) (*Result, error) {
	e, h, err := t.engine(ctx, rel.Region)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	s, isSystemd := e.svc.(*systemdService)
	if isSystemd && !h.root {
		return nil, fmt.Errorf("%s: the host runs systemd, and installing the hub as a systemd unit (%s, its user, its credentials in %s) needs root: "+
			"log in as root (user = \"root\", key-only: PermitRootLogin prohibit-password), see modules/target-ssh/README.md", t, s.unitPath(), CredentialDir(rel.Region))
	}
	if rel.BackupDest != "" {
		if !isSystemd {
			return nil, fmt.Errorf("%s: backup_dest is set, but the host does not run systemd, whose timer runs the nightly backup: leave backup_dest empty and back up %s/data otherwise", t, t.Dir)
		}
		s.backupDest = rel.BackupDest
	}
	return e.deploy(ctx, rel)
}

// Status implements Target.
func (t *SSH) Status(ctx context.Context) (*Status, error) {
	e, h, err := t.engine(ctx, "")
	if err != nil {
		return nil, err
	}
	defer h.Close()
	return e.status(ctx, true)
}

// Remove implements Target.
func (t *SSH) Remove(ctx context.Context, purge bool) error {
	e, h, err := t.engine(ctx, "")
	if err != nil {
		return err
	}
	defer h.Close()
	if s, ok := e.svc.(*systemdService); ok && s.region != "" && !h.root {
		return fmt.Errorf("%s: removing the systemd unit %s needs root: log in as root (see modules/target-ssh/README.md)", t, s.unitPath())
	}
	return e.remove(ctx, purge)
}

// remoteService picks the service manager of the host: systemd when it
// is PID 1 and systemctl is there, else start-stop-daemon.
func remoteService(ctx context.Context, h *sshHost, dir, region string) (service, error) {
	out, err := h.sh(ctx, script(
		`if [ "$(id -u)" = 0 ]; then echo root; else echo user; fi`,
		`if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ] && command -v systemctl >/dev/null 2>&1; then echo systemd; exit 0; fi`,
		`for p in "$(command -v start-stop-daemon 2>/dev/null || true)" /sbin/start-stop-daemon /usr/sbin/start-stop-daemon; do`,
		`  if [ -n "$p" ] && [ -x "$p" ]; then echo "ssd $p"; exit 0; fi`,
		`done`,
		`echo none`,
	), nil)
	if err != nil {
		return nil, fmt.Errorf("find the service manager: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 {
		return nil, fmt.Errorf("find the service manager: unexpected answer %q", out)
	}
	h.root = lines[0] == "root"
	switch kind, arg, _ := strings.Cut(lines[1], " "); kind {
	case "systemd":
		if region == "" {
			region = unitRegion(ctx, h, dir)
		}
		return &systemdService{h: h, dir: dir, region: region}, nil
	case "ssd":
		return newSSDService(h, dir, arg), nil
	}
	return nil, errors.New("the host has neither systemd nor start-stop-daemon: install systemd, or start-stop-daemon (Debian package dpkg)")
}

// unitRegion finds the region whose installed unit serves dir, "" when none does.
func unitRegion(ctx context.Context, h host, dir string) string {
	out, _ := h.sh(ctx, fmt.Sprintf("grep -l -F -x %s /etc/systemd/system/hubkit-*.service 2>/dev/null | head -n 1 || true",
		quote("EnvironmentFile="+path.Join(dir, EnvFile))), nil)
	unit := path.Base(strings.TrimSpace(string(out)))
	region := strings.TrimSuffix(strings.TrimPrefix(unit, "hubkit-"), ".service")
	if region == unit || !validRegionID(region) {
		return ""
	}
	return region
}

// sshHost runs scripts over one SSH connection, one session each.
type sshHost struct {
	client *ssh.Client
	host   string
	name   string
	root   bool
}

func (h *sshHost) Close() error { return h.client.Close() }

func (h *sshHost) sh(ctx context.Context, script string, stdin io.Reader) ([]byte, error) {
	s, err := h.client.NewSession()
	if err != nil {
		return nil, fmt.Errorf("%s: open a session: %w", h.name, err)
	}
	defer s.Close()
	var stdout, stderr bytes.Buffer
	s.Stdin, s.Stdout, s.Stderr = stdin, &stdout, &stderr
	done := make(chan error, 1)
	go func() { done <- s.Run("/bin/sh -c " + quote(script)) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = s.Signal(ssh.SIGKILL)
		s.Close()
		return nil, ctx.Err()
	}
	if err != nil {
		return stdout.Bytes(), shellError(err, stderr.String())
	}
	return stdout.Bytes(), nil
}

// probeDialer reaches a hub that listens on loopback through the SSH
// connection (as `ssh -L` would), and any other hub at the SSH host's
// address, as its users reach it.
func (h *sshHost) probeDialer(listen string) (dialFunc, string) {
	host, port, _ := net.SplitHostPort(listen)
	if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
		return h.client.DialContext, net.JoinHostPort("127.0.0.1", port)
	}
	d := &net.Dialer{Timeout: 5 * time.Second}
	return d.DialContext, net.JoinHostPort(h.host, port)
}
