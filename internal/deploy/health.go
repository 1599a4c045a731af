package deploy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// probe checks a hub's /readyz the way a load balancer would: over HTTPS
// to the address the hub listens on, with the hub's domain as SNI and
// Host, so Caddy routes the request to the hub's site.
//
// It does not verify the hub's certificate. Development and test hubs use
// Caddy's internal CA, whose root is created on the target at first start
// and never leaves it, so there is nothing to verify against; and for a
// production hub a certificate problem is not what the check is about.
// The probe only asks whether the process is up and ready: it sends no
// credentials and trusts nothing it receives beyond the status code, so
// skipping verification gives an attacker on the path nothing but the
// ability to fake "ready", which the operator notices at once.
type probe struct {
	client *http.Client
	url    string
	domain string
}

func newProbe(dial dialFunc, addr, domain string) *probe {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dial(ctx, network, addr)
		},
		TLSClientConfig:     &tls.Config{ServerName: domain, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}, // #nosec G402 -- see the type's comment
		TLSHandshakeTimeout: 5 * time.Second,
		DisableKeepAlives:   true,
	}
	_, port, _ := net.SplitHostPort(addr)
	u := "https://" + domain
	if port != "443" {
		u += ":" + port
	}
	return &probe{client: &http.Client{Transport: tr, Timeout: 10 * time.Second}, url: u + "/readyz", domain: domain}
}

// once asks /readyz one time; nil means 200.
func (p *probe) once(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", p.url, unwrapURLError(err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s %s", p.url, strconv.Itoa(resp.StatusCode), strings.TrimSpace(string(body)))
	}
	return nil
}

// wait polls /readyz until it answers 200, the timeout passes, or
// alive reports that the service has stopped (then there is no point in
// waiting further).
func (p *probe) wait(ctx context.Context, timeout time.Duration, alive func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	last := errors.New("no answer yet")
	checked := time.Now()
	for {
		if err := p.once(ctx); err == nil {
			return nil
		} else if ctx.Err() == nil {
			last = err
		}
		if alive != nil && time.Since(checked) >= 2*time.Second {
			checked = time.Now()
			if ok, err := alive(ctx); err == nil && !ok {
				return fmt.Errorf("the hub process exited after %s; last answer: %v", time.Since(start).Round(100*time.Millisecond), last)
			}
		}
		select {
		case <-ctx.Done():
			if parentDone := context.Cause(ctx); parentDone != nil && !errors.Is(parentDone, context.DeadlineExceeded) {
				return parentDone
			}
			return fmt.Errorf("not ready within %s; last answer: %v", timeout, last)
		case <-tick.C:
		}
	}
}

// unwrapURLError drops net/http's "Get "url":" prefix, which the caller
// already prints.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
