// Package ratelimit limits request rates per client: a token bucket
// (golang.org/x/time/rate) for each key (an API key's ID, an IP address),
// forgotten after a while of disuse, and at most maxBuckets of them.
package ratelimit

import (
	"container/list"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/wardhq/ward/internal/access/clientip"
	"github.com/wardhq/ward/internal/core"
)

// maxBuckets bounds a Limiter's table (about 250 bytes a bucket). When it
// is full, the least recently used bucket is dropped for a new key. That
// gives nothing away: a bucket idle for burst/rate seconds (2 s at the
// serve defaults) is full again, the same as a new one, and the buckets
// in use are the most recently used; to drop one still draining, a client
// would need maxBuckets other keys within those seconds, and then has
// their buckets anyway. Sharing one bucket among new keys instead would
// let a flood of addresses shut out every new client.
const maxBuckets = 1 << 16

// Limiter hands out a bucket per key.
type Limiter struct {
	rate  rate.Limit
	burst int
	idle  time.Duration // a bucket unused this long is dropped
	max   int           // buckets kept at most
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*list.Element // of *bucket
	lru     list.List                // most recently used first
}

type bucket struct {
	key  string
	lim  *rate.Limiter
	used time.Time
}

// New allows each key perSecond requests a second on average, in bursts of
// up to burst.
func New(perSecond float64, burst int) *Limiter {
	return &Limiter{rate: rate.Limit(perSecond), burst: burst, idle: 10 * time.Minute, max: maxBuckets, now: time.Now, buckets: map[string]*list.Element{}}
}

// Allow reports whether key may make a request now and, if not, how long
// until it may.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	// The list is in order of use: idle buckets are at its back.
	for old := l.lru.Back(); old != nil && now.Sub(old.Value.(*bucket).used) > l.idle; old = l.lru.Back() {
		l.drop(old)
	}
	var b *bucket
	if el, ok := l.buckets[key]; ok {
		l.lru.MoveToFront(el)
		b = el.Value.(*bucket)
	} else {
		if len(l.buckets) >= l.max {
			l.drop(l.lru.Back())
		}
		b = &bucket{key: key, lim: rate.NewLimiter(l.rate, l.burst)}
		l.buckets[key] = l.lru.PushFront(b)
	}
	b.used = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

func (l *Limiter) drop(el *list.Element) {
	l.lru.Remove(el)
	delete(l.buckets, el.Value.(*bucket).key)
}

// ErrLimited is the refusal of a request from an address over its rate.
var ErrLimited = core.Errorf(core.ErrTooMany, "too many requests from this address; retry after the number of seconds in Retry-After")

// Middleware limits requests per client IP address (an IPv6 address's
// /64, see clientip.Key; the client behind trusted proxies is resolved
// before, by clientip.Proxies.Middleware); a refused request is
// answered by refuse with the wait. It runs before anything else, so a
// flood of made-up keys is bounded per IP too. Limits per API key are
// applied where keys are authenticated (package httpapi), by the key's ID:
// a bucket per spelling of the header would let padded variants of one key
// multiply its rate.
func Middleware(perIP *Limiter, refuse func(w http.ResponseWriter, r *http.Request, err error), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ok, wait := perIP.Allow(clientip.Key(r.RemoteAddr)); !ok {
			refuse(w, r, &core.RetryAfter{Err: ErrLimited, Wait: wait})
			return
		}
		next.ServeHTTP(w, r)
	})
}
