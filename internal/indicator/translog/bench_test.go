package translog_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/indicator/translog"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
)

var benchEngines = []struct {
	name string
	open func(testing.TB) *store.DB
}{{"sqlite", storetest.OpenSQLite}, {"postgres", storetest.OpenPostgres}}

// BenchmarkLogAppend logs a list's feed of 1M or 10M activations (made
// set-based, untimed) as CatchUp does for a database from before the logs,
// in transactions of 10,000 changes that read the feed, compute the
// hashes and store them: the same code the changes' own transactions run.
// It reports entries/s, the bytes the log takes per entry (its two tables
// and their keys) and the whole database's size.
//
//	go test -run '^$' -bench 'LogAppend/sqlite/1M' -benchtime 1x ./internal/indicator/translog/
func BenchmarkLogAppend(b *testing.B) {
	for _, engine := range benchEngines {
		for _, n := range []int{1_000_000, 10_000_000} {
			b.Run(fmt.Sprintf("%s/%dM", engine.name, n/1_000_000), func(b *testing.B) {
				ctx := context.Background()
				for b.Loop() {
					b.StopTimer()
					db := engine.open(b)
					storetest.ActivatedFeed(b, db, n)
					logs, err := translog.New(db.Translog(), testKey, "bench.example")
					if err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					start := time.Now()
					if err := logs.CatchUp(ctx, nil); err != nil {
						b.Fatal(err)
					}
					elapsed := time.Since(start)
					b.StopTimer()
					l, err := logs.Log(ctx, translog.ListLog(indicator.Known))
					if err != nil || l.Size != int64(n) {
						b.Fatalf("log %+v, %v", l, err)
					}
					if problems, err := logs.Check(ctx, indicator.NewService(db), 1000); err != nil || len(problems) > 0 {
						b.Fatalf("check: %q, %v", problems, err)
					}
					logBytes, dbBytes := sizes(b, db)
					b.ReportMetric(float64(n)/elapsed.Seconds(), "entries/s")
					b.ReportMetric(float64(logBytes)/float64(n), "log_bytes/entry")
					b.ReportMetric(float64(dbBytes)/(1<<20), "db_MiB")
					b.StartTimer()
				}
			})
		}
	}
}

// sizes returns the bytes of the log tables (with their primary keys)
// and of the whole database.
func sizes(b *testing.B, db *store.DB) (logBytes, dbBytes int64) {
	b.Helper()
	err := db.ReadOnly(context.Background(), func(ctx context.Context, tx *store.Tx) error {
		if tx.Postgres() {
			return tx.QueryRow(ctx, `SELECT pg_total_relation_size('log_hashes') + pg_total_relation_size('log_entries'),
				(SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
				 WHERE s.nspname = current_schema() AND c.relkind IN ('r', 't', 'm'))`).Scan(&logBytes, &dbBytes)
		}
		return tx.QueryRow(ctx, `SELECT (SELECT sum(pgsize) FROM dbstat WHERE name IN ('log_hashes', 'log_entries')),
			(SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size())`).Scan(&logBytes, &dbBytes)
	})
	if err != nil {
		b.Fatal(err)
	}
	return logBytes, dbBytes
}

// BenchmarkLogWithdraw withdraws active indicators of a list whose log
// has 1M entries, one a transaction, each appending its log entry: the
// cost of a change as the API makes it, log included ("logged"). With the
// log left behind its feed ("behind"), the changes' transactions only see
// that and leave the entries to CatchUp: about the cost without a log,
// for comparison.
func BenchmarkLogWithdraw(b *testing.B) {
	for _, engine := range benchEngines {
		for _, logged := range []bool{true, false} {
			name := engine.name + "/behind"
			if logged {
				name = engine.name + "/logged"
			}
			b.Run(name, func(b *testing.B) { benchWithdraw(b, engine.open, logged) })
		}
	}
}

func benchWithdraw(b *testing.B, open func(testing.TB) *store.DB, logged bool) {
	ctx := context.Background()
	db := open(b)
	o, err := org.NewService(db).Create(ctx, "centre", org.Centre, "BE")
	if err != nil {
		b.Fatal(err)
	}
	const n = 1_000_000
	storetest.ActivatedFeed(b, db, n)
	logs, err := translog.New(db.Translog(), testKey, "bench.example")
	if err != nil {
		b.Fatal(err)
	}
	if logged {
		if err := logs.CatchUp(ctx, nil); err != nil {
			b.Fatal(err)
		}
	}
	ind := indicator.NewService(db)
	id := int64(0)
	for b.Loop() {
		id++
		if _, err := ind.Withdraw(ctx, id%n+1, o.Principal(), "benchmark"); err != nil {
			b.Fatal(err)
		}
	}
	want := int64(0)
	if logged {
		want = n + min(int64(b.N), n)
	}
	if l, err := logs.Log(ctx, translog.ListLog(indicator.Known)); err != nil || l.Size != want {
		b.Fatalf("log %+v, %v", l, err)
	}
}
