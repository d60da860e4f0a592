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

	"github.com/wardhq/ward/internal/org"
	"github.com/wardhq/ward/internal/report"
	"github.com/wardhq/ward/internal/store"
	"github.com/wardhq/ward/internal/synth"
)

const benchIntakeHelp = `Measures report intake through real HTTP: starts "ward serve" in this process
(SQLite in a temporary directory, or PostgreSQL with --database; rate limits
off; triage running as in production), registers a provider, and submits
--reports hash-only reports (POST /v1/reports?finish=true, one request each),
then --reports/10 reports with a --file-size JPEG file each (create, upload,
finish: three requests), from --concurrency clients. A report counts once its
last request is answered: it is then durably committed. Prints one JSON line
per kind of report. With --server and --key it measures a running server
instead.`

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
}

func benchIntake(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, &command{name: "bench intake", args: "[--reports N] [--concurrency C] [--file-size BYTES] [--database URL | --server URL --key KEY]"}, benchIntakeHelp)
	n := fs.Int("reports", 20000, "hash-only reports to submit (and a tenth as many with a file)")
	conc := fs.Int("concurrency", 32, "clients submitting at once")
	fileSize := fs.Int("file-size", 200_000, "approximate size of the JPEG file of each report with a file")
	database := fs.String("database", "", "PostgreSQL URL to measure on instead of SQLite")
	server := fs.String("server", "", "measure this running server instead of starting one")
	key := fs.String("key", "", "a provider's API key, with --server")
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
	if *server != "" {
		engine = "remote"
	} else {
		url, k, stop, err := benchServer(ctx, e, *database)
		if err != nil {
			return err
		}
		defer stop()
		*server, *key = url, k
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
		res := b.run(ctx, kind.reports, *conc, kind.file)
		res.Kind, res.Engine, res.Concurrency = kind.name, engine, *conc
		if kind.file != nil {
			res.FileBytes = len(kind.file)
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

// benchServer starts "ward serve" in this process on a fresh database with a
// provider and its key, and returns its URL, the key and how to stop it.
func benchServer(ctx context.Context, e *env, database string) (string, string, func(), error) {
	tmp, err := os.MkdirTemp("", "ward-bench-intake-")
	if err != nil {
		return "", "", nil, err
	}
	storeArgs := []string{"--data", tmp}
	url := "sqlite:" + filepath.Join(tmp, "ward.db")
	if database != "" {
		storeArgs = append(storeArgs, "--database", database)
		url = database
	}
	db, err := store.Open(ctx, url)
	if err != nil {
		os.RemoveAll(tmp)
		return "", "", nil, err
	}
	orgs := org.NewService(db)
	name := "bench-provider-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	_, err = orgs.Create(ctx, name, org.Provider, "IE")
	var key string
	if err == nil {
		key, _, err = orgs.CreateKey(ctx, name, org.KeyOptions{})
	}
	db.Close()
	if err != nil {
		os.RemoveAll(tmp)
		return "", "", nil, err
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.RemoveAll(tmp)
		return "", "", nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	sctx, cancel := context.WithCancel(ctx)
	stderr := &syncWriter{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		args := append([]string{"--addr", addr, "--rate-key", "1e9", "--rate-ip", "1e9"}, storeArgs...)
		if err := runServe(sctx, &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: stderr}, args); err != nil {
			fmt.Fprintf(e.stderr, "ward serve: %v\n%s", err, stderr)
		}
	}()
	stop := func() {
		cancel()
		<-done
		os.RemoveAll(tmp)
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return "http://" + addr, key, stop, nil
			}
		}
		select {
		case <-done:
			os.RemoveAll(tmp)
			return "", "", nil, fmt.Errorf("ward serve did not start:\n%s", stderr)
		case <-time.After(50 * time.Millisecond):
		}
	}
	stop()
	return "", "", nil, fmt.Errorf("ward serve did not become ready within a minute")
}

// syncWriter collects a server's log for an error message.
type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.b.Len() > 1<<20 {
		return len(p), nil
	}
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// benchJPEG returns a synthetic JPEG of about size bytes: the larger the
// image, the larger the file, so it grows the image until it is.
func benchJPEG(size int) ([]byte, error) {
	var b bytes.Buffer
	for w := 64; ; w += w / 4 {
		b.Reset()
		if err := jpeg.Encode(&b, synth.Image(w, w*3/4, 7), &jpeg.Options{Quality: 95}); err != nil {
			return nil, err
		}
		if b.Len() >= size || w > 8000 {
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
		IncidentTime: time.Now().Add(-time.Hour).Truncate(time.Second), Type: report.Known,
		Items: []report.Item{{Kind: report.KindHash, Hashes: report.Hashes{SHA256: hex.EncodeToString(sum)}}},
		User: report.User{ID: "user-" + strconv.Itoa(r.IntN(1e6)), Country: "DE",
			IPCaptures: []report.IPCapture{{IP: "203.0.113." + strconv.Itoa(r.IntN(250)), Port: 40000 + r.IntN(20000), Event: report.EventUpload}}},
		Service:   report.OnlineService{Type: report.Hosting, URL: "https://example.com"},
		Awareness: report.Awareness{Method: report.AutomatedMatch},
	}
	if file != nil {
		d.Type = report.New
		d.Items = []report.Item{{Kind: report.KindFile, FileName: "upload.jpg"}}
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
