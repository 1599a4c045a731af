package testenv

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// SMTPSink is a running SMTP server that stores every mail it accepts:
// internal/notify/testdata/smtpsink.py on Debian's python3-aiosmtpd, plain
// SMTP on 127.0.0.1 (relay setting tls: none). Each mail is a file
// Dir/NNNN.eml, with the envelope first as X-Sink-Mail-From and
// X-Sink-Rcpt-To headers.
type SMTPSink struct {
	Addr string // 127.0.0.1:port
	Dir  string
}

// SMTPSinkOptions make the sink require more of its clients.
type SMTPSinkOptions struct {
	TLSCert, TLSKey string // PEM files: offer and require STARTTLS with them
	User, Password  string // require AUTH with these
}

// StartSMTPSink starts the sink and stops it when the test ends. It fails
// the test when no python3 with aiosmtpd is installed (.ci/install-deps
// installs python3-aiosmtpd).
func StartSMTPSink(t testing.TB, opts ...SMTPSinkOptions) *SMTPSink {
	t.Helper()
	py, err := pythonWithAiosmtpd()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	out := filepath.Join(t.TempDir(), "mail")
	if err := os.Mkdir(out, 0o700); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(RepoRoot(t), "internal", "notify", "testdata", "smtpsink.py")
	args := []string{script, out}
	for _, o := range opts {
		if o.TLSCert != "" {
			args = append(args, "--tls", o.TLSCert, o.TLSKey)
		}
		if o.User != "" {
			args = append(args, "--user", o.User, "--password", o.Password)
		}
	}
	cmd := exec.Command(py, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("testenv: start SMTP sink: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		stdin.Close() // the sink serves until its standard input closes
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- strings.TrimSpace(line)
		io.Copy(io.Discard, stdout)
	}()
	select {
	case line := <-ready:
		port, ok := strings.CutPrefix(line, "READY ")
		if !ok {
			<-exited
			t.Fatalf("testenv: SMTP sink did not start (printed %q):\n%s", line, stderr)
		}
		return &SMTPSink{Addr: net.JoinHostPort("127.0.0.1", port), Dir: out}
	case <-time.After(30 * time.Second):
		t.Fatalf("testenv: SMTP sink did not print READY within 30s:\n%s", stderr)
	}
	return nil
}

// SinkMail is one stored mail: its headers (the sink's X-Sink-* first) and
// its body as sent, still transfer-encoded.
type SinkMail struct {
	Header mail.Header
	Body   string
}

// Messages returns the mails the sink has stored so far, oldest first.
func (s *SMTPSink) Messages(t testing.TB) []SinkMail {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(s.Dir, "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	var out []SinkMail
	for _, n := range names {
		f, err := os.Open(n)
		if err != nil {
			t.Fatal(err)
		}
		m, err := mail.ReadMessage(f)
		if err != nil {
			f.Close()
			t.Fatalf("testenv: %s: %v", n, err)
		}
		body, err := io.ReadAll(m.Body)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, SinkMail{Header: m.Header, Body: string(body)})
	}
	return out
}

// pythonWithAiosmtpd finds a Python that can import aiosmtpd: Debian's
// python3-aiosmtpd is installed for /usr/bin/python3, which need not be the
// first python3 on PATH.
func pythonWithAiosmtpd() (string, error) {
	candidates := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		candidates = append(candidates, p)
	}
	for _, p := range candidates {
		if exec.Command(p, "-c", "import aiosmtpd").Run() == nil {
			return p, nil
		}
	}
	return "", errors.New("no python3 with aiosmtpd: install Debian's python3-aiosmtpd (make deps, or apt-get install python3-aiosmtpd)")
}

// lockedBuffer collects a process's output while the test may read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
