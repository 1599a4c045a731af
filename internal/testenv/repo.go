package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
)

// RepoRoot returns the root of the hubkit repository: the first directory
// that holds a go.mod, walking up from the working directory (a test runs in
// its package's directory).
func RepoRoot(t testing.TB) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return root
}

var repoRootOnce = sync.OnceValues(func() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("cannot get the working directory: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("no go.mod in %s or any parent directory: run the tests inside the hubkit repository", wd)
		}
	}
})

func repoRoot() (string, error) { return repoRootOnce() }

// withFileLock runs fn while holding an exclusive flock on a file in the
// temporary directory, so that test processes of several packages (go test
// runs them in parallel) do not install the same thing at the same time.
func withFileLock(name string, fn func() error) error {
	path := filepath.Join(os.TempDir(), "hubkit-testenv-"+name+".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("open lock file %s: %w", path, err)
	}
	defer f.Close()
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("lock %s: %w", path, err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN) //nolint:errcheck // closing releases it too
	return fn()
}

// lockedLogger forwards to t.Logf until it is closed; background goroutines
// (process output, browser logs) must not log after a test has finished.
type lockedLogger struct {
	mu     sync.Mutex
	t      testing.TB
	prefix string
	closed bool
}

func newLockedLogger(t testing.TB, prefix string) *lockedLogger {
	return &lockedLogger{t: t, prefix: prefix}
}

func (l *lockedLogger) Logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.t.Logf(l.prefix+format, args...)
	}
}

func (l *lockedLogger) Close() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
}
