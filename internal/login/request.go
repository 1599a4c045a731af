package login

import (
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"golang.org/x/time/rate"
)

// SafeReturn keeps a return URL only when it is a relative path on this
// site ("/directory?q=x"); anything else ("//evil.example", "https://…",
// "/\evil", control characters) becomes "/".
func SafeReturn(s string) string {
	if s == "" || len(s) > 2048 || s[0] != '/' || strings.HasPrefix(s, "//") || strings.HasPrefix(s, "/\\") {
		return "/"
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f || c == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	return u.RequestURI()
}

// ClientIP is the client's address as Caddy determined it (honouring its
// trusted_proxies), else the peer address.
func ClientIP(r *http.Request) string {
	if v, ok := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ok && v != "" {
		return v
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Login rate limits: per client address, and per municipality so one
// kommune's provider is not flooded through the hub.
const (
	perIPRate       = rate.Limit(20.0 / 60) // 20 a minute
	perIPBurst      = 20
	perKommuneRate  = rate.Limit(600.0 / 60)
	perKommuneBurst = 200
	limiterIdle     = 10 * time.Minute
)

type limiter struct {
	mu      sync.Mutex
	ip      map[string]*entry
	kommune map[int]*entry
	swept   time.Time
}

type entry struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLimiter() *limiter {
	return &limiter{ip: map[string]*entry{}, kommune: map[int]*entry{}}
}

// allow takes one token from the client's bucket and, when kommune is
// not 0, from the municipality's.
func (l *limiter) allow(ip string, kommune int, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > limiterIdle {
		for k, e := range l.ip {
			if now.Sub(e.seen) > limiterIdle {
				delete(l.ip, k)
			}
		}
		l.swept = now
	}
	e := l.ip[ip]
	if e == nil {
		e = &entry{lim: rate.NewLimiter(perIPRate, perIPBurst)}
		l.ip[ip] = e
	}
	e.seen = now
	if !e.lim.AllowN(now, 1) {
		return false
	}
	if kommune == 0 {
		return true
	}
	k := l.kommune[kommune]
	if k == nil {
		k = &entry{lim: rate.NewLimiter(perKommuneRate, perKommuneBurst)}
		l.kommune[kommune] = k
	}
	k.seen = now
	return k.lim.AllowN(now, 1)
}
