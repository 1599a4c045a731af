package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// OIDCProviderDir is the folder, relative to the repository root, of the
// Node.js OpenID Provider and of the npm packages the harness uses (oidc-provider
// and axe-core, pinned by its package-lock.json).
const OIDCProviderDir = "testdata/oidcprovider"

// RequireNode returns the path of the node binary and makes sure that the
// npm packages of testdata/oidcprovider are installed, running `npm ci` there
// when node_modules is missing or older than package-lock.json (once per test
// process, and under a file lock across processes). It fails the test with a
// clear message when node or npm are missing or npm ci fails.
func RequireNode(t testing.TB) string {
	t.Helper()
	nodeMu.Lock()
	defer nodeMu.Unlock()
	if !nodeTried {
		nodeTried = true
		nodePath, nodeErr = findNode(t)
	}
	if nodeErr != nil {
		t.Fatalf("testenv: %v", nodeErr)
	}
	return nodePath
}

var (
	nodeMu    sync.Mutex
	nodeTried bool
	nodePath  string
	nodeErr   error
)

func findNode(t testing.TB) (string, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return "", errors.New("node is not installed (Node.js 20 or later is needed to run the OpenID Provider of the end-to-end tests): install it, e.g. `apt-get install nodejs npm`, then run .ci/install-deps")
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, OIDCProviderDir)
	if err := ensureNodeModules(dir, t.Logf); err != nil {
		return "", err
	}
	return node, nil
}

// nodeModulesStale reports whether dir needs `npm ci`: node_modules (or npm's
// record of it, node_modules/.package-lock.json) is missing or older than
// package-lock.json.
func nodeModulesStale(dir string) (bool, error) {
	lock, err := os.Stat(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return false, fmt.Errorf("%s has no package-lock.json: %w", dir, err)
	}
	installed, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return installed.ModTime().Before(lock.ModTime()), nil
}

func ensureNodeModules(dir string, logf func(string, ...any)) error {
	stale, err := nodeModulesStale(dir)
	if err != nil || !stale {
		return err
	}
	return withFileLock("npm-ci", func() error {
		// Another process may have installed them while we waited.
		if stale, err := nodeModulesStale(dir); err != nil || !stale {
			return err
		}
		npm, err := exec.LookPath("npm")
		if err != nil {
			return fmt.Errorf("%s/node_modules is missing and npm is not installed: install npm, then run .ci/install-deps", dir)
		}
		logf("testenv: %s/node_modules is missing or older than package-lock.json; running npm ci", dir)
		start := time.Now()
		cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
		var out bytes.Buffer
		cmd.Stdout = &out
		cmd.Stderr = &out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("`npm ci` in %s failed (%v); it needs the npm registry. Output:\n%s", dir, err, out.String())
		}
		logf("testenv: npm ci done in %v", time.Since(start).Round(100*time.Millisecond))
		return nil
	})
}

// nodeModulesFile returns the path of a file inside the installed npm
// packages of testdata/oidcprovider, installing them first if needed.
func nodeModulesFile(t testing.TB, rel string) string {
	t.Helper()
	RequireNode(t)
	return filepath.Join(RepoRoot(t), OIDCProviderDir, "node_modules", rel)
}
