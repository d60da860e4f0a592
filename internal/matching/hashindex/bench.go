package hashindex

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// BenchConfig says what RunBench measures.
type BenchConfig struct {
	N         int    // stored hashes
	Queries   int    // queries, half near-duplicates of stored hashes and half not
	Threshold int    // match distance
	Data      string // Uniform, Clustered or Skewed
	Seed      int64
	Workers   int // goroutines for the throughput run; 0 means runtime.NumCPU()
}

// BenchResult is what RunBench measured. Latencies are of one query at a
// time; QPS is with Workers goroutines searching at once.
type BenchResult struct {
	N         int     `json:"n"`
	Threshold int     `json:"threshold"`
	Data      string  `json:"data"`
	BuildS    float64 `json:"build_s"`
	// MemBytes is the growth of the live heap over Build; MemEstBytes is
	// the index's own estimate, MemBytes.
	MemBytes    int64   `json:"mem_bytes"`
	MemEstBytes int64   `json:"mem_est_bytes"`
	Tables      int     `json:"tables"`
	P50us       float64 `json:"p50_us"`
	P99us       float64 `json:"p99_us"`
	MaxUs       float64 `json:"max_us"`
	// P50CPUus and P99CPUus are the same queries' CPU time (Linux only),
	// which leaves out time the search waited for a core that other
	// processes held: on a shared machine, the cost of the search itself.
	P50CPUus float64 `json:"p50_cpu_us,omitempty"`
	P99CPUus float64 `json:"p99_cpu_us,omitempty"`
	QPS      float64 `json:"qps"`
	Workers  int     `json:"workers"`
	// Candidates is the mean number of stored hashes compared per query;
	// Matches the mean number found.
	Candidates float64 `json:"candidates"`
	Matches    float64 `json:"matches"`
	// Recall is the share of brute-force matches the index found, over
	// RecallQueries queries; Mismatches counts queries whose results
	// differed from brute force in any way (missing, extra or misordered).
	Recall        float64 `json:"recall"`
	RecallQueries int     `json:"recall_queries"`
	Mismatches    int     `json:"mismatches"`
	// BruteP50us is the median latency of a brute-force scan split over
	// BruteWorkers goroutines, on the recall queries.
	BruteP50us   float64 `json:"brute_p50_us"`
	BruteWorkers int     `json:"brute_workers"`
	Queries      int     `json:"queries"`
}

// recallQueries bounds the queries checked against brute force, which
// costs N hash comparisons each.
func recallQueries(n, queries int) int {
	return min(queries, max(200, 2_000_000_000/max(n, 1)/10))
}

// RunBench builds an index of cfg.N synthetic hashes and measures it,
// writing progress lines to progress (which may be nil).
func RunBench(ctx context.Context, cfg BenchConfig, progress io.Writer) (BenchResult, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.NumCPU()
	}
	if cfg.N < 1 || cfg.Queries < 2 || cfg.Threshold < 0 {
		return BenchResult{}, fmt.Errorf("need at least 1 hash, 2 queries and a threshold of 0 or more")
	}
	if progress == nil {
		progress = io.Discard
	}
	res := BenchResult{N: cfg.N, Threshold: cfg.Threshold, Data: cfg.Data, Queries: cfg.Queries, Workers: cfg.Workers}
	logf := func(format string, args ...any) { fmt.Fprintf(progress, format+"\n", args...) }

	start := time.Now()
	hashes, err := genHashes(cfg.Data, cfg.N, cfg.Seed)
	if err != nil {
		return res, err
	}
	ids := make([]uint64, cfg.N)
	for i := range ids {
		ids[i] = uint64(i + 1)
	}
	queries := benchQueries(cfg, hashes)
	logf("generated %d %s hashes and %d queries in %.1fs", cfg.N, cfg.Data, cfg.Queries, time.Since(start).Seconds())
	if err := ctx.Err(); err != nil {
		return res, err
	}

	before := heapInUse()
	start = time.Now()
	x := Build(ids, hashes)
	res.BuildS = time.Since(start).Seconds()
	res.MemBytes = heapInUse() - before
	res.MemEstBytes = x.MemBytes()
	res.Tables = len(x.state.Load().base.tables)
	logf("built in %.2fs: %d tables, %.0f MB (estimate %.0f MB)", res.BuildS, res.Tables, float64(res.MemBytes)/1e6, float64(res.MemEstBytes)/1e6)

	// Latency, one query at a time, after one untimed pass to warm up.
	lat := make([]time.Duration, len(queries))
	cpu := make([]time.Duration, len(queries))
	var dst []Match
	candidates, matches := 0, 0
	runtime.LockOSThread()
	for pass := range 2 {
		for i, q := range queries {
			if i%1024 == 0 && ctx.Err() != nil {
				runtime.UnlockOSThread()
				return res, ctx.Err()
			}
			c0, _ := threadCPU()
			t := time.Now()
			var c int
			dst, c = x.search(q, cfg.Threshold, dst[:0])
			lat[i] = time.Since(t)
			c1, ok := threadCPU()
			if ok {
				cpu[i] = c1 - c0
			}
			if pass == 1 {
				candidates += c
				matches += len(dst)
			}
		}
	}
	runtime.UnlockOSThread()
	slices.Sort(lat)
	slices.Sort(cpu)
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	res.P50us, res.P99us, res.MaxUs = us(percentile(lat, 0.50)), us(percentile(lat, 0.99)), us(lat[len(lat)-1])
	res.P50CPUus, res.P99CPUus = us(percentile(cpu, 0.50)), us(percentile(cpu, 0.99))
	res.Candidates = float64(candidates) / float64(len(queries))
	res.Matches = float64(matches) / float64(len(queries))
	logf("latency p50 %.0fµs p99 %.0fµs max %.0fµs (CPU time p50 %.0fµs p99 %.0fµs); %.0f candidates and %.1f matches a query",
		res.P50us, res.P99us, res.MaxUs, res.P50CPUus, res.P99CPUus, res.Candidates, res.Matches)

	// Throughput: every worker takes the next query until each was run at
	// least once and a second has passed.
	var next atomic.Int64
	var done atomic.Int64
	var wg sync.WaitGroup
	start = time.Now()
	deadline := start.Add(time.Second)
	for range cfg.Workers {
		wg.Go(func() {
			var dst []Match
			for {
				i := next.Add(1) - 1
				if int(i) >= len(queries) && (time.Now().After(deadline) || ctx.Err() != nil) {
					return
				}
				dst = x.Search(queries[int(i)%len(queries)], cfg.Threshold, dst[:0])
				done.Add(1)
			}
		})
	}
	wg.Wait()
	res.QPS = float64(done.Load()) / time.Since(start).Seconds()
	logf("throughput %.0f queries/s on %d goroutines", res.QPS, cfg.Workers)

	// Recall against brute force on a spread subset of the queries.
	brute := NewBrute(ids, hashes)
	res.BruteWorkers = cfg.Workers
	res.RecallQueries = recallQueries(cfg.N, len(queries))
	step := len(queries) / res.RecallQueries
	var blat []time.Duration
	found, want := 0, 0
	var got, exp []Match
	for k := range res.RecallQueries {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		q := queries[k*step]
		t := time.Now()
		exp = brute.SearchParallel(q, cfg.Threshold, res.BruteWorkers, exp[:0])
		blat = append(blat, time.Since(t))
		got = x.Search(q, cfg.Threshold, got[:0])
		want += len(exp)
		for _, m := range exp {
			if slices.Contains(got, m) {
				found++
			}
		}
		if !slices.Equal(got, exp) {
			res.Mismatches++
		}
	}
	res.Recall = 1
	if want > 0 {
		res.Recall = float64(found) / float64(want)
	}
	slices.Sort(blat)
	res.BruteP50us = us(percentile(blat, 0.5))
	logf("recall %.4f over %d queries (%d with differences); brute force p50 %.0fµs on %d goroutines", res.Recall, res.RecallQueries, res.Mismatches, res.BruteP50us, res.BruteWorkers)
	runtime.KeepAlive(x)
	return res, nil
}

// benchQueries returns alternately a stored hash with 8 to 20 bits
// flipped and a fresh hash from the same distribution, which matches
// nothing, or rarely.
func benchQueries(cfg BenchConfig, stored []Hash) []Hash {
	r := rand.New(rand.NewPCG(uint64(cfg.Seed), 0xbe7c4))
	g, _ := newGenerator(cfg.Data, cfg.Seed^0x5eed)
	qs := make([]Hash, cfg.Queries)
	for i := range qs {
		if i%2 == 0 {
			qs[i] = flip(r, stored[r.IntN(len(stored))], 8+r.IntN(13))
		} else {
			qs[i] = g.next()
		}
	}
	return qs
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

// heapInUse returns the live heap after a full collection.
func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
