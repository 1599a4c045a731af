package notify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hubkit/hubkit/internal/testenv"
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

// startSink starts the sink (testenv.StartSMTPSink) and stops it when
// the test ends.
func startSink(t *testing.T, opts sinkOptions) *sink {
	t.Helper()
	var o testenv.SMTPSinkOptions
	var roots *x509.CertPool
	if opts.TLS {
		o.TLSCert, o.TLSKey, roots = selfSigned(t, t.TempDir())
	}
	o.User, o.Password = opts.User, opts.Password
	s := testenv.StartSMTPSink(t, o)
	return &sink{Addr: s.Addr, Dir: s.Dir, Roots: roots}
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
