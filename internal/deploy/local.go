package deploy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Local deploys into a directory on this machine. The hub runs under
// start-stop-daemon as the user running hubctl, or under the built-in
// supervisor where start-stop-daemon is missing.
type Local struct {
	// Dir is the target directory, an absolute path.
	Dir string
	// StartStopDaemon is the path of start-stop-daemon. Empty means
	// /sbin/start-stop-daemon or the one on PATH, and the built-in
	// supervisor when there is none; "none" always uses the built-in
	// supervisor.
	StartStopDaemon string
}

var _ Target = (*Local)(nil)

func (l *Local) String() string { return "local " + l.Dir }

func (l *Local) engine() (*engine, error) {
	if err := checkDir(l.Dir); err != nil {
		return nil, fmt.Errorf("%s: %w", l, err)
	}
	h := localHost{}
	e := &engine{h: h, dir: l.Dir, name: l.String()}
	if ssd := l.startStopDaemon(); ssd != "" {
		e.svc = newSSDService(h, l.Dir, ssd)
	} else {
		e.svc = newExecService(h, l.Dir)
	}
	return e, nil
}

func (l *Local) startStopDaemon() string {
	switch l.StartStopDaemon {
	case "none":
		return ""
	case "":
		for _, p := range []string{"/sbin/start-stop-daemon", "/usr/sbin/start-stop-daemon"} {
			if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
				return p
			}
		}
		p, _ := exec.LookPath("start-stop-daemon")
		return p
	}
	return l.StartStopDaemon
}

// Deploy implements Target.
func (l *Local) Deploy(ctx context.Context, rel Release) (*Result, error) {
	e, err := l.engine()
	if err != nil {
		return nil, err
	}
	if rel.BackupDest != "" {
		return nil, fmt.Errorf("%s: backup_dest is for systemd hosts reached over SSH; a local target has no backup timer", l)
	}
	return e.deploy(ctx, rel)
}

// Status implements Target.
func (l *Local) Status(ctx context.Context) (*Status, error) {
	e, err := l.engine()
	if err != nil {
		return nil, err
	}
	return e.status(ctx, true)
}

// Remove implements Target.
func (l *Local) Remove(ctx context.Context, purge bool) error {
	e, err := l.engine()
	if err != nil {
		return err
	}
	return e.remove(ctx, purge)
}

// localHost runs scripts with /bin/sh on this machine.
type localHost struct{}

func (localHost) sh(ctx context.Context, script string, stdin io.Reader) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", script)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// A daemon started by the script must not keep us waiting on its
	// copies of our pipes.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), shellError(err, stderr.String())
	}
	return stdout.Bytes(), nil
}

func (localHost) probeDialer(listen string) (dialFunc, string) {
	host, port, _ := net.SplitHostPort(listen)
	if ip := net.ParseIP(host); host == "" || host == "localhost" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	d := &net.Dialer{Timeout: 5 * time.Second}
	return d.DialContext, net.JoinHostPort(host, port)
}

// shellError words a failed script: the command's own message first.
func shellError(err error, stderr string) error {
	msg := strings.TrimSpace(stderr)
	if msg == "" {
		return err
	}
	if len(msg) > 2000 {
		msg = msg[len(msg)-2000:]
	}
	return fmt.Errorf("%s (%v)", msg, err)
}
