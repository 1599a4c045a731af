package deploy

import (
	"context"
	"fmt"
	"path"
	"strings"
)

// ssdService runs the hub with start-stop-daemon (Debian package dpkg),
// the service manager of hosts without systemd such as containers and the
// test host. The hub runs in the background as the deploying user, with a
// pid file and its output appended to hub.log.
type ssdService struct {
	fileLog
	ssd string // path of start-stop-daemon on the target
}

func newSSDService(h host, dir, ssd string) *ssdService {
	return &ssdService{fileLog: fileLog{h: h, dir: dir}, ssd: ssd}
}

func (s *ssdService) String() string { return "start-stop-daemon" }

func (s *ssdService) install(ctx context.Context) error {
	_, err := s.h.sh(ctx, script("umask 022", ensureDataScript(s.dir, "")), nil)
	return err
}

// matchArgs select the hub process: the pid file, and the process name,
// so a stale pid file that a reused pid now points to never makes us
// signal another program.
func (s *ssdService) matchArgs() string {
	return fmt.Sprintf("--pidfile %s --name hubctl", quote(path.Join(s.dir, pidFile)))
}

func (s *ssdService) stopScript() string {
	return script(
		fmt.Sprintf("%s --stop --quiet --oknodo %s --retry TERM/20/KILL/5 --remove-pidfile", quote(s.ssd), s.matchArgs()),
		fmt.Sprintf("rm -f %s", quote(path.Join(s.dir, pidFile))),
	)
}

func (s *ssdService) stop(ctx context.Context) error {
	if _, err := s.h.sh(ctx, s.stopScript(), nil); err != nil {
		return fmt.Errorf("stop the hub with start-stop-daemon: %w", err)
	}
	return nil
}

// restart starts the hub with a clean environment: only what hub.env
// holds, read by a shell with `set -a` so every line is exported.
func (s *ssdService) restart(ctx context.Context) error {
	if err := s.stop(ctx); err != nil {
		return err
	}
	args := make([]string, 0, 8)
	for _, a := range serveArgs(s.dir) {
		args = append(args, quote(a))
	}
	// Inside the inner shell: $1 is start-stop-daemon, $2 the target directory.
	inner := `set -a; . "$2/hub.env"; set +a; exec "$1" --start --quiet --background --make-pidfile` +
		` --pidfile "$2/hub.pid" --name hubctl --output "$2/hub.log" --chdir "$2/data"` +
		` --startas "$2/current/hubctl" -- ` + strings.Join(args, " ") + ` --listen "$HUBCTL_LISTEN"`
	_, err := s.h.sh(ctx, script(
		"umask 077",
		rotateLogScript(s.dir),
		fmt.Sprintf("exec env -i /bin/sh -c %s sh %s %s", quote(inner), quote(s.ssd), quote(s.dir)),
	), nil)
	if err != nil {
		return fmt.Errorf("start the hub with start-stop-daemon: %w", err)
	}
	return nil
}

// running asks start-stop-daemon, and then makes sure the process is not
// a zombie: start-stop-daemon counts those as running, and where PID 1
// reaps orphans slowly (containers) a crashed hub lingers as one.
func (s *ssdService) running(ctx context.Context) (bool, error) {
	out, err := s.h.sh(ctx, script(
		fmt.Sprintf("if ! %s --status %s; then echo no; exit 0; fi", quote(s.ssd), s.matchArgs()),
		fmt.Sprintf("pid=$(cat %s 2>/dev/null || true)", quote(path.Join(s.dir, pidFile))),
		`state=$(sed -n 's/^.*) \([A-Za-z]\).*$/\1/p' "/proc/$pid/stat" 2>/dev/null || true)`,
		`if [ "$state" = Z ] || [ -z "$state" ]; then echo no; else echo yes; fi`,
	), nil)
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(string(out)) == "yes", nil
}

func (s *ssdService) uninstall(ctx context.Context, _ bool) error { return s.stop(ctx) }
