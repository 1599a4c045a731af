package notify

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// sink is a running SMTP sink (testdata/smtpsink.py on Debian's aiosmtpd).
type sink struct {
	Addr  string
	Dir   string
	Roots *x509.CertPool // trusts the sink's certificate, when it has one
}

type sinkOptions struct {
	TLS            bool // offer (and require) STARTTLS
	User, Password string
}

// startSink starts the sink and stops it when the test ends.
func startSink(t *testing.T, opts sinkOptions) *sink {
	t.Helper()
	py, err := pythonWithAiosmtpd()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "mail")
	if err := os.Mkdir(out, 0o700); err != nil {
		t.Fatal(err)
	}
	s := &sink{Dir: out}
	args := []string{filepath.Join("testdata", "smtpsink.py"), out}
	if opts.TLS {
		cert, key, roots := selfSigned(t, dir)
		args = append(args, "--tls", cert, key)
		s.Roots = roots
	}
	if opts.User != "" {
		args = append(args, "--user", opts.User, "--password", opts.Password)
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
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start SMTP sink: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		stdin.Close()
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
			t.Fatalf("SMTP sink did not start (printed %q):\n%s", line, stderr.String())
		}
		s.Addr = net.JoinHostPort("127.0.0.1", port)
	case <-time.After(30 * time.Second):
		t.Fatal("SMTP sink did not print READY within 30s")
	}
	return s
}

// pythonWithAiosmtpd finds a Python that can import aiosmtpd: Debian's
// python3-aiosmtpd is installed for /usr/bin/python3, which need not be
// the first python3 on PATH.
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

func listenLoopback() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

// selfSigned writes a certificate for 127.0.0.1 and returns its files and a
// pool that trusts it.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, roots *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "smtp sink"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	roots = x509.NewCertPool()
	roots.AddCert(cert)
	return certFile, keyFile, roots
}

// tlsConfig trusts the sink.
func (s *sink) tlsConfig() *tls.Config { return &tls.Config{RootCAs: s.Roots} }

// messages returns the mails the sink has stored, oldest first.
func (s *sink) messages(t *testing.T) []*mail.Message {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(s.Dir, "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	var out []*mail.Message
	for _, n := range names {
		f, err := os.Open(n)
		if err != nil {
			t.Fatal(err)
		}
		m, err := mail.ReadMessage(f)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		body, err := io.ReadAll(m.Body)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		m.Body = strings.NewReader(string(body))
		out = append(out, m)
	}
	return out
}
