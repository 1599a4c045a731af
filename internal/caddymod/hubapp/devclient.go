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

	"github.com/hubkit/hubkit/internal/site"
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

// peerClient is the HTTP client a hub reaches the other regions' hubs
// with. In production that is the system's roots, like any HTTPS client.
// Development hubs live on *.hub.localhost, each with its own Caddy
// local CA that no other hub can know: there the peers' certificates are
// not checked, and hubs on loopback answer only to local processes. The
// peer documents are then trusted on that basis; deliveries are still
// signed and encrypted to the receiving hub's key.
func peerClient(st *site.Site) (*http.Client, error) {
	if st.Dev == nil && !st.Region.Dev {
		return &http.Client{Timeout: 30 * time.Minute}, nil
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(addr)
			if err != nil || (host != "localhost" && !strings.HasSuffix(host, ".localhost")) {
				return nil, fmt.Errorf("development hub: peer %s is not on *.localhost", addr)
			}
			return dialer.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
		},
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: 5 * time.Second,
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Minute}, nil
}
