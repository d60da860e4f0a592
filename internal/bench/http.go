package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/hashing/media"
	"github.com/wardhq/ward/internal/hashing/pdq"
	"github.com/wardhq/ward/internal/httpapi"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/matching/matcher"
	"github.com/wardhq/ward/internal/platform/store"
)

// HTTPOptions says what HTTP measures; all must be positive, Items at
// most httpapi.MaxItems.
type HTTPOptions struct {
	N           int           // indicators in the list
	Items       int           // hashes per request
	Concurrency int           // requests in flight
	Duration    time.Duration // how long to send requests
}

// HTTPResult is HTTP's output line.
type HTTPResult struct {
	N           int     `json:"n"`
	ItemsPerReq int     `json:"items_per_request"`
	Concurrency int     `json:"concurrency"`
	BuildS      float64 `json:"build_s"`
	Requests    int     `json:"requests"`
	ItemsPerS   float64 `json:"items_per_s"`
	P50ms       float64 `json:"p50_ms"`
	P99ms       float64 `json:"p99_ms"`
	Matched     int     `json:"matched_items"`
	Errors      int     `json:"errors"`
}

// HTTP builds a list of o.N synthetic PDQ indicators, serves the API on a
// loopback port (with a real SQLite store for the organisation and key),
// sends match requests for o.Duration, and writes one HTTPResult line to
// out.
func HTTP(ctx context.Context, o HTTPOptions, out, progress io.Writer) error {
	progress = progressOf(progress)
	res := HTTPResult{N: o.N, ItemsPerReq: o.Items, Concurrency: o.Concurrency}

	tmp, err := os.MkdirTemp("", "ward-bench-http-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	db, err := store.Open(ctx, "sqlite:"+filepath.Join(tmp, "ward.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	orgs := org.NewService(db)
	if _, err := orgs.Create(ctx, "bench-provider", org.Provider, "IE"); err != nil {
		return err
	}
	key, _, err := orgs.CreateKey(ctx, "bench-provider", org.KeyOptions{})
	if err != nil {
		return err
	}

	fmt.Fprintf(progress, "building a list of %d indicators\n", o.N)
	r := rand.New(rand.NewPCG(1, 2))
	stored := make([]pdq.Hash, o.N)
	start := time.Now()
	b := matcher.NewBuilder()
	for i := range stored {
		stored[i] = pdq.Hash{r.Uint64(), r.Uint64(), r.Uint64(), r.Uint64()}
		if err := b.Add(matcher.Entry{ID: int64(i + 1), List: indicator.Known, Signal: indicator.PDQ, Value: stored[i].String(), Category: indicator.A1}); err != nil {
			return err
		}
	}
	m := matcher.New()
	b.Install(m, []indicator.List{{Name: indicator.Known, Kind: indicator.MatchList, MaxDistance: indicator.DefaultMaxDistance, Threshold: indicator.DefaultThreshold}})
	res.BuildS = time.Since(start).Seconds()

	api := &httpapi.Server{
		Orgs: orgs, Indicators: indicator.NewService(db), Matcher: m, Ready: func() bool { return true },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxThreshold: 64, Images: media.DefaultLimits,
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: api.Handler()}
	go srv.Serve(ln)
	defer srv.Close()

	transport := &http.Transport{MaxIdleConnsPerHost: o.Concurrency}
	c, err := client.New("http://"+ln.Addr().String(), key, client.WithHTTPClient(&http.Client{Transport: transport}), client.WithRetries(0))
	if err != nil {
		return err
	}
	fmt.Fprintf(progress, "sending requests of %d items from %d connections for %s\n", o.Items, o.Concurrency, o.Duration)
	var mu sync.Mutex
	var lat []time.Duration
	deadline := time.Now().Add(o.Duration)
	var wg sync.WaitGroup
	for w := range o.Concurrency {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 99))
			req := client.MatchRequest{Items: make([]client.Item, o.Items)}
			for time.Now().Before(deadline) && ctx.Err() == nil {
				for i := range req.Items {
					h := pdq.Hash{r.Uint64(), r.Uint64(), r.Uint64(), r.Uint64()}
					if i%2 == 0 { // a near duplicate: 8 to 20 bits away
						h = stored[r.IntN(len(stored))]
						for range 8 + r.IntN(13) {
							k := r.IntN(256)
							h[k/64] ^= 1 << (k % 64)
						}
					}
					req.Items[i] = client.Item{PDQ: h.String()}
				}
				t0 := time.Now()
				resp, err := c.Match(ctx, req)
				d := time.Since(t0)
				mu.Lock()
				if err != nil {
					res.Errors++
				} else {
					lat = append(lat, d)
					for _, ir := range resp.Results {
						if len(ir.Matches) > 0 {
							res.Matched++
						}
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(deadline.Add(-o.Duration))
	if len(lat) == 0 {
		return fmt.Errorf("no request succeeded (%d errors)", res.Errors)
	}
	slices.Sort(lat)
	res.Requests = len(lat)
	res.ItemsPerS = float64(len(lat)*o.Items) / elapsed.Seconds()
	res.P50ms, res.P99ms = percentiles(lat)
	return json.NewEncoder(out).Encode(res)
}

// percentiles returns the median and the 99th percentile of sorted, in
// milliseconds.
func percentiles(sorted []time.Duration) (p50, p99 float64) {
	return float64(sorted[len(sorted)/2]) / 1e6, float64(sorted[len(sorted)*99/100]) / 1e6
}
