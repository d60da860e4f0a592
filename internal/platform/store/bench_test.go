package store_test

import (
	"context"
	"flag"
	"fmt"
	"iter"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/platform/seal"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/reporting/report"
)

var importRows = flag.Int("importrows", 100000, "rows per import in BenchmarkImport")

// BenchmarkImport imports importRows new PDQ values from one organisation
// (all created), the same values from an organisation of another country
// (all attested and activated: the heaviest path), then loads the active
// indicators as a starting server does. It reports rows/s for each step.
//
//	go test -run '^$' -bench Import -benchtime 1x -importrows 1000000 ./internal/store/
func BenchmarkImport(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchImport(b, storetest.OpenSQLite) })
	b.Run("postgres", func(b *testing.B) { benchImport(b, storetest.OpenPostgres) })
}

func benchImport(b *testing.B, open func(testing.TB) *store.DB) {
	ctx := context.Background()
	n := *importRows
	for b.Loop() {
		b.StopTimer()
		db := open(b)
		orgs, ind := org.NewService(db), indicator.NewService(db)
		var by []org.Principal
		for _, cc := range []string{"NL", "DE"} {
			o, err := orgs.Create(ctx, "hotline "+cc, org.Hotline, cc)
			if err != nil {
				b.Fatal(err)
			}
			by = append(by, o.Principal())
		}
		b.StartTimer()
		for i, want := range []indicator.ImportStats{{Created: n}, {Attested: n, Activated: n}} {
			start := time.Now()
			st, err := ind.Import(ctx, indicator.Known, by[i], rows(n), indicator.ImportOptions{})
			if err != nil {
				b.Fatal(err)
			}
			if st.Created != want.Created || st.Attested != want.Attested || st.Activated != want.Activated {
				b.Fatalf("import %d: %+v", i, st)
			}
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), []string{"created_rows/s", "activated_rows/s"}[i])
		}
		start := time.Now()
		count := 0
		if _, err := ind.ForEachActive(ctx, "", func(indicator.Indicator) error { count++; return nil }); err != nil {
			b.Fatal(err)
		}
		if count != n {
			b.Fatalf("%d active, want %d", count, n)
		}
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "loaded_rows/s")
	}
}

// rows yields n distinct PDQ values.
func rows(n int) iter.Seq2[indicator.Row, error] {
	return func(yield func(indicator.Row, error) bool) {
		for i := range n {
			// Spread the values over the key space as real hashes are.
			v := fmt.Sprintf("%016x%016x%016x%016x", uint64(i+1)*0x9e3779b97f4a7c15, i, i, i)
			if !yield(indicator.Row{Line: i + 1, Submission: indicator.Submission{
				Signal: indicator.PDQ, Value: v, Category: indicator.A1, Reference: "case 1234"}}, nil) {
				return
			}
		}
	}
}

// BenchmarkIntake stores hash-only reports from many goroutines as the
// intake API does, on each engine: "draft" creates the sealed draft and
// finishes it (two transactions), "submit" does both in one (?finish=true).
//
//	go test -run '^$' -bench Intake ./internal/store/
func BenchmarkIntake(b *testing.B) {
	for _, e := range []struct {
		name string
		open func(testing.TB) *store.DB
	}{{"sqlite", storetest.OpenSQLite}, {"postgres", storetest.OpenPostgres}} {
		b.Run(e.name+"/draft", func(b *testing.B) { benchIntake(b, e.open, false) })
		b.Run(e.name+"/submit", func(b *testing.B) { benchIntake(b, e.open, true) })
	}
}

func benchIntake(b *testing.B, open func(testing.TB) *store.DB, oneStep bool) {
	ctx := context.Background()
	db := open(b)
	p, err := org.NewService(db).Create(ctx, "provider", org.Provider, "IE")
	if err != nil {
		b.Fatal(err)
	}
	svc := report.NewService(db.Reports(), seal.NewSealer(seal.NewKeyring(), db))
	d := report.Draft{IncidentTime: time.Now().Add(-time.Hour), Type: report.TypeKnown,
		Items:   []report.Item{{Kind: report.ItemHash, Hashes: report.Hashes{SHA256: strings.Repeat("ab", 32)}}},
		Service: report.OnlineService{Type: report.Hosting}, Awareness: report.Awareness{Method: report.AutomatedMatch}}
	b.SetParallelism(16) // 16 goroutines per core, as many clients would
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if oneStep {
				if _, _, err := svc.Submit(ctx, p.ID, "", d); err != nil {
					b.Error(err)
					return
				}
				continue
			}
			r, _, err := svc.CreateDraft(ctx, p.ID, "", d)
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := svc.Finish(ctx, p.ID, r.ID); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "reports/s")
}
