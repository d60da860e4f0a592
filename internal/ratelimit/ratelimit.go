// Package ratelimit limits request rates per client: a token bucket
// (golang.org/x/time/rate) for each key (an API key's ID, an IP address),
// forgotten after a while of disuse so memory stays bounded.
package ratelimit

import (
	"math"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter hands out a bucket per key.
type Limiter struct {
	rate  rate.Limit
	burst int
	idle  time.Duration // a bucket unused this long is dropped
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	used time.Time
}

// New allows each key perSecond requests a second on average, in bursts of
// up to burst.
func New(perSecond float64, burst int) *Limiter {
	return &Limiter{rate: rate.Limit(perSecond), burst: burst, idle: 10 * time.Minute, now: time.Now, buckets: map[string]*bucket{}}
}

// Allow reports whether key may make a request now and, if not, how long
// until it may.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > l.idle {
		for k, b := range l.buckets {
			if now.Sub(b.used) > l.idle {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	b := l.buckets[key]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(l.rate, l.burst)}
		l.buckets[key] = b
	}
	b.used = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// RetryAfter renders a wait as whole seconds for the Retry-After header,
// rounded up and at least 1.
func RetryAfter(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// Middleware limits requests per client IP address; a refused request is
// answered by refuse with the wait. It runs before anything else, so a
// flood of made-up keys is bounded per IP too. Limits per API key are
// applied where keys are authenticated (package httpapi), by the key's ID:
// a bucket per spelling of the header would let padded variants of one key
// multiply its rate.
func Middleware(perIP *Limiter, refuse func(w http.ResponseWriter, r *http.Request, wait time.Duration), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			ip = r.RemoteAddr
		}
		if ok, wait := perIP.Allow(ip); !ok {
			refuse(w, r, wait)
			return
		}
		next.ServeHTTP(w, r)
	})
}
