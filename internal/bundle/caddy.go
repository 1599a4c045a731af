package bundle

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/hubkit/hubkit/internal/config"
	"github.com/hubkit/hubkit/internal/federation"
	"github.com/hubkit/hubkit/internal/site"
)

// obj keeps the Caddy JSON below readable; encoding/json sorts its keys, so
// output is deterministic.
type obj = map[string]any

// Body size limits: login and directory requests are small; the file drop
// sets its own limit from the region policy (dropBodyLimit).
const (
	loginBodyLimit   = 64 << 10
	defaultBodyLimit = 1 << 20
)

// File-drop body limits. A multipart form (POST /drops, POST /u/{token})
// carries every file of a drop in one request, so its limit is the
// policy's max files × max file size, plus room for the form's fields and
// the multipart framing; but never more than formBodyCap. One request
// cannot resume, and the server's read_timeout (10 minutes) ends it
// anyway: 4 GiB in 10 minutes needs about 57 Mbit/s. Bigger sets go
// through the page's script, which sends each file in chunks through the
// resumable upload API (PATCH /drops/uploads/{id}); those requests fall
// under the same limit, and the engine holds each to the announced size
// of its file. Per file, the engine enforces the policy's max file size
// while it streams, whatever the body limit.
const (
	formBodyCap      = 4 << 30
	formBodyOverhead = 1 << 20
)

// dropBodyLimit is the request_body limit of the file drop's routes.
func dropBodyLimit(st *site.Site) int64 {
	p := st.Region.FileDrop
	files := int64(1)
	if p.MaxFilesPerDrop != nil && *p.MaxFilesPerDrop > 0 {
		files = int64(*p.MaxFilesPerDrop)
	}
	return min(p.MaxFileBytes*files, formBodyCap) + formBodyOverhead
}

// federationBodyLimit bounds a parcel from another region's hub: every
// file of a drop at the policy's limits, age's framing (under 0.1 %), and
// the envelope. It is not capped like a form: hubs send whole drops.
func federationBodyLimit(st *site.Site) int64 {
	p := st.Region.FileDrop
	files := int64(1)
	if p.MaxFilesPerDrop != nil && *p.MaxFilesPerDrop > 0 {
		files = int64(*p.MaxFilesPerDrop)
	}
	n := p.MaxFileBytes * files
	return n + n/1024 + federation.MaxEnvelopeBytes + formBodyOverhead
}

// SecurityHeaders are set on every response of a hub. Cache-Control is set
// per route (no-store on everything but static assets).
func SecurityHeaders(st *site.Site) map[string][]string {
	formAction := append([]string{"'self'"}, issuerOrigins(st.Region)...)
	csp := strings.Join([]string{
		"default-src 'none'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src 'self' data:",
		"font-src 'self'",
		"connect-src 'self'",
		"form-action " + strings.Join(formAction, " "),
		"frame-ancestors 'none'",
		"base-uri 'none'",
	}, "; ")
	return map[string][]string{
		"Strict-Transport-Security":    {"max-age=63072000; includeSubDomains"},
		"Content-Security-Policy":      {csp},
		"X-Content-Type-Options":       {"nosniff"},
		"X-Frame-Options":              {"DENY"},
		"Referrer-Policy":              {"no-referrer"},
		"Permissions-Policy":           {"accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()"},
		"Cross-Origin-Opener-Policy":   {"same-origin"},
		"Cross-Origin-Resource-Policy": {"same-origin"},
	}
}

func headers(set map[string][]string) obj {
	return obj{"handler": "headers", "response": obj{"set": set, "delete": []string{"Server"}, "deferred": true}}
}

func cacheControl(v string) obj {
	return obj{"handler": "headers", "response": obj{"set": obj{"Cache-Control": []string{v}}}}
}

func bodyLimit(n int64) obj { return obj{"handler": "request_body", "max_size": n} }

func pathMatch(paths ...string) []obj { return []obj{{"path": paths}} }

// hubRoutes are the routes of one region's hub, in order.
func hubRoutes(st *site.Site) []obj {
	id := st.Region.ID
	h := func(name string) obj { return obj{"handler": name, "region": id} }
	noStore := cacheControl("no-store")
	auth := obj{"handler": "authentication", "providers": obj{"hubkit": obj{"region": id}}}
	csrf := h("hubkit_csrf")
	dropLimit := bodyLimit(dropBodyLimit(st))
	return []obj{
		{"handle": []obj{headers(SecurityHeaders(st))}},
		{"match": pathMatch("/healthz"), "handle": []obj{noStore, {"handler": "static_response", "status_code": 200, "body": "ok\n"}}, "terminal": true},
		{"match": pathMatch("/readyz"), "handle": []obj{noStore, h("hubkit_ready")}, "terminal": true},
		{"match": pathMatch("/assets/*"), "handle": []obj{cacheControl("public, max-age=3600"), h("hubkit_ui")}, "terminal": true},
		{"match": pathMatch("/login", "/auth/*"), "handle": []obj{noStore, bodyLimit(loginBodyLimit), h("hubkit_login")}, "terminal": true},
		// Other regions' hubs deliver drops here: outside the authenticator,
		// every request is signed (package federation).
		{"match": pathMatch(federation.DocPath, "/federation/*"), "handle": []obj{noStore, bodyLimit(federationBodyLimit(st)), h("hubkit_federation")}, "terminal": true},
		// Upload links are for people without a login: outside the authenticator.
		{"match": pathMatch("/u/*"), "handle": []obj{noStore, dropLimit, h("hubkit_filedrop")}, "terminal": true},
		{"match": pathMatch("/drops", "/drops/*"), "handle": []obj{noStore, dropLimit, auth, csrf, h("hubkit_filedrop")}, "terminal": true},
		{"handle": []obj{
			noStore,
			bodyLimit(defaultBodyLimit),
			auth,
			csrf,
			{"handler": "subroute", "routes": []obj{
				{"match": pathMatch("/directory", "/directory/*"), "handle": []obj{h("hubkit_directory")}, "terminal": true},
				{"handle": []obj{h("hubkit_ui")}},
			}},
		}, "terminal": true},
	}
}

// errorRoutes render error pages (and turn 401 into a login redirect) with
// the same headers as every other response.
func errorRoutes(st *site.Site) []obj {
	return []obj{
		{"handle": []obj{headers(SecurityHeaders(st)), cacheControl("no-store"), {"handler": "hubkit_ui", "region": st.Region.ID, "errors": true}}},
	}
}

// SecretQueryParams are the query parameters that carry secrets on a
// hub's URLs: OIDC's code, state and nonce (and the PKCE challenge), the
// logout's id_token_hint, and csrf, which no page of the hub puts in a URL
// any more but a client still might.
var SecretQueryParams = []string{"code", "state", "nonce", "code_challenge", "code_verifier", "csrf", "id_token_hint", "logout_token", "session_state"}

// LogEncoder is the encoder of every Caddy log of a hub (access, error and
// hubkit's own lines): JSON, with Caddy's filters taking the secrets out
// of the fields that can carry them. Path secrets are the upload links'
// tokens (/u/{token}); query secrets are SecretQueryParams, in the request
// URI, the Referer and the Location of a redirect; cookies,
// Authorization and the X-CSRF-Token header are dropped whole.
func LogEncoder() map[string]any {
	urlOps := []obj{
		{"regexp": `(?i)/(?:u|%75)/[^/?#]+`, "value": "/u/REDACTED"},
		{"regexp": `([?&](?:` + strings.Join(SecretQueryParams, "|") + `)=)[^&#]*`, "value": "${1}REDACTED"},
	}
	urlFilter := obj{"filter": "multi_regexp", "operations": urlOps}
	del := obj{"filter": "delete"}
	return obj{
		"format": "filter",
		"wrap":   obj{"format": "json"},
		"fields": obj{
			"request>uri":                         urlFilter,
			"request>headers>Referer":             urlFilter,
			"resp_headers>Location":               urlFilter,
			"request>headers>Cookie":              del,
			"request>headers>Authorization":       del,
			"request>headers>X-Csrf-Token":        del,
			"request>headers>Proxy-Authorization": del,
			"resp_headers>Set-Cookie":             del,
		},
	}
}

// MisdirectedRoute answers a request for a host this server does not
// serve (RFC 9110 §15.5.20: 421) with the hubs' security headers and a
// tiny body, instead of Caddy's empty 200. It is the server's last route;
// serve keeps it last when it merges bundles.
func MisdirectedRoute() map[string]any {
	hdr := SecurityHeaders(&site.Site{})
	hdr["Content-Security-Policy"] = []string{"default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"}
	hdr["Cache-Control"] = []string{"no-store"}
	hdr["Content-Type"] = []string{"text/plain; charset=utf-8"}
	return obj{"handle": []obj{
		headers(hdr),
		{"handler": "static_response", "status_code": http.StatusMisdirectedRequest, "body": "misdirected request\n", "close": true},
	}, "terminal": true}
}

// IsMisdirectedRoute reports whether a route (as decoded JSON) is
// MisdirectedRoute's.
func IsMisdirectedRoute(route any) bool {
	r, ok := route.(map[string]any)
	if !ok || r["match"] != nil {
		return false
	}
	hs, _ := r["handle"].([]any)
	for _, h := range hs {
		if m, ok := h.(map[string]any); ok && m["handler"] == "static_response" && fmt.Sprint(m["status_code"]) == fmt.Sprint(http.StatusMisdirectedRequest) {
			return true
		}
	}
	return false
}

// siteConfig is the hubkit app's configuration of the region: its site
// file and the file drop's optional services.
func siteConfig(fd config.FileDrop) obj {
	sc := obj{"site_file": SiteFile}
	if fd.Clamd != "" {
		sc["clamd"] = fd.Clamd
	}
	if fd.SMTPAddr != "" {
		sc["smtp"] = obj{"addr": fd.SMTPAddr, "from": fd.SMTPFrom, "tls": fd.SMTPTLS}
	}
	if n, err := fd.MinFreeBytes(); err == nil && n != config.DefaultMinFree {
		// config.Load has checked it; the default is the hub's own, and
		// the hub reads a negative floor as none.
		if n == 0 {
			n = -1
		}
		sc["min_free_bytes"] = n
	}
	return sc
}

// caddyConfig is the complete Caddy configuration of one hub.
func caddyConfig(st *site.Site, opt Options, fd config.FileDrop) obj {
	domain := st.Region.Domain
	listen := fmt.Sprintf(":%d", opt.port())
	policy := obj{"subjects": []string{domain}}
	server := obj{
		"listen":              []string{listen},
		"read_header_timeout": "10s",
		"read_timeout":        "10m",
		"write_timeout":       "10m",
		"idle_timeout":        "2m",
		"max_header_bytes":    16 << 10,
		// hubkit_framing refuses requests with both Content-Length and
		// Transfer-Encoding (package framing); Caddy puts it after TLS.
		"listener_wrappers": []obj{{"wrapper": "hubkit_framing"}},
		"routes": []obj{{
			"match":    []obj{{"host": []string{domain}}},
			"handle":   []obj{{"handler": "subroute", "routes": hubRoutes(st)}},
			"terminal": true,
		}, MisdirectedRoute()},
		"errors": obj{"routes": []obj{{
			"match":  []obj{{"host": []string{domain}}},
			"handle": []obj{{"handler": "subroute", "routes": errorRoutes(st)}},
		}}},
		"logs": obj{},
	}
	apps := obj{
		"hubkit": obj{"sites": obj{st.Region.ID: siteConfig(fd)}},
		"http":   obj{"servers": obj{"hub": server}},
		// Storage cleaning runs at start next to the first certificate
		// issuance and can delete the folder a new certificate is being
		// saved into (certmagic), leaving a hub without a certificate for a
		// minute; each hub keeps few certificates, so it is switched off.
		"tls": obj{"automation": obj{"policies": []obj{policy}}, "disable_storage_clean": true},
	}
	if opt.Dev || st.Region.Dev {
		// Development and test hubs: Caddy's own CA, no port-80 redirect.
		server["automatic_https"] = obj{"disable_redirects": true}
		policy["issuers"] = []obj{{"module": "internal"}}
		apps["pki"] = obj{"certificate_authorities": obj{"local": obj{"install_trust": false}}}
	}
	return obj{
		"admin":   obj{"disabled": true, "config": obj{"persist": false}},
		"logging": obj{"logs": obj{"default": obj{"encoder": LogEncoder(), "level": "INFO"}}},
		"apps":    apps,
	}
}
