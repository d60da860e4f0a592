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
	"github.com/wardhq/ward/internal/hashing/pdq"
	wardmirror "github.com/wardhq/ward/internal/matching/mirror"
)

// TestServeQuarantine is the flood rule in the real server, on both
// engines: a provider's matches of more than --flood-matches distinct
// items quarantine the indicator, which stops matching and leaves the
// provider's mirror (ward sync), until the centre confirms it back.
func TestServeQuarantine(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine.name, func(t *testing.T) {
			ctx := context.Background()
			db := engine.flags(t)
			admin := func(args ...string) string { return wardOK(t, append(append([]string{"admin"}, args...), db...)...) }
			keys := map[string]string{}
			for _, o := range []struct{ name, kind, country string }{
				{"hotline-de", "hotline", "DE"}, {"hotline-nl", "hotline", "NL"}, {"acme", "provider", "IE"}, {"centre", "centre", "BE"},
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
			prov, centre := c("acme"), c("centre")
			// match asks for 4 distinct items near h, and reports how many
			// matched.
			match := func() int {
				var items []client.Item
				for i := range 4 {
					v := h
					v[i] ^= 1
					items = append(items, client.Item{PDQ: v.String()})
				}
				mr, err := prov.Match(ctx, client.MatchRequest{Items: items})
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for _, res := range mr.Results {
					n += len(res.Matches)
				}
				return n
			}
			waitFor := func(want int) {
				t.Helper()
				for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
					n := match()
					if n == want {
						return
					}
					if time.Now().After(deadline) {
						t.Fatalf("%d matches, want %d", n, want)
					}
				}
			}
			mirror := filepath.Join(t.TempDir(), "known.mirror")
			sync := func() wardmirror.SyncResult {
				var sr wardmirror.SyncResult
				json.Unmarshal([]byte(wardOK(t, "sync", "--server", url, "--key", keys["acme"], "--list", "known", "--mirror", mirror)), &sr)
				return sr
			}

			// The mirror takes the activation before matches flood it: the
			// flood rule acts within a flush (250 ms) of them, less than a
			// verified sync may take on a loaded machine.
			if sr := sync(); sr.Active != 1 {
				t.Errorf("mirror before the flood rule: %+v", sr)
			}
			waitFor(4) // active, and now flooded
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
