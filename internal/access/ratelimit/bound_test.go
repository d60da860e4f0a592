package ratelimit

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestMiddlewareIPv6Prefix: the addresses of one IPv6 /64 share a bucket
// (one holder usually has the whole /64), other /64s do not.
func TestMiddlewareIPv6Prefix(t *testing.T) {
	h := Middleware(New(1, 2), func(w http.ResponseWriter, r *http.Request, _ error) {
		w.WriteHeader(http.StatusTooManyRequests)
	}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	send := func(addr string) int {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = addr
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	for i, want := range []int{200, 200, 429, 429} {
		if got := send(fmt.Sprintf("[2001:db8:1:2::%x]:443", i+1)); got != want {
			t.Errorf("request %d from the /64: %d, want %d", i, got, want)
		}
	}
	if got := send("[2001:db8:1:3::1]:443"); got != 200 {
		t.Errorf("another /64: %d", got)
	}
}

// TestBucketsBounded: however many keys are tried, at most max buckets are
// kept, the least recently used dropped; a key in use keeps its bucket.
func TestBucketsBounded(t *testing.T) {
	now := time.Unix(1000, 0)
	l := New(1, 2)
	l.now = func() time.Time { return now }
	l.max = 100
	l.Allow("busy")
	l.Allow("busy")
	for i := range 10000 {
		l.Allow(fmt.Sprint("rotating", i))
		if i%50 == 0 {
			l.Allow("busy") // refused, but used
		}
	}
	if n := len(l.buckets); n > 100 {
		t.Errorf("%d buckets, want at most 100", n)
	}
	if ok, _ := l.Allow("busy"); ok {
		t.Error("the busy key's empty bucket was dropped and refilled")
	}
}
