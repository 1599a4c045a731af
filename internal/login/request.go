package login

import (
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"golang.org/x/time/rate"

	"github.com/hubkit/hubkit/internal/site"
	"github.com/hubkit/hubkit/internal/ui"
)

// SafeReturn keeps a return URL only when it is a relative path on this
// site ("/directory?q=x"); anything else ("//evil.example", "https://…",
// "/\evil", control characters) becomes "/". The rules are ui.SafeReturn's,
// which links use too.
func SafeReturn(s string) string {
	if safe := ui.SafeReturn(s); safe != "" {
		return safe
	}
	return "/"
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

// limiterIdle is how long an idle client's bucket is kept.
const limiterIdle = 10 * time.Minute

// defaultPolicy applies where site.json sets no login limits.
var defaultPolicy = site.LoginPolicy{ClientPerMinute: 20, ClientBurst: 20, KommunePerMinute: 600, KommuneBurst: 200}

// limiter bounds login attempts per client address, and per municipality
// so one kommune's provider is not flooded through the hub.
type limiter struct {
	policy  site.LoginPolicy
	mu      sync.Mutex
	ip      map[string]*entry
	kommune map[int]*entry
	swept   time.Time
}

type entry struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLimiter(p site.LoginPolicy) *limiter {
	if p.ClientPerMinute < 1 || p.ClientBurst < 1 || p.KommunePerMinute < 1 || p.KommuneBurst < 1 {
		p = defaultPolicy
	}
	return &limiter{policy: p, ip: map[string]*entry{}, kommune: map[int]*entry{}}
}

func perMinute(n int) rate.Limit { return rate.Limit(float64(n) / 60) }

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
		e = &entry{lim: rate.NewLimiter(perMinute(l.policy.ClientPerMinute), l.policy.ClientBurst)}
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
		k = &entry{lim: rate.NewLimiter(perMinute(l.policy.KommunePerMinute), l.policy.KommuneBurst)}
		l.kommune[kommune] = k
	}
	k.seen = now
	return k.lim.AllowN(now, 1)
}
