package main

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

const benchHTTPHelp = `Measures POST /v1/match through real HTTP on this machine: builds a list of
--n synthetic PDQ indicators, starts the API on a loopback port (with a real
SQLite store for the organisation and key), and sends requests of --items
hashes each (half near-duplicates of indicators, half unrelated) from
--concurrency connections for --duration. Prints one JSON line.`

type benchHTTPResult struct {
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

func benchHTTP(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, &command{name: "bench http", args: "[--n N] [--items N] [--concurrency N] [--duration D]"}, benchHTTPHelp)
	n := fs.Int("n", 1_000_000, "indicators in the list")
	items := fs.Int("items", 100, "hashes per request")
	conc := fs.Int("concurrency", 8, "requests in flight")
	dur := fs.Duration("duration", 10*time.Second, "how long to send requests")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *n < 1 || *items < 1 || *items > httpapi.MaxItems || *conc < 1 || *dur <= 0 {
		return fmt.Errorf("%w: --n, --items (at most %d), --concurrency and --duration must be positive", errUsage, httpapi.MaxItems)
	}
	res := benchHTTPResult{N: *n, ItemsPerReq: *items, Concurrency: *conc}

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

	fmt.Fprintf(e.stderr, "building a list of %d indicators\n", *n)
	r := rand.New(rand.NewPCG(1, 2))
	stored := make([]pdq.Hash, *n)
	start := time.Now()
	b := matcher.NewBuilder()
	for i := range stored {
		stored[i] = pdq.Hash{r.Uint64(), r.Uint64(), r.Uint64(), r.Uint64()}
		if err := b.Add(matcher.Entry{ID: int64(i + 1), List: indicator.Known, Signal: indicator.PDQ, Value: stored[i].String(), Category: indicator.A1}); err != nil {
			return err
		}
	}
	m := matcher.New()
	b.Install(m, map[string]int{indicator.Known: indicator.DefaultMaxDistance})
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

	transport := &http.Transport{MaxIdleConnsPerHost: *conc}
	c, err := client.New("http://"+ln.Addr().String(), key, client.WithHTTPClient(&http.Client{Transport: transport}), client.WithRetries(0))
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "sending requests of %d items from %d connections for %s\n", *items, *conc, *dur)
	var mu sync.Mutex
	var lat []time.Duration
	deadline := time.Now().Add(*dur)
	var wg sync.WaitGroup
	for w := range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 99))
			req := client.MatchRequest{Items: make([]client.Item, *items)}
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
		}()
	}
	wg.Wait()
	elapsed := time.Since(deadline.Add(-*dur))
	if len(lat) == 0 {
		return fmt.Errorf("no request succeeded (%d errors)", res.Errors)
	}
	slices.Sort(lat)
	res.Requests = len(lat)
	res.ItemsPerS = float64(len(lat)**items) / elapsed.Seconds()
	res.P50ms = float64(lat[len(lat)/2]) / 1e6
	res.P99ms = float64(lat[len(lat)*99/100]) / 1e6
	return json.NewEncoder(e.stdout).Encode(res)
}
