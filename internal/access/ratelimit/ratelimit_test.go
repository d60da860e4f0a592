package ratelimit

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/core"
)

func TestAllow(t *testing.T) {
	now := time.Unix(1000, 0)
	l := New(2, 3)
	l.now = func() time.Time { return now }
	for i := range 3 {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("request %d of the burst refused", i)
		}
	}
	ok, wait := l.Allow("a")
	if ok || wait <= 0 || wait > time.Second {
		t.Fatalf("over the burst: ok=%v wait=%v", ok, wait)
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Error("another key was limited")
	}
	now = now.Add(500 * time.Millisecond) // one token at 2/s
	if ok, _ := l.Allow("a"); !ok {
		t.Error("token not refilled")
	}
	if ok, _ := l.Allow("a"); ok {
		t.Error("refilled more than one token")
	}
	now = now.Add(time.Hour)
	l.Allow("c") // sweeps idle buckets
	if len(l.buckets) != 1 {
		t.Errorf("%d buckets after an hour idle, want 1", len(l.buckets))
	}
}

func TestMiddleware(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	var refused []time.Duration
	h := Middleware(New(1, 3), func(w http.ResponseWriter, r *http.Request, err error) {
		var ra *core.RetryAfter
		if !errors.As(err, &ra) || !errors.Is(err, core.ErrTooMany) {
			t.Errorf("refused with %v, want a RetryAfter of ErrTooMany", err)
			return
		}
		refused = append(refused, ra.Wait)
		w.WriteHeader(http.StatusTooManyRequests)
	}, ok)
	send := func(ip, key string) int {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = ip + ":1234"
		if key != "" {
			r.Header.Set("Authorization", "Bearer "+key)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	// The IP's burst (3) runs out whatever keys are sent, made up or
	// not; other IPs are unaffected.
	for i, want := range []int{200, 200, 200, 429} {
		if got := send("10.0.0.1", fmt.Sprintf("made-up-%d", i)); got != want {
			t.Errorf("request %d from the IP: %d, want %d", i, got, want)
		}
	}
	if got := send("10.0.0.2", ""); got != 200 {
		t.Errorf("another IP: %d", got)
	}
	if len(refused) != 1 || refused[0] <= 0 {
		t.Errorf("refusals %v", refused)
	}
}
