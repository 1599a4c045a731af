package hubapp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddypki"
)

// devClient is the HTTP client development hubs use to reach the
// development identity provider: browsers resolve *.localhost to loopback
// by themselves, Go's resolver does not, so we dial loopback for such names;
// and the provider's certificate comes from Caddy's local CA, which we trust
// in addition to the system roots.
func devClient(ctx caddy.Context) (*http.Client, error) {
	v, err := ctx.App("pki")
	if err != nil {
		return nil, err
	}
	ca, ok := v.(*caddypki.PKI).CAs[caddypki.DefaultCAID]
	if !ok {
		return nil, fmt.Errorf("development mode needs Caddy's local CA")
	}
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	roots.AddCert(ca.RootCertificate())
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(addr)
			if err == nil && (host == "localhost" || strings.HasSuffix(host, ".localhost")) {
				addr = net.JoinHostPort("127.0.0.1", port)
			}
			return dialer.DialContext(ctx, network, addr)
		},
		TLSClientConfig:     &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: 5 * time.Second,
	}
	return &http.Client{Transport: tr, Timeout: 15 * time.Second}, nil
}
