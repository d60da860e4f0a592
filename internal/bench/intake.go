package bench

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image/jpeg"
	"io"
	"math/rand/v2"
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
	"github.com/wardhq/ward/internal/accountability/quarantine"
	"github.com/wardhq/ward/internal/accountability/stats"
	"github.com/wardhq/ward/internal/hashing/synth"
	"github.com/wardhq/ward/internal/platform/jobs"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/reporting/report"
	"github.com/wardhq/ward/internal/reporting/triage"
	"github.com/wardhq/ward/internal/takedown"
	"github.com/wardhq/ward/internal/takedown/search"
)

// StartServer starts a Ward server (API, report intake and triage, as
// "ward serve" runs them) on a loopback port the system picks, with rate
// limits off, and returns its base URL ("http://127.0.0.1:PORT") once it
// accepts connections, and a function that stops it and returns what
// made it fail, if anything.
type StartServer func(ctx context.Context, c ServerConfig) (baseURL string, stop func() error, err error)

// ServerConfig is what a server started for Intake runs on.
type ServerConfig struct {
	// DataDir is the server's data directory (its keys, and its SQLite
	// database DataDir/ward.db unless PostgresURL is set).
	DataDir string
	// PostgresURL, if set, is the PostgreSQL database to use.
	PostgresURL string
	// Workers is how many background jobs (triage) the server runs at
	// once, competing with intake.
	Workers int
}

// IntakeOptions says what Intake measures. Reports, Concurrency and
// FileSize must be positive.
type IntakeOptions struct {
	Reports     int // hash-only reports to submit, and a tenth as many with a file
	Concurrency int // clients submitting at once
	FileSize    int // approximate size of the JPEG file of each report with a file

	// A server is started with Start on a fresh database: SQLite in a
	// temporary directory, or a schema of its own in the PostgreSQL
	// database at PostgresURL, dropped afterwards.
	Start       StartServer
	PostgresURL string
	Workers     int // the started server's ServerConfig.Workers

	// Or, with Server and a provider's Key, that running server is
	// measured (without the triage rate).
	Server, Key string
}

// IntakeResult is one line of Intake's output, one per kind of report.
type IntakeResult struct {
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

// Intake submits o.Reports hash-only reports (POST /v1/reports?finish=true,
// one request each), then a tenth as many with a 1024x768 JPEG file
// (create, upload, finish: three requests), from o.Concurrency clients,
// waiting after each kind for triage to catch up on a server it started,
// and writes an IntakeResult line for each kind to out.
func Intake(ctx context.Context, o IntakeOptions, out, progress io.Writer) (err error) {
	progress = progressOf(progress)
	engine := "remote"
	var db *store.DB // of the server started here, to see triage keep up
	if o.Server == "" {
		engine = "sqlite"
		if o.PostgresURL != "" {
			engine = "postgres"
		}
		t, startErr := startTarget(ctx, o)
		if t != nil {
			defer func() { err = errors.Join(err, t.close()) }()
		}
		if startErr != nil {
			return startErr
		}
		o.Server, o.Key, db = t.url, t.key, t.db
	}

	file, err := benchJPEG(o.FileSize)
	if err != nil {
		return err
	}
	b := &intakeBench{url: strings.TrimRight(o.Server, "/"), key: o.Key, progress: progress,
		http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.Concurrency}, Timeout: time.Minute}}
	enc := json.NewEncoder(out)
	for _, kind := range []struct {
		name    string
		reports int
		file    []byte
	}{{"hash-only", o.Reports, nil}, {"with-file", max(1, o.Reports/10), file}} {
		fmt.Fprintf(progress, "submitting %d %s reports from %d clients\n", kind.reports, kind.name, o.Concurrency)
		start := time.Now()
		res := b.run(ctx, kind.reports, o.Concurrency, kind.file)
		res.Kind, res.Engine, res.Concurrency = kind.name, engine, o.Concurrency
		if kind.file != nil {
			res.FileBytes = len(kind.file)
		}
		if db != nil {
			fmt.Fprintf(progress, "waiting for triage to catch up\n")
			if err := drained(ctx, db); err != nil {
				return err
			}
			res.TriagedPerS = float64(res.Reports) / time.Since(start).Seconds()
		}
		if err := enc.Encode(res); err != nil {
			return err
		}
		if res.Reports == 0 {
			return fmt.Errorf("no %s report was accepted (%d errors)", kind.name, res.Errors)
		}
	}
	return nil
}

// target is a server started for the benchmark.
type target struct {
	url, key string
	db       *store.DB      // its database, also open here
	undo     []func() error // what close undoes, in the order done
}

// close stops the server and removes what was made for it, last made
// first.
func (t *target) close() error {
	var errs []error
	for _, f := range slices.Backward(t.undo) {
		errs = append(errs, f())
	}
	return errors.Join(errs...)
}

// startTarget starts a server with o.Start on a fresh database with a
// provider and its key, and waits until it is ready. A target returned
// with an error must still be closed.
func startTarget(ctx context.Context, o IntakeOptions) (*target, error) {
	tmp, err := os.MkdirTemp("", "ward-bench-intake-")
	if err != nil {
		return nil, err
	}
	t := &target{undo: []func() error{func() error { return os.RemoveAll(tmp) }}}
	cfg := ServerConfig{DataDir: tmp, Workers: o.Workers}
	url := "sqlite:" + filepath.Join(tmp, "ward.db")
	if o.PostgresURL != "" {
		// A schema of its own: the benchmark starts from nothing and
		// leaves nothing.
		var drop func(context.Context) error
		if url, drop, err = store.NewSchema(ctx, o.PostgresURL, "ward_bench_"); err != nil {
			return t, err
		}
		t.undo = append(t.undo, func() error {
			dctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			return drop(dctx)
		})
		cfg.PostgresURL = url
	}
	if t.db, err = store.Open(ctx, url); err != nil {
		return t, err
	}
	t.undo = append(t.undo, t.db.Close)
	orgs := org.NewService(t.db)
	name := "bench-provider-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if _, err := orgs.Create(ctx, name, org.Provider, "IE"); err != nil {
		return t, err
	}
	if t.key, _, err = orgs.CreateKey(ctx, name, org.KeyOptions{}); err != nil {
		return t, err
	}

	url, stop, err := o.Start(ctx, cfg)
	if err != nil {
		return t, err
	}
	t.url = url
	t.undo = append(t.undo, stop)
	for deadline := time.Now().Add(time.Minute); ; {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/readyz", nil)
		if err != nil {
			return t, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			// It accepted connections: it stopped (stop says why).
			return t, err
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return t, nil
		}
		if time.Now().After(deadline) {
			return t, errors.New("the server did not become ready within a minute")
		}
		select {
		case <-ctx.Done():
			return t, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
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
		delete(pending, takedown.JobRecheck)
		delete(pending, search.JobDue)
		delete(pending, quarantine.JobPurge)
		delete(pending, stats.JobRollup)
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
	progress io.Writer // where the first error is told
}

// run submits reports from conc clients and measures each report's latency.
func (b *intakeBench) run(ctx context.Context, reports, conc int, file []byte) IntakeResult {
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
					errMsg.Do(func() { fmt.Fprintf(b.progress, "first error: %v\n", err) })
				} else {
					lat = append(lat, d)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	res := IntakeResult{Reports: len(lat), Errors: errs}
	if len(lat) > 0 {
		slices.Sort(lat)
		res.PerS = float64(len(lat)) / elapsed.Seconds()
		res.P50ms, res.P99ms = percentiles(lat)
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
