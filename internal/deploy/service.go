package deploy

import (
	"context"
	"fmt"
	"path"
	"strconv"
	"strings"
)

// service is the service manager that runs the hub on a target: systemd,
// start-stop-daemon, or (locally, when start-stop-daemon is missing) the
// built-in supervisor. Every one runs the same command:
//
//	<dir>/current/hubctl serve --bundle <dir>/current --data <dir>/data --listen $HUBCTL_LISTEN
//
// with the environment of <dir>/hub.env.
type service interface {
	// String names the service manager in messages.
	String() string
	// install prepares the service: the data directory (created 0700 for
	// the service's user when missing, otherwise left alone), and for
	// systemd the unit and the dedicated user.
	install(ctx context.Context) error
	// restart stops the hub if it runs and starts it again.
	restart(ctx context.Context) error
	// stop stops the hub and waits until it has exited.
	stop(ctx context.Context) error
	// running reports whether the hub process is alive.
	running(ctx context.Context) (bool, error)
	// logMark returns a position in the hub's log; logSince returns the
	// last n lines logged after it.
	logMark(ctx context.Context) string
	logSince(ctx context.Context, mark string, n int) string
	// uninstall removes what install added, except the data directory;
	// purge also removes the dedicated user.
	uninstall(ctx context.Context, purge bool) error
}

// Files of the service in a target directory.
const (
	pidFile = "hub.pid"
	logFile = "hub.log"
	// maxLogSize is the size above which hub.log is moved to hub.log.1 at
	// the next start, so the log of the start-stop-daemon and built-in
	// managers cannot fill the disk.
	maxLogSize = 10 << 20
)

// serveArgs are the arguments of hubctl for the service, the listen
// address given separately (it comes from hub.env).
func serveArgs(dir string) []string {
	return []string{"serve", "--bundle", path.Join(dir, "current"), "--data", path.Join(dir, "data")}
}

// ensureDataScript creates the data directory when it is missing. An
// existing one is never touched: it holds the hub's sessions, audit log
// and files.
func ensureDataScript(dir, owner string) string {
	data := quote(path.Join(dir, "data"))
	if owner == "" {
		return fmt.Sprintf("[ -d %s ] || mkdir -m 0700 %s", data, data)
	}
	return fmt.Sprintf("[ -d %s ] || install -d -m 0700 -o %s -g %s %s", data, quote(owner), quote(owner), data)
}

// fileLog reads the hub's log file, <dir>/hub.log, written by the
// start-stop-daemon and built-in managers.
type fileLog struct {
	h   host
	dir string
}

func (l fileLog) logMark(ctx context.Context) string {
	out, err := l.h.sh(ctx, fmt.Sprintf("wc -c < %s 2>/dev/null || echo 0", quote(path.Join(l.dir, logFile))), nil)
	if err != nil {
		return "0"
	}
	return strings.TrimSpace(string(out))
}

func (l fileLog) logSince(ctx context.Context, mark string, n int) string {
	m, err := strconv.ParseInt(mark, 10, 64)
	if err != nil || m < 0 {
		m = 0
	}
	f := quote(path.Join(l.dir, logFile))
	out, _ := l.h.sh(ctx, script(
		fmt.Sprintf("[ -f %s ] || exit 0", f),
		fmt.Sprintf("size=$(wc -c < %s)", f),
		// A log rotated since the mark is read from its start.
		fmt.Sprintf(`if [ "$size" -ge %d ]; then tail -c +%d %s | tail -n %d; else tail -n %d %s; fi`, m, m+1, f, n, n, f),
	), nil)
	return string(out)
}

// rotateLogScript moves an oversized hub.log aside before a start.
func rotateLogScript(dir string) string {
	f := quote(path.Join(dir, logFile))
	return fmt.Sprintf(`if [ -f %s ] && [ "$(wc -c < %s)" -gt %d ]; then mv -f %s %s.1; fi`, f, f, maxLogSize, f, f)
}
