package httpapi_test

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/httpapi"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/indicator/translog"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
)

// BenchmarkLogTiles serves random full tiles of a list's log of 1M
// entries over real HTTP, from parallel clients: hash tiles of level 0
// (public) and entry bundles (with a key), as mirrors and witnesses fetch
// them. It reports requests/s.
//
//	go test -run '^$' -bench LogTiles -benchtime 5s ./internal/httpapi/
func BenchmarkLogTiles(b *testing.B) {
	for _, engine := range []struct {
		name string
		open func(testing.TB) *store.DB
	}{{"sqlite", storetest.OpenSQLite}, {"postgres", storetest.OpenPostgres}} {
		b.Run(engine.name, func(b *testing.B) {
			ctx := context.Background()
			db := engine.open(b)
			orgs := org.NewService(db)
			if _, err := orgs.Create(ctx, "acme", org.Provider, "IE"); err != nil {
				b.Fatal(err)
			}
			key, _, err := orgs.CreateKey(ctx, "acme", org.KeyOptions{})
			if err != nil {
				b.Fatal(err)
			}
			const n = 1_000_000
			storetest.ActivatedFeed(b, db, n)
			logs, err := translog.New(db.Translog(), testLogKey, "bench.example")
			if err != nil {
				b.Fatal(err)
			}
			if err := logs.CatchUp(ctx, nil); err != nil {
				b.Fatal(err)
			}
			api := &httpapi.Server{Orgs: orgs, Indicators: indicator.NewService(db), Log: logs,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
			srv := httptest.NewServer(api.Handler())
			defer srv.Close()
			tr := &http.Transport{MaxIdleConnsPerHost: 64}
			defer tr.CloseIdleConnections()
			hc := &http.Client{Transport: tr}
			for _, kind := range []struct {
				name string
				l    int
				key  string
			}{{"hashes", 0, ""}, {"entries", -1, key}} {
				b.Run(kind.name, func(b *testing.B) {
					b.SetParallelism(8)
					start := time.Now()
					b.RunParallel(func(pb *testing.PB) {
						r := rand.New(rand.NewPCG(rand.Uint64(), 0))
						for pb.Next() {
							t := tlog.Tile{H: translog.Height, L: kind.l, N: r.Int64N(n / translog.TileWidth), W: translog.TileWidth}
							req, _ := http.NewRequest("GET", srv.URL+"/v1/lists/known/log/"+translog.TilePath(t), nil)
							if kind.key != "" {
								req.Header.Set("Authorization", "Bearer "+kind.key)
							}
							resp, err := hc.Do(req)
							if err != nil {
								b.Fatal(err)
							}
							io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
							if resp.StatusCode != http.StatusOK {
								b.Fatalf("%s: %d", translog.TilePath(t), resp.StatusCode)
							}
						}
					})
					b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
				})
			}
		})
	}
}
