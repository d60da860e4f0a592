package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/internal/reporting/forward"
)

// TestPushTargetDown forwards reports to an authority whose webhook is
// down (503) for a while, through the real server and its job runner, and
// checks that once it is back it has received every report, each with a
// valid signature and a stable report id (at least once: redeliveries
// carry the same id), and that nothing was given up.
func TestPushTargetDown(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine.name, func(t *testing.T) {
			ctx := context.Background()
			var (
				down     atomic.Bool
				mu       sync.Mutex
				received = map[string]int{}
				refused  atomic.Int64
			)
			down.Store(true)
			var pub ed25519.PublicKey
			var pubMu sync.Mutex
			target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if down.Load() {
					refused.Add(1)
					http.Error(w, "maintenance", http.StatusServiceUnavailable)
					return
				}
				body, _ := io.ReadAll(r.Body)
				pubMu.Lock()
				key := pub
				pubMu.Unlock()
				pkg, err := client.VerifyPackage(key, body, r.Header.Get(forward.SignatureHeader))
				if err != nil || pkg.ReportID != r.Header.Get("Ward-Report-Id") || pkg.To.Name != "bka" {
					t.Errorf("push of %s: %v", r.Header.Get("Ward-Report-Id"), err)
					http.Error(w, "bad signature", http.StatusBadRequest)
					return
				}
				mu.Lock()
				received[pkg.ReportID]++
				mu.Unlock()
				w.WriteHeader(http.StatusAccepted)
			}))
			defer target.Close()

			db := engine.flags(t)
			admin := adminOn(t, db)
			admin("org", "add", "--name", "acme", "--kind", "provider", "--country", "IE")
			admin("org", "add", "--name", "bka", "--kind", "lea", "--country", "DE", "--webhook", target.URL+"/ward", "--allow-private-webhooks")
			admin("org", "add", "--name", "europol", "--kind", "europol", "--country", "NL")
			provKey := strings.TrimSpace(admin("key", "create", "--org", "acme"))
			bkaKey := strings.TrimSpace(admin("key", "create", "--org", "bka"))
			base := startServe(t, db, "--auto-forward-urgent", "--allow-private-webhooks")

			c, err := client.New(base, bkaKey)
			if err != nil {
				t.Fatal(err)
			}
			k, err := c.SigningKey(ctx)
			if err != nil {
				t.Fatal(err)
			}
			pubMu.Lock()
			pub = k.PublicKey
			pubMu.Unlock()

			const n = 20
			var ids []string
			for i := range n {
				id, err := submit(ctx, base, provKey, fmt.Sprintf("down-%d", i))
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, id)
			}
			// Down until every report has been refused at least once.
			for deadline := time.Now().Add(30 * time.Second); refused.Load() < n && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			}
			if refused.Load() < n {
				t.Fatalf("only %d pushes attempted while the target was down", refused.Load())
			}
			down.Store(false)
			for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
				mu.Lock()
				got := len(received)
				mu.Unlock()
				if got == n {
					break
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for _, id := range ids {
				if received[id] == 0 {
					t.Errorf("report %s never reached the authority after it came back", id)
				}
			}
			if len(received) != n {
				t.Errorf("the authority received %d distinct reports, want %d", len(received), n)
			}
			// Each push was recorded before the content left.
			trail := wardOK(t, append([]string{"admin", "audit", "export", "--format", "jsonl"}, db...)...)
			for _, id := range ids {
				if !strings.Contains(trail, `"action":"report.push","object":"report:`+id+`"`) {
					t.Errorf("no audit entry for the push of %s", id)
				}
			}
		})
	}
}
