package takedown_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/core/coretest"

	"github.com/wardhq/ward/internal/matching/matcher"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/takedown"
	"github.com/wardhq/ward/internal/takedown/crawl"
)

var openNotices = flag.Int("opennotices", 100000, "open noticed items in BenchmarkRecheckDue")

// sameFetcher answers every recheck at once with the same content: the
// sweep's own cost, without the network's.
type sameFetcher struct{}

var sameBody = []byte("the same content")

func (sameFetcher) Fetch(context.Context, string) (crawl.Result, error) { return crawl.Result{}, nil }
func (sameFetcher) Get(_ context.Context, raw string) crawl.Resource {
	return crawl.Resource{URL: raw, Status: 200, Body: sameBody}
}

// BenchmarkRecheckDue measures the recheck sweep with -opennotices open
// noticed items (a case, an illegal item and a notice each), 1 % of them
// due: the due scan of a batch (scan_ms), a sweep of the due items with
// an instant fetcher (swept_items/s: the store's work per recheck), and
// the latency of claiming another kind of job (as the triage of a report
// is claimed) while the sweep runs (claim_busy_ms, the slowest) and
// while it does not (claim_idle_ms). The open notices are rows, not
// jobs: the job queue holds the sweep's one job, so claims stay fast.
//
//	go test -run '^$' -bench RecheckDue -benchtime 3x ./internal/takedown/
func BenchmarkRecheckDue(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchRecheck(b, storetest.OpenSQLite) })
	b.Run("postgres", func(b *testing.B) { benchRecheck(b, storetest.OpenPostgres) })
}

func benchRecheck(b *testing.B, open func(testing.TB) *store.DB) {
	ctx := context.Background()
	db := open(b)
	n := *openNotices
	now := start.Add(7 * time.Hour)
	sum := sha256.Sum256(sameBody)
	fill(b, db, n, hex.EncodeToString(sum[:]), now)
	c := coretest.NewClock(now)
	svc := takedown.New(db.Takedown(), takedown.Options{Fetcher: sameFetcher{}, Matcher: matcher.New(), Clock: c.Now})
	due := n / 100

	var scan, sweep time.Duration
	var busy, idle []time.Duration
	for b.Loop() {
		b.StopTimer()
		exec(b, db, `UPDATE takedown_items SET next_check_at = $1 WHERE idx = 0 AND next_check_at > $2 AND next_check_at < $3`,
			now.Add(-time.Minute), now.Add(5*time.Hour), now.Add(7*time.Hour))
		idle = append(idle, claims(b, db, now, 20)...)
		b.StartTimer()

		t0 := time.Now()
		cs, err := db.Takedown().DueChecks(ctx, now, 200)
		if err != nil || len(cs) != 200 {
			b.Fatalf("due checks: %d, %v", len(cs), err)
		}
		scan += time.Since(t0)

		done := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				busy = append(busy, claims(b, db, now, 1)...)
			}
		})
		t0 = time.Now()
		if err := svc.RecheckDue(ctx); err != nil {
			b.Fatal(err)
		}
		sweep += time.Since(t0)
		close(done)
		wg.Wait()
		if left, _ := db.Takedown().DueChecks(ctx, now, 1); len(left) != 0 {
			b.Fatal("items still due after the sweep")
		}
	}
	runs := float64(b.N)
	b.ReportMetric(float64(scan.Microseconds())/1000/runs, "scan_ms")
	b.ReportMetric(float64(due)*runs/sweep.Seconds(), "swept_items/s")
	b.ReportMetric(ms(slices.Max(busy)), "claim_busy_ms")
	b.ReportMetric(ms(median(busy)), "claim_busy_p50_ms")
	b.ReportMetric(ms(slices.Max(idle)), "claim_idle_ms")
	b.ReportMetric(ms(median(idle)), "claim_idle_p50_ms")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// claims enqueues, claims and completes k jobs of another kind, one at a
// time, and returns how long each claim took. It may run beside the
// benchmark's goroutine, so it reports failures with Error.
func claims(b *testing.B, db *store.DB, now time.Time, k int) []time.Duration {
	ctx := context.Background()
	var out []time.Duration
	for range k {
		if _, err := db.EnqueueJob(ctx, "report.triage", "r", now); err != nil {
			b.Error(err)
			return out
		}
		t0 := time.Now()
		js, err := db.ClaimJobs(ctx, "bench", []string{"report.triage"}, now, time.Minute, 1)
		out = append(out, time.Since(t0))
		if err != nil || len(js) != 1 {
			b.Errorf("claim: %v, %v", js, err)
			return out
		}
		if err := db.CompleteJob(ctx, js[0].ID, "bench", now); err != nil {
			b.Error(err)
			return out
		}
	}
	return out
}

func exec(b *testing.B, db *store.DB, q string, args ...any) {
	err := db.ReadWrite(context.Background(), func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.Exec(ctx, q, args...)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
}

// fill inserts n noticed cases, each with an illegal item of hash sum
// and a notice; 1 % of the items are due at now, the others in 6h.
func fill(b *testing.B, db *store.DB, n int, sum string, now time.Time) {
	err := db.ReadWrite(context.Background(), func(ctx context.Context, tx *store.Tx) error {
		series, key, ts := `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < $1) `,
			`substr('0000000000000000000000000000000000000000000000000000000000000000' || i, -64)`, ``
		if tx.Postgres() {
			series, key, ts = `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < $1::int) `,
				`lpad(i::text, 64, '0')`, `::timestamptz`
		}
		// $2: reported, noticed and due 7h ago; $3: due in 5h.
		past, later := now.Add(-7*time.Hour), now.Add(5*time.Hour)
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`INSERT INTO takedown_cases (id, url, url_key, state, received_at, fetched_at, assessed_at)
				SELECT 'b' || i, 'https://files.example/' || i, ` + key + `, 'noticed', $2` + ts + `, $2` + ts + `, $2` + ts + ` FROM s`,
				[]any{n, past}},
			{`INSERT INTO takedown_items (case_id, idx, url, sha256, classification, next_check_at)
				SELECT 'b' || i, 0, 'https://files.example/' || i, '` + sum + `', 'baseline',
					CASE WHEN i % 100 = 0 THEN $2` + ts + ` ELSE $3` + ts + ` END FROM s`, []any{n, past, later}},
			{`INSERT INTO takedown_notices (id, case_id, channel, urls, classification, created_at, sent_at, sends, next_send_at)
				SELECT 'n' || i, 'b' || i, 'webhook', '[]', 'baseline', $2` + ts + `, $2` + ts + `, 1, $3` + ts + ` FROM s`,
				[]any{n, past, later}},
		} {
			if _, err := tx.Exec(ctx, series+q.sql, q.args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	exec(b, db, `ANALYZE`)
}
