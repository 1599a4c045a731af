// Package serve runs hubs: it turns one or more rendered bundles into a
// single Caddy configuration (each hub on its own host name) and runs
// Caddy with hubkit's modules until the context ends.
package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/hubkit/hubkit/internal/audit"
	"github.com/hubkit/hubkit/internal/bundle"
	"github.com/hubkit/hubkit/internal/caddymod/hubapp"
	"github.com/hubkit/hubkit/internal/datadir"
	"github.com/hubkit/hubkit/internal/devidp"
	"github.com/hubkit/hubkit/internal/site"

	// Caddy's standard modules and hubkit's own.
	_ "github.com/caddyserver/caddy/v2/modules/standard"
	_ "github.com/hubkit/hubkit/internal/caddymod/auth"
	_ "github.com/hubkit/hubkit/internal/caddymod/csrf"
	_ "github.com/hubkit/hubkit/internal/caddymod/devidp"
	_ "github.com/hubkit/hubkit/internal/caddymod/directory"
	_ "github.com/hubkit/hubkit/internal/caddymod/federation"
	_ "github.com/hubkit/hubkit/internal/caddymod/filedrop"
	_ "github.com/hubkit/hubkit/internal/caddymod/framing"
	_ "github.com/hubkit/hubkit/internal/caddymod/login"
	_ "github.com/hubkit/hubkit/internal/caddymod/ready"
	_ "github.com/hubkit/hubkit/internal/caddymod/ui"
)

// Options say what to serve.
type Options struct {
	Bundles []string // bundle directories
	// DataDir holds each hub's data: DataDir itself for one bundle,
	// DataDir/<region> for several. Default: <bundle>/../data.
	DataDir string
	// Listen overrides the listen address of the bundles (host:port).
	Listen string
	// GracePeriod is how long a stopping hub lets requests in flight
	// (uploads) finish before it cuts them; DefaultGracePeriod when zero.
	GracePeriod time.Duration
	// MetricsListen, when set, is the address (host:port, loopback or an
	// admin network only) of a separate listener that serves Prometheus
	// metrics at /metrics: Caddy's HTTP metrics and the hub's.
	MetricsListen string
}

// DefaultGracePeriod lets a large upload on a slow line finish, and stays
// below systemd's default TimeoutStopSec (90 s) and the unit's.
const DefaultGracePeriod = 30 * time.Second

// Hub is one served region.
type Hub struct {
	Region string
	URL    string
	Dev    bool
	// Providers are the region's login providers: kommune name by code.
	Providers map[int]string
}

type obj = map[string]any

// Config builds the Caddy JSON for the bundles.
func Config(opt Options) ([]byte, []Hub, error) {
	if len(opt.Bundles) == 0 {
		return nil, nil, fmt.Errorf("no bundle to serve")
	}
	var (
		merged obj
		hubs   []Hub
		dev    bool
	)
	for _, dir := range opt.Bundles {
		m, err := bundle.Verify(dir)
		if err != nil {
			return nil, nil, err
		}
		raw, err := os.ReadFile(filepath.Join(dir, bundle.CaddyFile))
		if err != nil {
			return nil, nil, err
		}
		var cfg obj
		if err := json.Unmarshal(raw, &cfg); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", filepath.Join(dir, bundle.CaddyFile), err)
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, nil, err
		}
		data := filepath.Join(filepath.Dir(abs), "data")
		switch {
		case opt.DataDir != "" && len(opt.Bundles) == 1:
			data = opt.DataDir
		case opt.DataDir != "":
			data = filepath.Join(opt.DataDir, m.Region)
		}
		sc := dig(cfg, "apps", "hubkit", "sites", m.Region)
		if sc == nil {
			return nil, nil, fmt.Errorf("%s: no hubkit site %q in caddy.json", dir, m.Region)
		}
		sc["site_file"] = filepath.Join(abs, bundle.SiteFile)
		sc["data_dir"] = data
		if merged == nil {
			merged = cfg
		} else if err := mergeInto(merged, cfg); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", dir, err)
		}
		st, err := site.Load(filepath.Join(dir, bundle.SiteFile))
		if err != nil {
			return nil, nil, err
		}
		hub := Hub{Region: m.Region, Dev: m.Dev, URL: "https://" + m.Domain, Providers: map[int]string{}}
		for _, p := range st.Region.IdentityProviders {
			hub.Providers[p.KommuneCode] = p.Kommune
		}
		dev = dev || m.Dev
		hubs = append(hubs, hub)
	}
	server := dig(merged, "apps", "http", "servers", "hub")
	port := "443"
	if l, ok := server["listen"].([]any); ok && len(l) > 0 {
		_, port, _ = net.SplitHostPort(fmt.Sprint(l[0]))
	}
	if opt.Listen != "" {
		host, p, err := net.SplitHostPort(opt.Listen)
		if err != nil {
			return nil, nil, fmt.Errorf("--listen %q: want host:port, e.g. 127.0.0.1:8443", opt.Listen)
		}
		if dev && !isLoopback(host) {
			return nil, nil, fmt.Errorf("--listen %q: development hubs listen on loopback only (127.0.0.1, ::1 or localhost)", opt.Listen)
		}
		server["listen"] = []string{opt.Listen}
		port = p
	}
	for i := range hubs {
		if port != "443" {
			hubs[i].URL += ":" + port
		}
		hubs[i].URL += "/"
	}
	if dev {
		addDevIdP(merged, hubs)
	}
	// Each bundle ends with the 421 route for unknown hosts; merged, it
	// must come once, after every hub's host route.
	var routes []any
	for _, r := range server["routes"].([]any) {
		if !bundle.IsMisdirectedRoute(r) {
			routes = append(routes, r)
		}
	}
	server["routes"] = append(routes, bundle.MisdirectedRoute())
	// Certificates and Caddy's local CA live with the hubs' data, not in
	// the home directory of whoever runs hubctl.
	merged["storage"] = obj{"module": "file_system", "root": filepath.Join(storageBase(opt), "caddy")}
	setGracePeriod(merged, opt.GracePeriod)
	if err := addMetrics(merged, opt.MetricsListen); err != nil {
		return nil, nil, err
	}
	out, err := json.Marshal(merged)
	return out, hubs, err
}

// mergeInto adds another bundle's hub to the configuration: its routes,
// error routes, TLS policy and hubkit site.
func mergeInto(dst, src obj) error {
	for id, sc := range dig(src, "apps", "hubkit", "sites") {
		sites := dig(dst, "apps", "hubkit", "sites")
		if _, dup := sites[id]; dup {
			return fmt.Errorf("region %s is served twice", id)
		}
		sites[id] = sc
	}
	ds, ss := dig(dst, "apps", "http", "servers", "hub"), dig(src, "apps", "http", "servers", "hub")
	if fmt.Sprint(ds["listen"]) != fmt.Sprint(ss["listen"]) {
		return fmt.Errorf("bundles listen on different addresses (%v, %v); use --listen", ds["listen"], ss["listen"])
	}
	ds["routes"] = append(ds["routes"].([]any), ss["routes"].([]any)...)
	de, se := ds["errors"].(map[string]any), ss["errors"].(map[string]any)
	de["routes"] = append(de["routes"].([]any), se["routes"].([]any)...)
	dp, sp := dig(dst, "apps", "tls", "automation"), dig(src, "apps", "tls", "automation")
	dp["policies"] = append(dp["policies"].([]any), sp["policies"].([]any)...)
	if pki, ok := dig(src, "apps")["pki"]; ok {
		dig(dst, "apps")["pki"] = pki
	}
	return nil
}

// addDevIdP serves the development identity provider on its own host,
// next to the development hubs.
func addDevIdP(cfg obj, hubs []Hub) {
	server := dig(cfg, "apps", "http", "servers", "hub")
	var origins []string
	for _, h := range hubs {
		origins = append(origins, strings.TrimSuffix(h.URL, "/"))
	}
	sort.Strings(origins)
	hdr := bundle.SecurityHeaders(&site.Site{})
	hdr["Content-Security-Policy"] = []string{"default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self' " +
		strings.Join(origins, " ") + "; frame-ancestors 'none'; base-uri 'none'"}
	route := obj{
		"match": []obj{{"host": []string{devidp.Host}}},
		"handle": []obj{{"handler": "subroute", "routes": []obj{{"handle": []obj{
			{"handler": "headers", "response": obj{"set": hdr, "delete": []string{"Server"}, "deferred": true}},
			{"handler": "headers", "response": obj{"set": obj{"Cache-Control": []string{"no-store"}}}},
			{"handler": "request_body", "max_size": 64 << 10},
			{"handler": "hubkit_devidp"},
		}}}}},
		"terminal": true,
	}
	server["routes"] = append(server["routes"].([]any), route)
	auto := dig(cfg, "apps", "tls", "automation")
	auto["policies"] = append(auto["policies"].([]any), obj{"subjects": []string{devidp.Host}, "issuers": []obj{{"module": "internal"}}})
}

// operatorError returns, out of Caddy's chain of provisioning errors, the
// refusal that protects a hub's data, which says all an operator needs.
func operatorError(err error) error {
	if open := hubapp.OpenError(); open != nil && strings.Contains(err.Error(), open.Error()) {
		err = open // the same failure, with its type
	}
	var refusal *datadir.RefusalError
	var broken *audit.BreakError
	var chain *audit.ChainError
	switch {
	case errors.As(err, &refusal):
		return refusal
	case errors.As(err, &broken):
		return broken
	case errors.As(err, &chain):
		return fmt.Errorf("the audit log is damaged: %w (hubctl audit verify --data DIR tells more; restore the log and its head file from backup)", chain)
	}
	return err
}

// addMetrics turns on Caddy's HTTP metrics and adds the metrics server: a
// plain-HTTP listener of its own, answering /metrics only, so that the
// hub's public listener never serves them.
func addMetrics(cfg obj, listen string) error {
	if listen == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("--metrics-listen %q: want host:port, e.g. 127.0.0.1:9464", listen)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		return fmt.Errorf("--metrics-listen %q: name the address to listen on (127.0.0.1, or the admin network's), not every interface", listen)
	}
	h := dig(cfg, "apps", "http")
	servers := dig(cfg, "apps", "http", "servers")
	if h == nil || servers == nil {
		return fmt.Errorf("--metrics-listen: the configuration has no HTTP servers")
	}
	h["metrics"] = obj{"per_host": true}
	servers["metrics"] = obj{
		"listen":          []string{listen},
		"automatic_https": obj{"disable": true},
		"routes": []obj{
			{"match": []obj{{"path": []string{"/metrics"}}}, "handle": []obj{{"handler": "metrics"}}, "terminal": true},
			{"handle": []obj{{"handler": "static_response", "status_code": 404}}},
		},
	}
	return nil
}

// setGracePeriod sets the HTTP app's grace period: on a stop, listeners
// close at once and requests in flight get this long to finish.
func setGracePeriod(cfg obj, d time.Duration) {
	if d <= 0 {
		d = DefaultGracePeriod
	}
	if h := dig(cfg, "apps", "http"); h != nil {
		h["grace_period"] = d.String()
	}
}

// Run serves the configuration until ctx ends, then stops at once.
// In-process tests use it; a hub process uses RunUntilSignal.
func Run(ctx context.Context, cfgJSON []byte) error {
	if err := caddy.Load(cfgJSON, true); err != nil {
		return err
	}
	<-ctx.Done()
	return caddy.Stop()
}

// RunUntilSignal serves the configuration until SIGTERM or SIGINT (or ctx
// ends), and then stops the way Caddy's own binary does: the listeners
// close, requests in flight get the grace period to finish, the hub's
// store, audit log and file drop are closed cleanly, and the process
// exits 0, so the next start has nothing to recover. (caddy.Stop alone
// would not wait: Caddy waits for requests only when the process is
// exiting through its signal handling.) A second SIGINT quits at once.
func RunUntilSignal(ctx context.Context, cfgJSON []byte) error {
	if err := caddy.Load(cfgJSON, true); err != nil {
		return operatorError(err)
	}
	caddy.TrapSignals()
	<-ctx.Done()
	return caddy.Stop()
}

func storageBase(opt Options) string {
	if opt.DataDir != "" {
		abs, err := filepath.Abs(opt.DataDir)
		if err == nil {
			return abs
		}
	}
	abs, _ := filepath.Abs(opt.Bundles[0])
	return filepath.Join(filepath.Dir(abs), "data")
}

func isLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// dig walks nested JSON objects, creating none; nil when a step is missing.
func dig(m obj, keys ...string) obj {
	cur := m
	for _, k := range keys {
		next, ok := cur[k].(map[string]any)
		if !ok {
			return nil
		}
		cur = next
	}
	return cur
}
