package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumNames are the executables RequireChromium looks for, in order.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// RequireChromium returns the path of a Chromium (or Chrome) executable. When
// none is installed and the test runs as root, it installs the Debian package
// chromium (apt-get update && apt-get install -y chromium fonts-liberation, once per process
// and under a file lock across processes), logging its progress. Otherwise it
// fails the test with a message that says how to install it.
func RequireChromium(t testing.TB) string {
	t.Helper()
	if path, ok := findChromium(); ok {
		return path
	}
	path, err := chromiumOnce(t)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return path
}

func findChromium() (string, bool) {
	for _, name := range chromiumNames {
		if path, err := exec.LookPath(name); err == nil {
			return path, true
		}
	}
	return "", false
}

var (
	chromiumMu    sync.Mutex
	chromiumPath  string
	chromiumErr   error
	chromiumTried bool
)

func chromiumOnce(t testing.TB) (string, error) {
	chromiumMu.Lock()
	defer chromiumMu.Unlock()
	if !chromiumTried {
		chromiumTried = true
		chromiumPath, chromiumErr = installChromium(t)
	}
	return chromiumPath, chromiumErr
}

func installChromium(t testing.TB) (string, error) {
	if os.Geteuid() != 0 {
		return "", errors.New("chromium is not installed and the tests do not run as root, so they cannot install it: run `sudo apt-get update && sudo apt-get install -y chromium` (or `sudo .ci/install-deps`)")
	}
	err := withFileLock("apt", func() error {
		if _, ok := findChromium(); ok {
			return nil // another test process installed it meanwhile
		}
		for _, args := range [][]string{
			{"update"},
			{"install", "-y", "--no-install-recommends", "chromium", "fonts-liberation"},
		} {
			t.Logf("testenv: chromium is missing; running apt-get %s", strings.Join(args, " "))
			start := time.Now()
			cmd := exec.Command("apt-get", append([]string{"-q"}, args...)...)
			cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			var out bytes.Buffer
			cmd.Stdout = &out
			cmd.Stderr = &out
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("apt-get %s failed (%v); install chromium by hand (apt-get install chromium). Output:\n%s", strings.Join(args, " "), err, out.String())
			}
			t.Logf("testenv: apt-get %s done in %v", args[0], time.Since(start).Round(time.Second))
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	path, ok := findChromium()
	if !ok {
		return "", fmt.Errorf("apt-get installed chromium, but none of %v is on PATH", chromiumNames)
	}
	return path, nil
}

// BrowserOption changes how NewBrowser starts Chromium.
type BrowserOption func(*browserConfig)

type browserConfig struct {
	timeout           time.Duration
	verifyCerts       bool
	windowW, windowH  int
	extraAllocOptions []chromedp.ExecAllocatorOption
}

// DefaultBrowserTimeout bounds a browser of NewBrowser: start, every action
// and the close.
const DefaultBrowserTimeout = 60 * time.Second

// WithBrowserTimeout sets the timeout of the browser context (default
// DefaultBrowserTimeout). When it passes, the browser is closed and every
// chromedp action on the context fails.
func WithBrowserTimeout(d time.Duration) BrowserOption {
	return func(c *browserConfig) { c.timeout = d }
}

// WithCertificateVerification makes Chromium verify TLS certificates. By
// default it ignores certificate errors, so that pages of the hub served with
// Caddy's internal CA load.
func WithCertificateVerification() BrowserOption {
	return func(c *browserConfig) { c.verifyCerts = true }
}

// WithWindowSize sets the size of the browser window (default 1280x900).
func WithWindowSize(width, height int) BrowserOption {
	return func(c *browserConfig) { c.windowW, c.windowH = width, height }
}

// WithAllocatorOptions adds chromedp allocator options (e.g. chromedp.Flag).
func WithAllocatorOptions(opts ...chromedp.ExecAllocatorOption) BrowserOption {
	return func(c *browserConfig) { c.extraAllocOptions = append(c.extraAllocOptions, opts...) }
}

// NewBrowser starts a real headless Chromium for the test and returns a
// chromedp context for one tab of it; use it with chromedp.Do and
// chromedp.Run. The browser has a fresh profile (--user-data-dir in a new
// temporary directory), runs with --headless --no-sandbox --disable-gpu
// --disable-quic --no-first-run --disable-background-networking
// --disable-component-update --disable-sync and, unless
// WithCertificateVerification is given, --ignore-certificate-errors.
// Chromium resolves *.localhost to loopback by itself. The browser is closed
// and its profile removed when the test ends, or when the timeout passes.
func NewBrowser(t testing.TB, opts ...BrowserOption) context.Context {
	t.Helper()
	cfg := browserConfig{timeout: DefaultBrowserTimeout, windowW: 1280, windowH: 900}
	for _, o := range opts {
		o(&cfg)
	}
	execPath := RequireChromium(t)

	profile, err := os.MkdirTemp("", "hubkit-chromium-")
	if err != nil {
		t.Fatalf("testenv: create a Chromium profile directory: %v", err)
	}

	allocOpts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(execPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(cfg.windowW, cfg.windowH),
	}
	if !cfg.verifyCerts {
		allocOpts = append(allocOpts, chromedp.IgnoreCertErrors)
	}
	allocOpts = append(allocOpts, cfg.extraAllocOptions...)

	log := newLockedLogger(t, "chromium: ")
	// Not t.Context(): it ends before the cleanups run, which would kill the
	// browser instead of closing it.
	timeoutCtx, cancelTimeout := context.WithTimeout(context.Background(), cfg.timeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(timeoutCtx, allocOpts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx,
		chromedp.WithLogf(log.Logf),
		chromedp.WithErrorf(log.Logf),
	)
	t.Cleanup(func() {
		// Close the browser gracefully, then make sure it is gone.
		closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		done := make(chan struct{})
		go func() {
			_ = chromedp.Cancel(ctx)
			close(done)
		}()
		select {
		case <-done:
		case <-closeCtx.Done():
		}
		cancel()
		cancelCtx()
		cancelAlloc()
		cancelTimeout()
		log.Close()
		removeAllRetry(profile, 5*time.Second)
	})

	// Start the browser now, so that a browser that cannot start fails here
	// with a clear message and not in the first action of the test.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("testenv: start headless Chromium (%s): %v", execPath, err)
	}
	return ctx
}

// DescribePage returns the URL and the visible text (at most 2000 characters)
// of the page that the chromedp context shows, for failure messages. It
// gives up after 5 seconds.
func DescribePage(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return fmt.Sprintf("(cannot read the page: %v)", err)
	}
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		text = fmt.Sprintf("(cannot read the text: %v)", err)
	}
	if r := []rune(text); len(r) > 2000 {
		text = string(r[:2000]) + "…"
	}
	return fmt.Sprintf("page %s:\n%s", loc, text)
}

// removeAllRetry removes dir, retrying for a while: Chromium's helper
// processes can still write to the profile just after the browser exits.
func removeAllRetry(dir string, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for {
		if err := os.RemoveAll(dir); err == nil || time.Now().After(deadline) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}
