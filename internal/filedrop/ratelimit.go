package filedrop

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiterIdle is how long an address's bucket is kept after its last use.
const limiterIdle = 10 * time.Minute

// limiterMax bounds the number of addresses tracked; past it, idle ones
// are dropped first, so a flood of addresses costs bounded memory.
const limiterMax = 10_000

// ipLimiter is a token bucket per client address for the anonymous link
// endpoints: it slows down passphrase guessing and token scanning from one
// address. (Tokens are 256-bit, so scanning is hopeless anyway; the bucket
// keeps it from costing the hub work.) It lives in memory: a restart
// refills the buckets, which the per-link failure count does not.
type ipLimiter struct {
	mu       sync.Mutex
	perMin   int
	limiters map[string]*ipBucket
}

type ipBucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newIPLimiter(perMinute int) *ipLimiter {
	return &ipLimiter{perMin: perMinute, limiters: map[string]*ipBucket{}}
}

// allow takes one token for ip (an empty ip shares one bucket: a caller
// that does not say who asks gets the strictest treatment).
func (l *ipLimiter) allow(ip string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	b, ok := l.limiters[ip]
	if !ok {
		if len(l.limiters) >= limiterMax {
			l.evict(now)
		}
		b = &ipBucket{lim: rate.NewLimiter(rate.Limit(float64(l.perMin)/60), l.perMin)}
		l.limiters[ip] = b
	}
	b.seen = now
	return b.lim.AllowN(now, 1)
}

// evict drops idle buckets, or all if none is idle.
func (l *ipLimiter) evict(now time.Time) {
	for k, b := range l.limiters {
		if now.Sub(b.seen) > limiterIdle {
			delete(l.limiters, k)
		}
	}
	if len(l.limiters) >= limiterMax {
		clear(l.limiters)
	}
}
