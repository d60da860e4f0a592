package stats_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/ratelimit"
	"github.com/wardhq/ward/internal/accountability/stats"
	"github.com/wardhq/ward/internal/httpapi"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/web"
)

var benchReports = flag.Int("statsreports", 1_000_000, "reports in BenchmarkStatistics, spread over the last year")

// BenchmarkStatistics fills a database with -statsreports synthetic
// reports spread over the last 365 days, today included (and, in
// proportion, their triage, decisions and deliveries, indicators,
// quarantines, verdicts and takedown cases), by bulk SQL; then it
// measures the first roll-up of the whole year (rollup_s), the periodic
// run after it, of today and yesterday (rerun_ms, the median of 5), and,
// over 50 requests each, the statistics of the year (query_ms, the
// median; query_max_ms), the page /transparency of the year (page_ms)
// and the JSON (json_ms), each through an httptest server. The query
// must take less than 50 ms.
//
//	go test -run '^$' -bench Statistics -benchtime 1x ./internal/accountability/stats/
func BenchmarkStatistics(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchStatistics(b, storetest.OpenSQLite) })
	b.Run("postgres", func(b *testing.B) { benchStatistics(b, storetest.OpenPostgres) })
}

func benchStatistics(b *testing.B, open func(testing.TB) *store.DB) {
	ctx := context.Background()
	db := open(b)
	// The default period's: the last 365 days, today's up to now.
	now := time.Now().UTC()
	start := now.Truncate(24*time.Hour).AddDate(0, 0, 1-stats.DefaultDays)
	began := time.Now()
	fill(b, db, *benchReports, start, now.Add(-time.Minute))
	b.Logf("filled %d reports in %.1f s", *benchReports, time.Since(began).Seconds())
	svc := stats.New(db.Stats(), stats.Options{Progress: func(p stats.Progress) {
		b.Logf("rolled up %d of %d days in %.1f s", p.Done, p.Total, p.Elapsed.Seconds())
	}})

	var rollup time.Duration
	for b.Loop() {
		clearStats(b, db)
		t0 := time.Now()
		if err := svc.Rollup(ctx); err != nil {
			b.Fatal(err)
		}
		rollup = time.Since(t0)
	}
	b.ReportMetric(rollup.Seconds(), "rollup_s")
	// The periodic run after it: today and yesterday.
	again := timed(b, 5, func() {
		if err := svc.Rollup(ctx); err != nil {
			b.Fatal(err)
		}
	})
	b.ReportMetric(ms(again[len(again)/2]), "rerun_ms")

	p, err := stats.ParsePeriod("", "", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	var st stats.Statistics
	query := timed(b, 50, func() {
		if st, err = svc.Statistics(ctx, p); err != nil {
			b.Fatal(err)
		}
	})
	if st.Reports.Received != int64(*benchReports) {
		b.Errorf("received %d, want %d", st.Reports.Received, *benchReports)
	}
	b.Logf("a year: %d reports received, %d forwarded (median %.2f h), %d by country, %d indicators active, %d complaints, %d removals",
		st.Reports.Received, st.Reports.Forwarded, must(st.Reports.MedianHoursToForward()), len(st.Reports.ByCountry),
		st.Indicators.Active, st.Complaints.Received, st.Takedown.Removed)
	b.ReportMetric(ms(query[len(query)/2]), "query_ms")
	b.ReportMetric(ms(query[len(query)-1]), "query_max_ms")
	if query[len(query)/2] >= 50*time.Millisecond {
		b.Errorf("the statistics of a year took %v (median), over 50 ms", query[len(query)/2])
	}

	// The page and the JSON, as a browser and a client get them.
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	unlimited := ratelimit.NewPublic(1e9, 1e9)
	console := &web.Server{Stats: svc, StatsLimit: unlimited, Logger: quiet}
	h, err := console.Handler()
	if err != nil {
		b.Fatal(err)
	}
	api := &httpapi.Server{Stats: svc, StatsLimit: unlimited, Logger: quiet}
	for _, c := range []struct {
		metric, path string
		handler      http.Handler
		want         string
	}{
		{"page_ms", "/transparency", h, fmt.Sprintf(`<strong id="reports-received">%s</strong>`, grouped(*benchReports))},
		{"json_ms", "/v1/public/statistics", api.Handler(), fmt.Sprintf(`"received":%d`, *benchReports)},
	} {
		srv := httptest.NewServer(c.handler)
		var body string
		took := timed(b, 50, func() {
			resp, err := http.Get(srv.URL + c.path)
			if err != nil {
				b.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("%s: %d %s", c.path, resp.StatusCode, raw)
			}
			body = string(raw)
		})
		srv.Close()
		if !strings.Contains(body, c.want) {
			b.Errorf("%s lacks %s", c.path, c.want)
		}
		b.ReportMetric(ms(took[len(took)/2]), c.metric)
	}
}

// timed runs f n times and returns its times, sorted.
func timed(b *testing.B, n int, f func()) []time.Duration {
	b.Helper()
	var out []time.Duration
	for range n {
		t0 := time.Now()
		f()
		out = append(out, time.Since(t0))
	}
	slices.Sort(out)
	return out
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func must(h float64, _ bool) float64 { return h }

// grouped writes n as the page does.
func grouped(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func clearStats(b *testing.B, db *store.DB) {
	b.Helper()
	for _, table := range []string{"stats_days", "stats_months", "stats_stocks", "stats_rollup"} {
		benchExec(b, db, `DELETE FROM `+table)
	}
}

func benchExec(b *testing.B, db *store.DB, q string, args ...any) {
	b.Helper()
	err := db.ReadWrite(context.Background(), func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.Exec(ctx, q, args...)
		return err
	})
	if err != nil {
		b.Fatalf("%v\n%s", err, q)
	}
}

// The synthetic organisations: providers, authorities of as many
// countries, and Europol, created first so that their IDs follow each
// other.
const (
	benchProviders = 20
	benchLEAs      = 10
)

var benchCountries = []string{"DE", "NL", "FR", "IT", "ES", "PL", "BE", "AT", "SE", "IE"}

// fill inserts n reports finished evenly from start to end, of 20
// providers, each triaged 2 s after its receipt (a third known, a third
// new, a third no items); 40 % forwarded and 20 % found unfounded 1 to 97
// hours later, each forwarded one delivered to an authority of one of 10
// countries and to Europol a minute after; a tenth as many indicators
// activated, 5 % of them withdrawn, 500 quarantines and 1000 verdicts;
// n/1000 complaints, two thirds decided 5 days after; and n/20 takedown
// cases, each noticed an hour after its report, 60 % removed
// 1 to 120 hours after it.
func fill(b *testing.B, db *store.DB, n int, start, end time.Time) {
	b.Helper()
	ctx := context.Background()
	orgs := org.NewService(db)
	var ids []int64
	for i := range benchProviders + benchLEAs + 1 {
		name, kind, country := fmt.Sprintf("provider %02d", i), org.Provider, "IE"
		switch {
		case i >= benchProviders+benchLEAs:
			name, kind, country = "Europol", org.Europol, "NL"
		case i >= benchProviders:
			country = benchCountries[i-benchProviders]
			name, kind = "police "+country, org.LEA
		}
		o, err := orgs.Create(ctx, name, kind, country)
		if err != nil {
			b.Fatal(err)
		}
		if len(ids) > 0 && o.ID != ids[len(ids)-1]+1 {
			b.Fatalf("organisation IDs %v, %d do not follow each other", ids, o.ID)
		}
		ids = append(ids, o.ID)
	}
	p0, lea0, europol := ids[0], ids[benchProviders], ids[benchProviders+benchLEAs]
	step := end.Sub(start).Microseconds() / int64(n)
	base := start.UnixMicro()

	err := db.ReadWrite(ctx, func(ctx context.Context, tx *store.Tx) error {
		// The dialects' differences: a series of i, a time in Unix
		// microseconds as a TIMESTAMP, 32 bytes, an empty blob, text of
		// an integer padded to a width.
		series := `WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < %d) `
		ts := func(micros string) string { return "(" + micros + ")" }
		blob32, empty := `randomblob(32)`, `zeroblob(0)`
		pad := func(expr string, width int) string {
			return fmt.Sprintf(`substr('%s' || (%s), -%d)`, strings.Repeat("0", width), expr, width)
		}
		if tx.Postgres() {
			series = `WITH s(i) AS (SELECT generate_series(0, %d)::bigint) `
			ts = func(micros string) string { return "to_timestamp((" + micros + ")::double precision / 1000000)" }
			blob32, empty = `decode(md5(i::text) || md5(i::text), 'hex')`, `''::bytea`
			pad = func(expr string, width int) string { return fmt.Sprintf(`lpad((%s)::text, %d, '0')`, expr, width) }
		}
		at := func(offsetMicros string) string { return ts(fmt.Sprintf("%d + i * %d + %s", base, step, offsetMicros)) }
		hour := int64(time.Hour / time.Microsecond)
		decided := fmt.Sprintf("(1 + (i * 7919) %% 97) * %d", hour)
		for _, q := range []string{
			fmt.Sprintf(series, n-1) + `INSERT INTO reports (id, provider_id, idempotency_key, state, type, urgent, body_index, body_sealed,
				created_at, finished_at, case_id, priority, material, triaged_at, decided_at)
				SELECT 'r' || i, ` + fmt.Sprint(p0) + ` + i % ` + fmt.Sprint(benchProviders) + `, 'k' || i,
					CASE WHEN i % 10 < 4 THEN 'forwarded' WHEN i % 10 < 6 THEN 'unfounded' ELSE 'queued' END,
					CASE i % 3 WHEN 0 THEN 'known' WHEN 1 THEN 'new' ELSE 'solicitation' END,
					i % 50 = 0, ` + blob32 + `, ` + empty + `, ` + at("0") + `, ` + at("0") + `, 'r' || i, i % 3,
					CASE i % 3 WHEN 0 THEN 'known' WHEN 1 THEN 'new' ELSE 'none' END, ` + at("2000000") + `,
					CASE WHEN i % 10 < 6 THEN ` + at(decided) + ` END
				FROM s`,
			fmt.Sprintf(series, n-1) + `INSERT INTO deliveries (report_id, org_id, created_at)
				SELECT 'r' || i, ` + fmt.Sprint(lea0) + ` + (i / 10) % ` + fmt.Sprint(benchLEAs) + `, ` + at(decided+" + 60000000") + `
				FROM s WHERE i % 10 < 4`,
			fmt.Sprintf(series, n-1) + `INSERT INTO deliveries (report_id, org_id, created_at)
				SELECT 'r' || i, ` + fmt.Sprint(europol) + `, ` + at(decided+" + 60000000") + ` FROM s WHERE i % 10 < 4`,
			fmt.Sprintf(series, n/10-1) + `INSERT INTO indicators (list_id, signal, value, category, state, created_at, activated_at, withdrawn_at)
				SELECT (SELECT id FROM lists WHERE name = 'known'), 'md5', ` + pad("i", 32) + `, 'A1',
					CASE WHEN i % 20 = 0 THEN 'withdrawn' ELSE 'active' END,
					` + ts(fmt.Sprintf("%d + i * %d", base, 10*step)) + `, ` + ts(fmt.Sprintf("%d + i * %d", base, 10*step)) + `,
					CASE WHEN i % 20 = 0 THEN ` + ts(fmt.Sprintf("%d + i * %d + %d", base, 10*step, 24*hour)) + ` END
				FROM s`,
			fmt.Sprintf(series, 499) + `INSERT INTO quarantines (indicator_id, cause, actor, at, ended_at, outcome)
				SELECT 1 + i * 7, 'false_positive', 'system', ` + ts(fmt.Sprintf("%d + i * %d", base, int64(n)*step/500)) + `,
					CASE WHEN i % 2 = 0 THEN ` + ts(fmt.Sprintf("%d + i * %d + %d", base, int64(n)*step/500, 48*hour)) + ` END,
					CASE WHEN i % 2 = 0 THEN 'confirmed' END
				FROM s`,
			fmt.Sprintf(series, 999) + `INSERT INTO match_feedback (provider_id, indicator_id, verdict, at)
				SELECT ` + fmt.Sprint(p0) + ` + i % ` + fmt.Sprint(benchProviders) + `, 1 + i, CASE WHEN i % 3 = 0 THEN 'confirmed' ELSE 'false_positive' END,
					` + ts(fmt.Sprintf("%d + i * %d", base, int64(n)*step/1000)) + ` FROM s`,
			fmt.Sprintf(series, n/1000-1) + `INSERT INTO complaints (id, provider_id, reference, secret_hash, body_sealed, state, received_at, due_at, decided_at)
				SELECT 'q' || i, ` + fmt.Sprint(p0) + ` + i % ` + fmt.Sprint(benchProviders) + `, 'ref', ` + blob32 + `, ` + empty + `,
					CASE i % 3 WHEN 0 THEN 'upheld' WHEN 1 THEN 'rejected' ELSE 'open' END, ` + ts(fmt.Sprintf("%d + i * %d", base, 1000*step)) + `,
					` + ts(fmt.Sprintf("%d + i * %d + %d", base, 1000*step, 14*24*hour)) + `,
					CASE WHEN i % 3 < 2 THEN ` + ts(fmt.Sprintf("%d + i * %d + %d", base, 1000*step, 5*24*hour)) + ` END
				FROM s`,
			fmt.Sprintf(series, n/20-1) + `INSERT INTO takedown_cases (id, url, url_key, state, received_at, removed_at)
				SELECT 'c' || i, 'https://files.example/' || i, ` + pad("i", 64) + `,
					CASE WHEN i % 10 < 6 THEN 'removed' ELSE 'noticed' END, ` + ts(fmt.Sprintf("%d + i * %d", base, 20*step)) + `,
					CASE WHEN i % 10 < 6 THEN ` + ts(fmt.Sprintf("%d + i * %d + (1 + (i * 31) %% 120) * %d", base, 20*step, hour)) + ` END
				FROM s`,
			fmt.Sprintf(series, n/20-1) + `INSERT INTO takedown_events (case_id, at, kind, actor)
				SELECT 'c' || i, ` + ts(fmt.Sprintf("%d + i * %d + %d", base, 20*step, hour)) + `, 'noticed', 'system' FROM s`,
		} {
			if _, err := tx.Exec(ctx, q); err != nil {
				return fmt.Errorf("%w\n%s", err, q)
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	benchExec(b, db, `ANALYZE`)
}
