// Package verify checks a live hub the way an auditor would, from its own
// host: the data directory's modes and wholeness, the audit chain, what
// the hub serves (certificate, security headers, readiness, no
// development login), the hardening score of its systemd unit and the
// version it runs. Every check is reported; any failed one is a finding.
package verify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hubkit/hubkit/internal/audit"
	"github.com/hubkit/hubkit/internal/bundle"
	"github.com/hubkit/hubkit/internal/datadir"
	"github.com/hubkit/hubkit/internal/filedrop"
)

// Options say what to check; empty fields are not checked (and said so).
type Options struct {
	DataDir  string  // the hub's data directory
	URL      string  // the hub's address, https://domain[:port]
	CAFile   string  // PEM roots for URL instead of the system's (a private CA)
	Connect  string  // host:port to connect to for URL instead of resolving its name (as curl --connect-to)
	Unit     string  // the systemd unit, e.g. hubkit-nordjylland.service
	MaxScore float64 // highest acceptable systemd-analyze exposure; default 1.5
	Bundle   string  // the deployed bundle directory (current), for the version
	Version  string  // this hubctl's version
	MinDays  int     // the certificate must be valid this many days more
}

// Result is one check.
type Result struct {
	Check  string
	OK     bool
	Detail string
}

// Run runs every check that Options allow and returns the results in a
// fixed order.
func Run(ctx context.Context, o Options) []Result {
	if o.MaxScore == 0 {
		o.MaxScore = 1.5
	}
	var rs []Result
	add := func(check string, ok bool, format string, args ...any) {
		rs = append(rs, Result{Check: check, OK: ok, Detail: fmt.Sprintf(format, args...)})
	}
	if o.DataDir != "" {
		checkData(o.DataDir, add)
	}
	if o.URL != "" {
		checkServed(ctx, o, add)
	}
	if o.Unit != "" {
		checkUnit(ctx, o, add)
	}
	if o.Bundle != "" {
		m, err := bundle.ReadManifest(o.Bundle)
		switch {
		case err != nil:
			add("version", false, "%v", err)
		case m.HubctlVersion != o.Version:
			add("version", false, "the bundle in %s was rendered by hubctl %s, this is %s: deploy again with this version", o.Bundle, m.HubctlVersion, o.Version)
		default:
			add("version", true, "hubctl %s rendered the bundle", m.HubctlVersion)
		}
	}
	return rs
}

// Findings counts the failed checks.
func Findings(rs []Result) int {
	n := 0
	for _, r := range rs {
		if !r.OK {
			n++
		}
	}
	return n
}

func checkData(dir string, add func(string, bool, string, ...any)) {
	if err := datadir.Preflight(dir); err != nil {
		add("data directory whole", false, "%v", err)
	} else {
		add("data directory whole", true, "store, audit log and keys agree")
	}
	var loose []string
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			loose = append(loose, path+": "+err.Error())
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		perm := fi.Mode().Perm()
		switch {
		case d.IsDir() && perm&0o077 != 0:
			loose = append(loose, fmt.Sprintf("%s is %v, want 0700", path, perm))
		case fi.Mode().IsRegular() && perm&0o077 != 0:
			loose = append(loose, fmt.Sprintf("%s is %v, want 0600", path, perm))
		case fi.Mode()&fs.ModeSymlink != 0 && strings.HasPrefix(filepath.Base(filepath.Dir(path)), "keys"):
			loose = append(loose, path+" is a symbolic link; keys must be plain files")
		}
		if d.IsDir() && d.Name() == filedrop.BlobDir {
			// The blobs are many; their directory's mode is checked, and
			// the engine creates every blob 0600.
			return fs.SkipDir
		}
		return nil
	})
	if len(loose) > 0 {
		add("file modes", false, "%s", strings.Join(loose, "; "))
	} else {
		add("file modes", true, "the data directory, its keys, store and audit log are the hub's alone")
	}
	// A running hub may be appending while the log is read: a stale head
	// once is not a break, so one retry.
	sum, err := audit.Verify(filepath.Join(dir, audit.FileName))
	if err != nil {
		time.Sleep(200 * time.Millisecond)
		sum, err = audit.Verify(filepath.Join(dir, audit.FileName))
	}
	if err != nil {
		add("audit chain", false, "%v", err)
	} else {
		add("audit chain", true, "%d records intact", sum.Records)
	}
}

func checkServed(ctx context.Context, o Options, add func(string, bool, string, ...any)) {
	u, err := url.Parse(o.URL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		add("served", false, "--url %q: want https://domain[:port]", o.URL)
		return
	}
	cfg := &tls.Config{ServerName: u.Hostname()}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			add("certificate", false, "%v", err)
			return
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			add("certificate", false, "%s holds no PEM certificate", o.CAFile)
			return
		}
	}
	tr := &http.Transport{TLSClientConfig: cfg}
	if o.Connect != "" {
		tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{Timeout: 10 * time.Second}).DialContext(ctx, network, o.Connect)
		}
	}
	c := &http.Client{Timeout: 15 * time.Second, Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (*http.Response, string, error) {
		req, _ := http.NewRequestWithContext(ctx, "GET", strings.TrimSuffix(o.URL, "/")+path, nil)
		resp, err := c.Do(req)
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return resp, string(b), nil
	}
	resp, body, err := get("/")
	if err != nil {
		add("certificate", false, "%v", err)
		return
	}
	leaf := resp.TLS.PeerCertificates[0]
	left := time.Until(leaf.NotAfter)
	add("certificate", left > time.Duration(o.MinDays)*24*time.Hour, "issued by %q for %v, valid until %s (%d days)",
		leaf.Issuer.CommonName, leaf.DNSNames, leaf.NotAfter.UTC().Format("2006-01-02"), int(left.Hours()/24))
	h := resp.Header
	var missing []string
	if m := regexp.MustCompile(`max-age=(\d+)`).FindStringSubmatch(h.Get("Strict-Transport-Security")); m == nil || atoi(m[1]) < 31536000 {
		missing = append(missing, "Strict-Transport-Security with max-age of a year or more")
	}
	if !strings.Contains(h.Get("Content-Security-Policy"), "default-src") {
		missing = append(missing, "Content-Security-Policy")
	}
	if h.Get("X-Content-Type-Options") != "nosniff" {
		missing = append(missing, "X-Content-Type-Options: nosniff")
	}
	if h.Get("Server") != "" {
		missing = append(missing, "no Server header (it says "+h.Get("Server")+")")
	}
	if len(missing) > 0 {
		add("security headers", false, "missing: %s", strings.Join(missing, ", "))
	} else {
		add("security headers", true, "HSTS, CSP, nosniff, no Server header")
	}
	_, chooser, _ := get("/login") // the municipality chooser marks development logins
	if dev := body + chooser; strings.Contains(dev, "DEVELOPMENT MODE") || strings.Contains(dev, "udviklings-login") {
		add("no development login", false, "the hub serves the development identity provider or its banner: it must never hold real cases")
	} else {
		add("no development login", true, "no development banner or login")
	}
	if resp, _, err := get("/readyz"); err != nil || resp.StatusCode != 200 {
		add("ready", false, "/readyz: %v %v", err, status(resp))
	} else {
		add("ready", true, "/readyz answers 200")
	}
}

var exposureRe = regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`)

func checkUnit(ctx context.Context, o Options, add func(string, bool, string, ...any)) {
	out, err := exec.CommandContext(ctx, "systemd-analyze", "security", "--no-pager", o.Unit).CombinedOutput()
	m := exposureRe.FindSubmatch(out)
	if m == nil {
		add("unit hardening", false, "systemd-analyze security %s: %v %s", o.Unit, err, lastLine(string(out)))
		return
	}
	score, _ := strconv.ParseFloat(string(m[1]), 64)
	add("unit hardening", score <= o.MaxScore, "systemd-analyze security %s: exposure %.1f (at most %.1f)", o.Unit, score, o.MaxScore)
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

func status(r *http.Response) string {
	if r == nil {
		return ""
	}
	return r.Status
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
