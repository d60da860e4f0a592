package metrics

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/platform/jobs"
	"github.com/wardhq/ward/internal/reporting/report"
)

// scrape reads the metrics m serves, over HTTP on loopback, as
// `name{labels}` → value, with the labels as Prometheus writes them
// (sorted by name).
func scrape(t *testing.T, m *Metrics) map[string]float64 {
	t.Helper()
	srv := httptest.NewServer(m.Server())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s", resp.Status)
	}
	return parse(t, bufio.NewScanner(resp.Body))
}

func parse(t *testing.T, sc *bufio.Scanner) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

func want(t *testing.T, got map[string]float64, series string, v float64) {
	t.Helper()
	if g, ok := got[series]; !ok || g != v {
		t.Errorf("%s = %v (present: %v), want %v", series, g, ok, v)
	}
}

// TestDecode: the decode budget's metrics come from the callback at each
// scrape, and exist only when one is given.
func TestDecode(t *testing.T) {
	for name := range scrape(t, New(Options{})) {
		if strings.HasPrefix(name, "ward_decode_") {
			t.Errorf("decode metric %s without a callback", name)
		}
	}
	stats := DecodeStats{LimitBytes: 1 << 30, InUseBytes: 300 << 20, Running: 2, Waiting: 1, Refused: 7, TooLarge: 3}
	m := New(Options{Decode: func() DecodeStats { return stats }})
	got := scrape(t, m)
	want(t, got, "ward_decode_budget_bytes", 1<<30)
	want(t, got, "ward_decode_in_use_bytes", 300<<20)
	want(t, got, "ward_decode_running", 2)
	want(t, got, "ward_decode_waiting", 1)
	want(t, got, `ward_decode_refused_total{reason="busy"}`, 7)
	want(t, got, `ward_decode_refused_total{reason="too_large"}`, 3)
	stats.Refused, stats.Running = 9, 0
	got = scrape(t, m)
	want(t, got, `ward_decode_refused_total{reason="busy"}`, 9)
	want(t, got, "ward_decode_running", 0)
}

type otherKey struct{}

// TestHTTP: requests are labelled by the pattern of the route that
// answered them, never by their path; others by "none"; downloads on the
// pull routes count as deliveries.
func TestHTTP(t *testing.T) {
	m := New(Options{PullRoutes: []string{"GET /packages/{id}"}})
	mux := http.NewServeMux()
	handle := func(pattern string, status int) {
		mux.Handle(pattern, m.Route(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
		})))
	}
	handle("GET /items/{id}", http.StatusOK)
	handle("POST /items", http.StatusCreated)
	handle("GET /packages/{id}", http.StatusOK)
	// A middleware between the two that copies the request, as
	// WithContext does, does not lose the route.
	copying := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), otherKey{}, 1)))
	})
	srv := httptest.NewServer(m.Middleware(copying))
	defer srv.Close()
	for _, r := range []struct{ method, path string }{
		{"GET", "/items/1"}, {"GET", "/items/2"}, {"GET", "/items/3"}, {"POST", "/items"},
		{"GET", "/nowhere"}, {"GET", "/packages/x"},
	} {
		req, _ := http.NewRequest(r.method, srv.URL+r.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	got := scrape(t, m)
	want(t, got, `ward_http_requests_total{code="200",route="GET /items/{id}"}`, 3)
	want(t, got, `ward_http_requests_total{code="201",route="POST /items"}`, 1)
	want(t, got, `ward_http_requests_total{code="404",route="none"}`, 1)
	want(t, got, `ward_http_request_duration_seconds_count{route="GET /items/{id}"}`, 3)
	want(t, got, `ward_deliveries_total{channel="pull",outcome="downloaded"}`, 1)
	for name := range got {
		if strings.Contains(name, "/items/1") {
			t.Errorf("a path in a label: %s", name)
		}
	}
}

// TestEvents: the hooks of the matcher, the report service and the job
// runner count what they are told.
func TestEvents(t *testing.T) {
	m := New(Options{DeliveryKinds: map[string]string{"delivery.push": "push"}})
	// Before anything happens, the series exist at 0.
	got := scrape(t, m)
	want(t, got, `ward_deliveries_total{channel="push",outcome="dead_lettered"}`, 0)
	want(t, got, `ward_intake_reports_total{event="retracted"}`, 0)
	want(t, got, `ward_match_items_total{signal="sha256"}`, 0)

	m.Match(indicator.PDQ, 3*time.Millisecond, 2)
	m.Match(indicator.PDQ, time.Microsecond, 0)
	m.Match(indicator.MD5, time.Microsecond, 1)
	for _, e := range []report.IntakeEvent{report.IntakeCreated, report.IntakeCreated, report.IntakeFinished, report.IntakeFile} {
		m.Intake(e)
	}
	for _, err := range []error{errors.New("503"), errors.New("timeout"), nil} {
		m.Delivery("push", err)
	}
	for _, o := range []jobs.Outcome{jobs.Retry, jobs.Retry, jobs.Dead, jobs.Done, jobs.Interrupted} {
		m.Job("delivery.push", o)
	}
	m.Job("report.triage", jobs.Done)
	got = scrape(t, m)
	want(t, got, `ward_match_items_total{signal="pdq"}`, 2)
	want(t, got, `ward_match_items_hit_total{signal="pdq"}`, 1)
	want(t, got, `ward_match_items_hit_total{signal="md5"}`, 1)
	want(t, got, `ward_match_duration_seconds_count{signal="pdq"}`, 2)
	want(t, got, `ward_match_duration_seconds_bucket{signal="pdq",le="1.6e-05"}`, 1)
	want(t, got, `ward_intake_reports_total{event="created"}`, 2)
	want(t, got, `ward_intake_reports_total{event="finished"}`, 1)
	want(t, got, `ward_intake_files_total`, 1)
	want(t, got, `ward_deliveries_total{channel="push",outcome="failed"}`, 2)
	want(t, got, `ward_deliveries_total{channel="push",outcome="dead_lettered"}`, 1)
	want(t, got, `ward_deliveries_total{channel="push",outcome="delivered"}`, 1)
	want(t, got, `ward_job_attempts_total{kind="delivery.push",outcome="interrupted"}`, 1)
	want(t, got, `ward_job_attempts_total{kind="report.triage",outcome="done"}`, 1)
	if _, ok := got[`ward_deliveries_total{channel="triage",outcome="delivered"}`]; ok {
		t.Error("triage counted as a delivery")
	}
}

// TestGauges: index sizes and the job queue are read at scrape; the known
// kinds read 0 when they have no jobs; a failing query leaves the jobs'
// metrics out of the scrape, not the others.
func TestGauges(t *testing.T) {
	now := time.Now()
	var fail error
	m := New(Options{
		IndexSizes: func() map[string]int { return map[string]int{"known": 12, "baseline": 0} },
		Jobs: func(ctx context.Context, at time.Time) ([]jobs.KindStats, error) {
			if _, ok := ctx.Deadline(); !ok {
				t.Error("the jobs' query has no deadline")
			}
			return []jobs.KindStats{{Kind: "report.triage", Pending: 4, Running: 1, Dead: 2, OldestDue: now.Add(-time.Minute)}}, fail
		},
		JobKinds: []string{"report.triage", "delivery.push"},
	})
	got := scrape(t, m)
	want(t, got, `ward_index_indicators{list="known"}`, 12)
	want(t, got, `ward_index_indicators{list="baseline"}`, 0)
	want(t, got, `ward_jobs{kind="report.triage",state="pending"}`, 4)
	want(t, got, `ward_jobs{kind="report.triage",state="running"}`, 1)
	want(t, got, `ward_jobs{kind="report.triage",state="dead"}`, 2)
	want(t, got, `ward_jobs{kind="delivery.push",state="pending"}`, 0)
	want(t, got, `ward_jobs_oldest_due_age_seconds{kind="delivery.push"}`, 0)
	if age := got[`ward_jobs_oldest_due_age_seconds{kind="report.triage"}`]; age < 60 || age > 120 {
		t.Errorf("age of the oldest due triage: %v s, want about 60", age)
	}

	fail = errors.New("database unreachable")
	got = scrape(t, m)
	if _, ok := got[`ward_jobs{kind="report.triage",state="pending"}`]; ok {
		t.Error("jobs' metrics served although their query failed")
	}
	want(t, got, `ward_index_indicators{list="known"}`, 12)
	if _, ok := got["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}
}

// TestCatalogue: every metric served is in the catalogue with its type,
// and the README documents every one.
func TestCatalogue(t *testing.T) {
	m := New(Options{
		IndexSizes:    func() map[string]int { return map[string]int{"l": 1} },
		Jobs:          func(context.Context, time.Time) ([]jobs.KindStats, error) { return nil, nil },
		JobKinds:      []string{"k"},
		DeliveryKinds: map[string]string{"k": "push"},
		PullRoutes:    []string{"GET /p"},
		Decode:        func() DecodeStats { return DecodeStats{} },
	})
	m.Job("k", jobs.Done)
	api := httptest.NewServer(m.Middleware(m.Route("GET /p", http.NotFoundHandler())))
	defer api.Close()
	if resp, err := http.Get(api.URL + "/p"); err == nil {
		resp.Body.Close()
	}
	srv := httptest.NewServer(m.Server())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	types := map[string]string{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 4 && f[1] == "TYPE" && strings.HasPrefix(f[2], "ward_") {
			types[f[2]] = f[3]
		}
	}
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range Catalogue {
		if types[d.Name] != d.Type {
			t.Errorf("%s is served as %q, catalogued as %q", d.Name, types[d.Name], d.Type)
		}
		delete(types, d.Name)
		if !strings.Contains(string(readme), "`"+d.Name+"`") {
			t.Errorf("README does not document %s", d.Name)
		}
	}
	for name := range types {
		t.Errorf("%s is served but not catalogued", name)
	}
}
