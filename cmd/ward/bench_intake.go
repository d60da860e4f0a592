package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/hashing/synth"
	"github.com/wardhq/ward/internal/platform/jobs"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/reporting/report"
	"github.com/wardhq/ward/internal/reporting/triage"
)

const benchIntakeHelp = `Measures report intake through real HTTP: starts "ward serve" in this process
(SQLite in a temporary directory, or PostgreSQL with --database in a schema of
its own, dropped afterwards; rate limits off; triage running as in
production), registers a provider, and submits --reports hash-only reports
(POST /v1/reports?finish=true, one request each), then a tenth as many with a
1024x768 JPEG file of about --file-size bytes each (create, upload, finish:
three requests), from --concurrency clients. A report counts once its last
request is answered: it is then durably committed. After each kind it waits
for triage to catch up. Prints one JSON line per kind: reports/s, p50 and p99
latency, and the triage rate. With --server and --key it measures a running
server instead (without the triage rate).`

type benchIntakeResult struct {
	Kind        string  `json:"kind"`
	Engine      string  `json:"engine"`
	Reports     int     `json:"reports"`
	Concurrency int     `json:"concurrency"`
	FileBytes   int     `json:"file_bytes,omitempty"`
	PerS        float64 `json:"reports_per_s"`
	P50ms       float64 `json:"p50_ms"`
	P99ms       float64 `json:"p99_ms"`
	Errors      int     `json:"errors"`
	// TriagedPerS is the reports triaged per second from the first
	// submission until the last is triaged: whether triage keeps up.
	TriagedPerS float64 `json:"triaged_per_s,omitempty"`
}

// drained waits until no job but the periodic ones is pending.
func drained(ctx context.Context, db *store.DB) error {
	for {
		pending, err := db.PendingJobs(ctx)
		if err != nil {
			return err
		}
		delete(pending, triage.JobRetention)
		delete(pending, jobs.KindPurge)
		n := 0
		for _, c := range pending {
			n += c
		}
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func benchIntake(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, &command{name: "bench intake", args: "[--reports N] [--concurrency C] [--file-size BYTES] [--workers N] [--database URL | --server URL --key KEY]"}, benchIntakeHelp)
	n := fs.Int("reports", 20000, "hash-only reports to submit (and a tenth as many with a file)")
	conc := fs.Int("concurrency", 32, "clients submitting at once")
	fileSize := fs.Int("file-size", 200_000, "approximate size of the JPEG file of each report with a file")
	database := fs.String("database", "", "PostgreSQL URL to measure on instead of SQLite")
	server := fs.String("server", "", "measure this running server instead of starting one")
	key := fs.String("key", "", "a provider's API key, with --server")
	workers := fs.Int("workers", defaultWorkers, "background jobs (triage) the started server runs at once, competing with intake")
	if rest, err := parseFlags(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, rest[0])
	}
	if *n < 1 || *conc < 1 || *fileSize < 1 {
		return fmt.Errorf("%w: --reports, --concurrency and --file-size must be positive", errUsage)
	}
	if (*server == "") != (*key == "") {
		return fmt.Errorf("%w: --server and --key go together", errUsage)
	}
	engine := "sqlite"
	if *database != "" {
		engine = "postgres"
	}
	var db *store.DB // of the server started here, to see triage keep up
	if *server != "" {
		engine = "remote"
	} else {
		t, err := benchServer(ctx, e, *database, *workers)
		if err != nil {
			return err
		}
		defer t.stop()
		*server, *key, db = t.url, t.key, t.db
	}

	file, err := benchJPEG(*fileSize)
	if err != nil {
		return err
	}
	b := &intakeBench{url: strings.TrimRight(*server, "/"), key: *key,
		http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *conc}, Timeout: time.Minute}}
	out := json.NewEncoder(e.stdout)
	for _, kind := range []struct {
		name    string
		reports int
		file    []byte
	}{{"hash-only", *n, nil}, {"with-file", max(1, *n/10), file}} {
		fmt.Fprintf(e.stderr, "submitting %d %s reports from %d clients\n", kind.reports, kind.name, *conc)
		start := time.Now()
		res := b.run(ctx, kind.reports, *conc, kind.file)
		res.Kind, res.Engine, res.Concurrency = kind.name, engine, *conc
		if kind.file != nil {
			res.FileBytes = len(kind.file)
		}
		if db != nil {
			fmt.Fprintf(e.stderr, "waiting for triage to catch up\n")
			if err := drained(ctx, db); err != nil {
				return err
			}
			res.TriagedPerS = float64(res.Reports) / time.Since(start).Seconds()
		}
		if err := out.Encode(res); err != nil {
			return err
		}
		if res.Reports == 0 {
			return fmt.Errorf("no %s report was accepted (%d errors)", kind.name, res.Errors)
		}
	}
	return nil
}

// benchTarget is a server started for the benchmark.
type benchTarget struct {
	url, key string
	db       *store.DB // its database, also open here
	stop     func()
}

// benchServer starts "ward serve" in this process on a fresh database with a
// provider and its key.
func benchServer(ctx context.Context, e *env, database string, workers int) (*benchTarget, error) {
	tmp, err := os.MkdirTemp("", "ward-bench-intake-")
	if err != nil {
		return nil, err
	}
	cleanup := func() { os.RemoveAll(tmp) }
	storeArgs := []string{"--data", tmp}
	url := "sqlite:" + filepath.Join(tmp, "ward.db")
	if database != "" {
		// A schema of its own: the benchmark starts from nothing and
		// leaves nothing.
		var drop func(context.Context) error
		if url, drop, err = store.NewSchema(ctx, database, "ward_bench_"); err != nil {
			cleanup()
			return nil, err
		}
		cleanup = func() {
			dctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := drop(dctx); err != nil {
				fmt.Fprintln(e.stderr, err)
			}
			os.RemoveAll(tmp)
		}
		storeArgs = append(storeArgs, "--database", url)
	}
	db, err := store.Open(ctx, url)
	if err != nil {
		cleanup()
		return nil, err
	}
	orgs := org.NewService(db)
	name := "bench-provider-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	_, err = orgs.Create(ctx, name, org.Provider, "IE")
	var key string
	if err == nil {
		key, _, err = orgs.CreateKey(ctx, name, org.KeyOptions{})
	}
	if err != nil {
		db.Close()
		cleanup()
		return nil, err
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		db.Close()
		cleanup()
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	sctx, cancel := context.WithCancel(ctx)
	stderr := &syncBuffer{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		args := append([]string{"--addr", addr, "--rate-key", "1e9", "--rate-ip", "1e9", "--workers", strconv.Itoa(workers)}, storeArgs...)
		if err := runServe(sctx, &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: stderr}, args); err != nil {
			fmt.Fprintf(e.stderr, "ward serve: %v\n%s", err, stderr)
		}
	}()
	stop := func() {
		cancel()
		<-done
		db.Close()
		cleanup()
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return &benchTarget{url: "http://" + addr, key: key, db: db, stop: stop}, nil
			}
		}
		select {
		case <-done:
			db.Close()
			cleanup()
			return nil, fmt.Errorf("ward serve did not start:\n%s", stderr)
		case <-time.After(50 * time.Millisecond):
		}
	}
	stop()
	return nil, fmt.Errorf("ward serve did not become ready within a minute")
}

// syncBuffer is a bytes.Buffer safe for a server's goroutines: it
// collects the log of a server run in process.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// benchJPEG returns a synthetic photo-like JPEG of about size bytes: a
// 1024x768 image (a typical upload) with as much sensor-like noise as
// brings it to that size, since a smooth synthetic image compresses far
// better than a photo.
func benchJPEG(size int) ([]byte, error) {
	var b bytes.Buffer
	for noise := 0; ; noise += 2 {
		img := synth.Image(1024, 768, 7)
		r := rand.New(rand.NewPCG(7, 7))
		for i := range img.Pix {
			if i%4 != 3 && noise > 0 {
				img.Pix[i] = uint8(min(255, max(0, int(img.Pix[i])+r.IntN(2*noise+1)-noise)))
			}
		}
		b.Reset()
		if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
			return nil, err
		}
		if b.Len() >= size || noise >= 128 {
			return b.Bytes(), nil
		}
	}
}

type intakeBench struct {
	url, key string
	http     *http.Client
}

// run submits reports from conc clients and measures each report's latency.
func (b *intakeBench) run(ctx context.Context, reports, conc int, file []byte) benchIntakeResult {
	var (
		next   atomic.Int64
		mu     sync.Mutex
		lat    []time.Duration
		errs   int
		wg     sync.WaitGroup
		errMsg sync.Once
	)
	start := time.Now()
	for w := range conc {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), uint64(start.UnixNano())))
			for next.Add(1) <= int64(reports) && ctx.Err() == nil {
				t0 := time.Now()
				err := b.submit(ctx, r, file)
				d := time.Since(t0)
				mu.Lock()
				if err != nil {
					errs++
					errMsg.Do(func() { fmt.Fprintf(os.Stderr, "first error: %v\n", err) })
				} else {
					lat = append(lat, d)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	res := benchIntakeResult{Reports: len(lat), Errors: errs}
	if len(lat) > 0 {
		slices.Sort(lat)
		res.PerS = float64(len(lat)) / elapsed.Seconds()
		res.P50ms = float64(lat[len(lat)/2]) / 1e6
		res.P99ms = float64(lat[len(lat)*99/100]) / 1e6
	}
	return res
}

// submit sends one report: hash-only in one request, or with file in three.
func (b *intakeBench) submit(ctx context.Context, r *rand.Rand, file []byte) error {
	sum := make([]byte, 32)
	for i := range sum {
		sum[i] = byte(r.Uint32())
	}
	d := report.Draft{
		IncidentTime: time.Now().Add(-time.Hour).Truncate(time.Second), Type: report.TypeKnown,
		Items: []report.Item{{Kind: report.ItemHash, Hashes: report.Hashes{SHA256: hex.EncodeToString(sum)}}},
		User: report.User{ID: "user-" + strconv.Itoa(r.IntN(1e6)), Country: "DE",
			IPCaptures: []report.IPCapture{{IP: "203.0.113." + strconv.Itoa(r.IntN(250)), Port: 40000 + r.IntN(20000), Event: report.CaptureUpload}}},
		Service:   report.OnlineService{Type: report.Hosting, URL: "https://example.com"},
		Awareness: report.Awareness{Method: report.AutomatedMatch},
	}
	if file != nil {
		d.Type = report.TypeNew
		d.Items = []report.Item{{Kind: report.ItemFile, FileName: "upload.jpg"}}
	}
	body, err := json.Marshal(d)
	if err != nil {
		return err
	}
	key := hex.EncodeToString(sum[:16]) // a retry of this report would reuse it
	path := "/v1/reports"
	if file == nil {
		path += "?finish=true"
	}
	var created struct {
		ID string `json:"id"`
	}
	if err := b.do(ctx, http.MethodPost, path, "application/json", key, body, &created); err != nil {
		return err
	}
	if !idPattern.MatchString(created.ID) {
		return fmt.Errorf("POST %s: no report id in the answer", path)
	}
	if file == nil {
		return nil
	}
	if err := b.do(ctx, http.MethodPut, "/v1/reports/"+created.ID+"/files/0", "image/jpeg", "", file, nil); err != nil {
		return err
	}
	return b.do(ctx, http.MethodPost, "/v1/reports/"+created.ID+"/finish", "", "", nil, nil)
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9]+$`)

func (b *intakeBench) do(ctx context.Context, method, path, contentType, key string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, b.url+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+b.key)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := b.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(data))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}
