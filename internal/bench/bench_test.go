package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/bench"
	"github.com/wardhq/ward/internal/hashing/media"
	"github.com/wardhq/ward/internal/httpapi"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/matching/hashindex"
	"github.com/wardhq/ward/internal/matching/matcher"
	"github.com/wardhq/ward/internal/platform/jobs"
	"github.com/wardhq/ward/internal/platform/seal"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/reporting/report"
	"github.com/wardhq/ward/internal/reporting/triage"
)

// lines decodes out's JSON lines, checking that each has exactly the
// fields of want's keys, and that those of want's values are equal.
func lines(t *testing.T, out *bytes.Buffer, n int, want map[string]any, fields ...string) []map[string]any {
	t.Helper()
	var got []map[string]any
	dec := json.NewDecoder(out)
	for {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		got = append(got, m)
	}
	if len(got) != n {
		t.Fatalf("%d lines, want %d: %v", len(got), n, got)
	}
	for _, m := range got {
		for _, f := range fields {
			if _, ok := m[f].(float64); !ok {
				t.Errorf("field %s = %v, want a number", f, m[f])
			}
		}
		for k, v := range want {
			if m[k] != v {
				t.Errorf("field %s = %v, want %v", k, m[k], v)
			}
		}
	}
	return got
}

func TestHash(t *testing.T) {
	var out bytes.Buffer
	if err := bench.Hash(t.Context(), bench.HashOptions{Workers: 2, Count: 2}, &out, nil); err != nil {
		t.Fatal(err)
	}
	got := lines(t, &out, 2, map[string]any{"images": 2.0, "failed": 0.0, "workers": 2.0},
		"wall_s", "images_per_s", "read_ms_per_image", "decode_ms_per_image", "hash_ms_per_image", "cpu_ms_per_image", "one_core_images_per_s")
	if got[0]["set"] != "jpeg-1024x768-q85" || got[1]["set"] != "png-512x512" {
		t.Errorf("sets %v and %v", got[0]["set"], got[1]["set"])
	}
}

func TestMatch(t *testing.T) {
	var out bytes.Buffer
	o := bench.MatchOptions{N: 2000, Queries: 100, Threshold: 31, Data: hashindex.Uniform, Seed: 1, Workers: 2}
	if err := bench.Match(t.Context(), o, &out, nil); err != nil {
		t.Fatal(err)
	}
	lines(t, &out, 1, map[string]any{"n": 2000.0, "threshold": 31.0, "data": "uniform", "recall": 1.0, "mismatches": 0.0, "queries": 100.0},
		"build_s", "mem_bytes", "p50_us", "p99_us", "qps", "brute_p50_us")
}

func TestHTTP(t *testing.T) {
	var out bytes.Buffer
	o := bench.HTTPOptions{N: 1000, Items: 10, Concurrency: 2, Duration: 200 * time.Millisecond}
	if err := bench.HTTP(t.Context(), o, &out, nil); err != nil {
		t.Fatal(err)
	}
	m := lines(t, &out, 1, map[string]any{"n": 1000.0, "items_per_request": 10.0, "concurrency": 2.0, "errors": 0.0},
		"build_s", "requests", "items_per_s", "p50_ms", "p99_ms", "matched_items")[0]
	// Half the items are near-duplicates of indicators, the others match
	// nothing.
	if req, matched := m["requests"].(float64), m["matched_items"].(float64); req < 1 || matched != req*5 {
		t.Errorf("%v requests of 10 items, %v matched", req, matched)
	}
}

func TestIntake(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			o := bench.IntakeOptions{Reports: 20, Concurrency: 4, FileSize: 1000, Start: startServer(t), Workers: 4}
			if engine == "postgres" {
				o.PostgresURL = storetest.PostgresURL(t)
			}
			var out, progress bytes.Buffer
			if err := bench.Intake(t.Context(), o, &out, &progress); err != nil {
				t.Fatalf("%v\n%s", err, &progress)
			}
			got := lines(t, &out, 2, map[string]any{"engine": engine, "concurrency": 4.0, "errors": 0.0},
				"reports_per_s", "p50_ms", "p99_ms", "triaged_per_s")
			if got[0]["kind"] != "hash-only" || got[0]["reports"] != 20.0 || got[0]["file_bytes"] != nil {
				t.Errorf("first line %v, want 20 hash-only reports", got[0])
			}
			if got[1]["kind"] != "with-file" || got[1]["reports"] != 2.0 || got[1]["file_bytes"].(float64) < 1000 {
				t.Errorf("second line %v, want 2 reports with a file of 1000 bytes or more", got[1])
			}
		})
	}
}

// startServer returns a bench.StartServer serving the API and triage as
// "ward serve" does, which this package cannot import.
func startServer(t *testing.T) bench.StartServer {
	return func(ctx context.Context, c bench.ServerConfig) (string, func() error, error) {
		url := c.PostgresURL
		if url == "" {
			url = "sqlite:" + filepath.Join(c.DataDir, "ward.db")
		}
		db, err := store.Open(ctx, url)
		if err != nil {
			return "", nil, err
		}
		log := slog.New(slog.NewTextHandler(t.Output(), nil))
		orgs := org.NewService(db)
		reports := report.NewService(db.Reports(), seal.NewSealer(seal.NewKeyring(), db))
		m := matcher.New()
		api := &httpapi.Server{Orgs: orgs, Indicators: indicator.NewService(db), Matcher: m, Ready: func() bool { return true },
			Logger: log, Images: media.DefaultLimits, Audit: audit.NewLog(db, nil), Reports: reports, Directory: orgs}
		tr := triage.New(db.Triage(), reports, m, triage.Options{})
		runner := jobs.NewRunner(db, log)
		runner.Concurrency = c.Workers
		runner.Register(jobs.Spec{Kind: triage.JobTriage, Handle: func(ctx context.Context, j jobs.Job) error { return tr.Triage(ctx, j.Ref) }})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			db.Close()
			return "", nil, err
		}
		ctx, cancel := context.WithCancel(ctx)
		ran := make(chan struct{})
		go func() {
			defer close(ran)
			runner.Run(ctx)
		}()
		srv := &http.Server{Handler: api.Handler()}
		go srv.Serve(ln)
		return "http://" + ln.Addr().String(), func() error {
			cancel()
			<-ran
			return errors.Join(srv.Close(), db.Close())
		}, nil
	}
}

// TestIntakeServerStopped checks that a server that stops before it is
// ready fails the benchmark at once, with what stop said.
func TestIntakeServerStopped(t *testing.T) {
	start := func(context.Context, bench.ServerConfig) (string, func() error, error) {
		// Port 0 refuses connections, as a server gone after listening.
		return "http://127.0.0.1:0", func() error { return errors.New("the index did not load") }, nil
	}
	err := bench.Intake(t.Context(), bench.IntakeOptions{Reports: 1, Concurrency: 1, FileSize: 1, Start: start}, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "the index did not load") {
		t.Errorf("error %v, want the server's", err)
	}
}
