// Package clamdtest starts a real clamd for tests, with a private
// configuration and a one-signature database that detects the EICAR test
// file. There is no network for freshclam here, and the real databases are
// hundreds of megabytes and take clamd a minute to load; the tiny database
// loads in well under a second and still exercises the real daemon, its
// socket protocol, its size limits and its verdicts.
//
// clamd comes from Debian's clamav-daemon package (.ci/install-deps installs
// it). Tests fail, not skip, when it is missing, so CI cannot pass without
// having scanned.
package clamdtest

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hubkit/hubkit/internal/clamav"
)

// EICAR is the 68-byte anti-virus test file: harmless, and detected by every
// scanner as if it were a virus.
const EICAR = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

// sigName is the signature's name in the test database.
const sigName = "Hubkit.Test.EICAR"

// Signature is the name clamd reports for EICAR with the test database:
// clamd marks signatures from databases that ClamAV did not sign UNOFFICIAL.
const Signature = sigName + ".UNOFFICIAL"

// startTimeout bounds clamd's start; with one signature it takes ~0.1 s.
const startTimeout = 60 * time.Second

// Server is a running clamd.
type Server struct {
	Client *clamav.Client
	Dir    string // holds clamd.conf, the database, the log and the socket

	cmd    *exec.Cmd
	exited chan struct{}
	stderr *syncBuffer
}

// syncBuffer collects clamd's output; the test reads it while clamd writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Options adjust the clamd configuration.
type Options struct {
	// StreamMaxLength is clamd's limit on one INSTREAM scan, in bytes;
	// zero means 64 MiB.
	StreamMaxLength int64
}

// Start starts clamd and returns once it answers PING. It is stopped when
// the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	bin, err := find()
	if err != nil {
		t.Fatalf("clamdtest: %v", err)
	}
	if opts.StreamMaxLength == 0 {
		opts.StreamMaxLength = 64 << 20
	}
	dir := t.TempDir()
	if len(dir) > 80 {
		// A Unix socket path must fit in 108 bytes; long test names make long temp dirs.
		short, err := os.MkdirTemp("", "clamd")
		if err != nil {
			t.Fatalf("clamdtest: %v", err)
		}
		t.Cleanup(func() { os.RemoveAll(short) })
		dir = short
	}
	db := filepath.Join(dir, "db")
	if err := os.Mkdir(db, 0o755); err != nil {
		t.Fatalf("clamdtest: %v", err)
	}
	// An .ndb body signature: name, target type 0 (any file), offset * (anywhere),
	// and the EICAR string in hex. It matches EICAR inside larger data too.
	sig := fmt.Sprintf("%s:0:*:%s\n", sigName, hex.EncodeToString([]byte(EICAR)))
	if err := os.WriteFile(filepath.Join(db, "hubkit-test.ndb"), []byte(sig), 0o644); err != nil {
		t.Fatalf("clamdtest: %v", err)
	}
	sock := filepath.Join(dir, "clamd.sock")
	conf := strings.Join([]string{
		"LocalSocket " + sock,
		"DatabaseDirectory " + db,
		"TemporaryDirectory " + dir,
		"PidFile " + filepath.Join(dir, "clamd.pid"),
		"LogFile " + filepath.Join(dir, "clamd.log"),
		"Foreground yes",
		fmt.Sprintf("StreamMaxLength %d", opts.StreamMaxLength),
		fmt.Sprintf("MaxScanSize %d", opts.StreamMaxLength),
		fmt.Sprintf("MaxFileSize %d", opts.StreamMaxLength),
		"",
	}, "\n")
	confPath := filepath.Join(dir, "clamd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatalf("clamdtest: %v", err)
	}
	s := &Server{
		Client: &clamav.Client{Network: "unix", Address: sock, Timeout: 30 * time.Second},
		Dir:    dir,
		exited: make(chan struct{}),
		stderr: &syncBuffer{},
	}
	s.cmd = exec.Command(bin, "--config-file="+confPath)
	s.cmd.Stdout = s.stderr
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("clamdtest: start %s: %v", bin, err)
	}
	go func() { s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(s.Stop)

	deadline := time.Now().Add(startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := s.Client.Ping(ctx)
		cancel()
		if err == nil {
			return s
		}
		select {
		case <-s.exited:
			log, _ := os.ReadFile(filepath.Join(dir, "clamd.log"))
			t.Fatalf("clamdtest: clamd exited before it answered PING:\n%s\n%s", s.stderr, log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("clamdtest: clamd did not answer PING within %v: %v\n%s", startTimeout, err, s.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop stops clamd and waits for it; the socket is then gone. Calling it
// again does nothing.
func (s *Server) Stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

// find locates clamd: on PATH, or where Debian installs it (/usr/sbin is not
// on every user's PATH).
func find() (string, error) {
	if p, err := exec.LookPath("clamd"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/clamd", "/usr/local/sbin/clamd"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("clamd not found: install Debian's clamav-daemon (make deps, or apt-get install clamav-daemon)")
}
