package main

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/internal/accountability/quarantine"
	"github.com/wardhq/ward/internal/hashing/pdq"
	wardmirror "github.com/wardhq/ward/internal/matching/mirror"
)

// TestServeQuarantine is the flood rule in the real server, on both
// engines: two providers' matches of more than --flood-matches distinct
// items quarantine the indicator, which stops matching and leaves the
// provider's mirror (ward sync), until the centre confirms it back. One
// provider's matches alone do not.
func TestServeQuarantine(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine.name, func(t *testing.T) {
			ctx := context.Background()
			db := engine.flags(t)
			admin := adminOn(t, db)
			keys := map[string]string{}
			for _, o := range []struct{ name, kind, country string }{
				{"hotline-de", "hotline", "DE"}, {"hotline-nl", "hotline", "NL"}, {"acme", "provider", "IE"}, {"beta", "provider", "FR"},
				{"centre", "centre", "BE"},
			} {
				admin("org", "add", "--name", o.name, "--kind", o.kind, "--country", o.country)
				keys[o.name] = strings.TrimSpace(admin("key", "create", "--org", o.name))
			}
			url := startServe(t, db, "--flood-matches", "3", "--flood-window", "1h")
			c := func(name string) *client.Client {
				cl, err := client.New(url, keys[name], client.WithRetries(0))
				if err != nil {
					t.Fatal(err)
				}
				return cl
			}
			r := rand.New(rand.NewPCG(4, 4))
			h := pdq.Hash{r.Uint64(), r.Uint64(), r.Uint64(), r.Uint64()}
			var id int64
			for _, hot := range []string{"hotline-de", "hotline-nl"} {
				res, err := c(hot).Submit(ctx, client.SubmitRequest{List: "known", Items: []client.Submission{{Type: client.PDQ, Value: h.String(), Category: "A1"}}})
				if err != nil {
					t.Fatal(err)
				}
				id = res.Results[0].Indicator
			}
			prov, beta, centre := c("acme"), c("beta"), c("centre")
			// ask has c ask for 4 distinct items near h (bit flips of
			// flip), and reports how many matched.
			ask := func(c *client.Client, flip uint64) int {
				var items []client.Item
				for i := range 4 {
					v := h
					v[i] ^= flip
					items = append(items, client.Item{PDQ: v.String()})
				}
				mr, err := c.Match(ctx, client.MatchRequest{Items: items})
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for _, res := range mr.Results {
					n += len(res.Matches)
				}
				return n
			}
			// until waits until f returns want, for at most 5 seconds.
			until := func(want int, f func() int) {
				t.Helper()
				for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
					n := f()
					if n == want {
						return
					}
					if time.Now().After(deadline) {
						t.Fatalf("%d matches, want %d", n, want)
					}
				}
			}
			// One provider's 4 items, over --flood-matches 3, are no flood.
			until(4, func() int { return ask(prov, 1) })
			time.Sleep(3 * quarantine.FlushEvery)
			if n := ask(prov, 1); n != 4 {
				t.Fatalf("one provider's flood quarantined: %d matches, want 4", n)
			}
			// match asks as both providers, 4 other items each, and reports
			// how many of acme's matched.
			match := func() int {
				ask(beta, 2)
				return ask(prov, 4)
			}
			waitFor := func(want int) { t.Helper(); until(want, match) }
			mirror := filepath.Join(t.TempDir(), "known.mirror")
			sync := func() wardmirror.SyncResult {
				var sr wardmirror.SyncResult
				json.Unmarshal([]byte(wardOK(t, "sync", "--server", url, "--key", keys["acme"], "--list", "known", "--mirror", mirror)), &sr)
				return sr
			}

			// Synced before the flood: the flush that quarantines may
			// follow the matches at once.
			if sr := sync(); sr.Active != 1 {
				t.Errorf("mirror before the flood rule: %+v", sr)
			}
			if n := match(); n != 4 { // active, and now flooded
				t.Fatalf("the flood's matches: %d, want 4", n)
			}
			waitFor(0)
			q, err := centre.QuarantineQueue(ctx, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(q.Quarantines) != 1 || q.Quarantines[0].Indicator != id || q.Quarantines[0].Cause != client.CauseFlood {
				t.Fatalf("queue %+v", q)
			}
			if sr := sync(); sr.Active != 0 {
				t.Errorf("mirror after the quarantine: %+v", sr)
			}
			if _, err := centre.ConfirmQuarantined(ctx, id, "a known image, matched a lot"); err != nil {
				t.Fatal(err)
			}
			waitFor(4)
			if sr := sync(); sr.Active != 1 || sr.Applied != 1 {
				t.Errorf("mirror after the release: %+v", sr)
			}
		})
	}
}
