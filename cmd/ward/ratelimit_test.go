package main

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestServeRateLimitPaddedKey: spellings of one key that authenticate
// alike (spaces after "Bearer") share one bucket; before, each spelling had
// a bucket of its own and multiplied the key's rate.
func TestServeRateLimitPaddedKey(t *testing.T) {
	db := []string{"--data", t.TempDir()}
	wardOK(t, append([]string{"admin", "org", "add", "--name", "acme", "--kind", "provider", "--country", "IE"}, db...)...)
	key := strings.TrimSpace(wardOK(t, append([]string{"admin", "key", "create", "--org", "acme"}, db...)...))
	const rate = 20 // a second, in bursts of 40
	url := startServe(t, db, "--rate-key", "20", "--rate-ip", "100000")
	start := time.Now()
	accepted, refused := flood(t, url, key, 400)
	elapsed := time.Since(start)
	t.Logf("padded-key flood: %d accepted, %d refused in %v", accepted, refused, elapsed)
	// One bucket: its burst and what refills while the flood lasts.
	if most := int64(2*rate + rate*elapsed.Seconds() + 5); accepted > most || refused == 0 {
		t.Errorf("%d requests accepted, %d refused: more than one bucket's %d", accepted, refused, most)
	}
}

// flood sends n requests GET /v1/lists with the key padded by 0 to 5
// spaces from 8 clients, and counts the answers 200 and 429.
func flood(t *testing.T, url, key string, n int) (accepted, refused int64) {
	t.Helper()
	var wg sync.WaitGroup
	for c := range 8 {
		wg.Go(func() {
			for i := c; i < n; i += 8 {
				req, _ := http.NewRequest("GET", url+"/v1/lists", nil)
				req.Header.Set("Authorization", "Bearer "+strings.Repeat(" ", i%6)+key)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusOK:
					atomic.AddInt64(&accepted, 1)
				case http.StatusTooManyRequests:
					atomic.AddInt64(&refused, 1)
				default:
					t.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		})
	}
	wg.Wait()
	return accepted, refused
}
