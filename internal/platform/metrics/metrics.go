// Package metrics owns Ward's Prometheus metrics: their definitions, a
// registry of their own (never the global default, so that nothing a
// dependency registers is exposed by accident) and the handler that
// serves them. Domain packages do not import it, nor Prometheus: they
// expose small hooks (matcher.Matcher.Observe, report.Service.Observe,
// jobs.Runner.Observe, the route wrappers of httpapi and web) that
// cmd/ward connects to the methods here; gauges of state (index sizes,
// the job queue, the decode budget) are read from callbacks at scrape.
//
// Catalogue lists every metric with its type, labels and meaning; the
// README and "ward serve --help" show it.
package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/platform/jobs"
	"github.com/wardhq/ward/internal/reporting/report"
)

// Def documents one metric.
type Def struct {
	Name, Type string
	Labels     []string
	Help       string
}

// Catalogue is every metric of Ward's own (the Go runtime's go_* and the
// process's process_* metrics are served too). The metrics are built from
// it, so that the documentation cannot drift from what is served.
var Catalogue = []Def{
	{"ward_http_requests_total", "counter", []string{"route", "code"},
		`HTTP requests answered, API and console, by route pattern (such as "GET /v1/reports/{id}"; "none" for requests that reached no route: unknown paths, refused by the rate limiter) and status code.`},
	{"ward_http_request_duration_seconds", "histogram", []string{"route"},
		"Time to answer an HTTP request, by route pattern."},
	{"ward_match_duration_seconds", "histogram", []string{"signal"},
		"Time to match one item (pdq, md5 or sha256) against the index, API and triage alike."},
	{"ward_match_items_total", "counter", []string{"signal"},
		"Items matched against the index."},
	{"ward_match_items_hit_total", "counter", []string{"signal"},
		"Items that matched at least one indicator."},
	{"ward_index_indicators", "gauge", []string{"list"},
		"Active indicators in the match index, by list."},
	{"ward_intake_reports_total", "counter", []string{"event"},
		"Reports created, finished (submitted to the centre) and retracted by providers; retries returning an earlier answer are not counted."},
	{"ward_intake_files_total", "counter", nil,
		"Report files uploaded."},
	{"ward_jobs", "gauge", []string{"kind", "state"},
		"Background jobs by kind and state: pending (waiting, due or not), running (leased now) or dead (given up, waiting for a person)."},
	{"ward_jobs_oldest_due_age_seconds", "gauge", []string{"kind"},
		"How long the earliest due pending job of a kind has waited; 0 when none is due. Growing means the workers fall behind."},
	{"ward_job_attempts_total", "counter", []string{"kind", "outcome"},
		"Attempts at background jobs by outcome: done, retry (failed, will be retried), dead (given up) or interrupted (by shutdown)."},
	{"ward_deliveries_total", "counter", []string{"channel", "outcome"},
		"Deliveries: POSTs of reports to authorities' webhooks (channel push) and of events to providers' webhooks (notify), delivered or failed (each failed attempt), and those given up (dead_lettered); reports downloaded by authorities (channel pull, outcome downloaded)."},
	{"ward_decode_budget_bytes", "gauge", nil,
		"Memory the image decodes may use at once (--decode-memory)."},
	{"ward_decode_in_use_bytes", "gauge", nil,
		"Estimated peak memory of the image decodes running now."},
	{"ward_decode_running", "gauge", nil,
		"Image decodes running now."},
	{"ward_decode_waiting", "gauge", nil,
		"Image decodes waiting for the budget."},
	{"ward_decode_refused_total", "counter", []string{"reason"},
		"Image decodes refused: busy (503, the budget stayed full) or too_large (the image alone needs more than the whole budget)."},
}

// Text formats the catalogue for "ward serve --help".
func Text() string {
	var b strings.Builder
	for _, d := range Catalogue {
		labels := ""
		if len(d.Labels) > 0 {
			labels = "{" + strings.Join(d.Labels, ",") + "}"
		}
		fmt.Fprintf(&b, "  %s%s (%s)\n", d.Name, labels, d.Type)
		line := "     "
		for _, w := range strings.Fields(d.Help) {
			if len(line)+1+len(w) > 78 {
				b.WriteString(line + "\n")
				line = "     "
			}
			line += " " + w
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

func def(name string) Def {
	for _, d := range Catalogue {
		if d.Name == name {
			return d
		}
	}
	panic("metrics: no metric " + name + " in the catalogue")
}

func desc(name string) *prometheus.Desc {
	d := def(name)
	return prometheus.NewDesc(d.Name, d.Help, d.Labels, nil)
}

func counterVec(name string) *prometheus.CounterVec {
	d := def(name)
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: d.Name, Help: d.Help}, d.Labels)
}

func histogramVec(name string, buckets []float64) *prometheus.HistogramVec {
	d := def(name)
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: d.Name, Help: d.Help, Buckets: buckets}, d.Labels)
}

// DecodeStats is the state of the image decode budget.
type DecodeStats struct {
	LimitBytes, InUseBytes int64
	Running, Waiting       int
	Refused                uint64 // busy: waited too long, since the start
	TooLarge               uint64 // needing more than the whole budget, since the start
}

// Options are the sources of the metrics read at scrape; each is optional,
// and its metrics are served only when it is set.
type Options struct {
	// IndexSizes returns the number of active indicators of each list.
	IndexSizes func() map[string]int
	// Jobs returns the state of the job queue at now (one query; see
	// store.DB.JobStats). JobKinds are reported even when they have no
	// jobs, as zeros, so that an alert on them has a series to watch.
	Jobs     func(ctx context.Context, now time.Time) ([]jobs.KindStats, error)
	JobKinds []string
	// DeliveryKinds names the delivery channel (push, notify) of the job
	// kinds that are deliveries.
	DeliveryKinds map[string]string
	// PullRoutes are the route patterns whose successful answers are
	// downloads of reports by authorities.
	PullRoutes []string
	// Decode returns the state of the decode budget.
	Decode func() DecodeStats
	// Logger logs what goes wrong while serving the metrics.
	Logger *slog.Logger
}

// Metrics holds the registry and the metrics that are counted as things
// happen. Its methods are safe for concurrent use.
type Metrics struct {
	reg        *prometheus.Registry
	logger     *slog.Logger
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	matchDur   *prometheus.HistogramVec
	matchItems *prometheus.CounterVec
	matchHits  *prometheus.CounterVec
	bySignal   map[indicator.Signal]matchSeries
	intake     *prometheus.CounterVec
	files      prometheus.Counter
	attempts   *prometheus.CounterVec
	deliveries *prometheus.CounterVec
	delivery   map[string]string
	pulls      map[string]bool
}

type matchSeries struct {
	duration    prometheus.Observer
	items, hits prometheus.Counter
}

// Request latencies from a probe (sub-millisecond) to an upload of a
// large file on a slow link.
var httpBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 120}

// One item's match takes microseconds (a digest) to a fraction of a
// second (a dihedral PDQ search of a large index at a high threshold).
var matchBuckets = prometheus.ExponentialBuckets(1e-6, 4, 11)

// New returns the metrics, registered with a new registry together with
// the Go runtime's and the process's collectors.
func New(o Options) *Metrics {
	m := &Metrics{
		reg:        prometheus.NewRegistry(),
		logger:     o.Logger,
		requests:   counterVec("ward_http_requests_total"),
		duration:   histogramVec("ward_http_request_duration_seconds", httpBuckets),
		intake:     counterVec("ward_intake_reports_total"),
		attempts:   counterVec("ward_job_attempts_total"),
		deliveries: counterVec("ward_deliveries_total"),
		delivery:   o.DeliveryKinds,
		pulls:      map[string]bool{},
	}
	if m.logger == nil {
		m.logger = slog.New(slog.DiscardHandler)
	}
	files := def("ward_intake_files_total")
	m.files = prometheus.NewCounter(prometheus.CounterOpts{Name: files.Name, Help: files.Help})
	m.matchDur = histogramVec("ward_match_duration_seconds", matchBuckets)
	m.matchItems = counterVec("ward_match_items_total")
	m.matchHits = counterVec("ward_match_items_hit_total")
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.duration, m.matchDur, m.matchItems, m.matchHits,
		m.intake, m.files, m.attempts, m.deliveries,
	)

	// Series that exist from the start read 0 rather than being absent,
	// and the match path needs no label look-up per item.
	m.bySignal = map[indicator.Signal]matchSeries{}
	for _, s := range []indicator.Signal{indicator.PDQ, indicator.MD5, indicator.SHA256} {
		m.bySignal[s] = m.matchSeries(s)
	}
	for _, e := range []report.IntakeEvent{report.IntakeCreated, report.IntakeFinished, report.IntakeRetracted} {
		m.intake.WithLabelValues(string(e))
	}
	for _, ch := range o.DeliveryKinds {
		for _, out := range []string{"delivered", "failed", "dead_lettered"} {
			m.deliveries.WithLabelValues(ch, out)
		}
	}
	for _, p := range o.PullRoutes {
		m.pulls[p] = true
		m.deliveries.WithLabelValues("pull", "downloaded")
	}

	if o.IndexSizes != nil {
		m.reg.MustRegister(&indexCollector{desc: desc("ward_index_indicators"), sizes: o.IndexSizes})
	}
	if o.Jobs != nil {
		m.reg.MustRegister(&jobsCollector{
			jobs: desc("ward_jobs"), age: desc("ward_jobs_oldest_due_age_seconds"),
			stats: o.Jobs, kinds: o.JobKinds,
		})
	}
	if o.Decode != nil {
		m.reg.MustRegister(&decodeCollector{
			budget: desc("ward_decode_budget_bytes"), inUse: desc("ward_decode_in_use_bytes"),
			running: desc("ward_decode_running"), waiting: desc("ward_decode_waiting"),
			refused: desc("ward_decode_refused_total"), stats: o.Decode,
		})
	}
	return m
}

func (m *Metrics) matchSeries(s indicator.Signal) matchSeries {
	return matchSeries{
		duration: m.matchDur.WithLabelValues(string(s)),
		items:    m.matchItems.WithLabelValues(string(s)),
		hits:     m.matchHits.WithLabelValues(string(s)),
	}
}

// Handler serves the metrics in Prometheus's formats. A collector that
// fails (the database is unreachable) is logged and left out; the others
// are still served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:            slog.NewLogLogger(m.logger.Handler(), slog.LevelError),
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4, // each scrape of the jobs runs a query
		Timeout:             10 * time.Second,
	})
}

// Server returns the handler of the metrics listener: /metrics, and
// nothing else.
func (m *Metrics) Server() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	return mux
}

// Match is matcher.Matcher.Observe.
func (m *Metrics) Match(sig indicator.Signal, took time.Duration, matches int) {
	s, ok := m.bySignal[sig]
	if !ok {
		s = m.matchSeries(sig)
	}
	s.duration.Observe(took.Seconds())
	s.items.Inc()
	if matches > 0 {
		s.hits.Inc()
	}
}

// Intake is report.Service.Observe.
func (m *Metrics) Intake(e report.IntakeEvent) {
	if e == report.IntakeFile {
		m.files.Inc()
		return
	}
	m.intake.WithLabelValues(string(e)).Inc()
}

// Job is jobs.Runner.Observe. A job of a delivery kind given up is a
// delivery dead-lettered.
func (m *Metrics) Job(kind string, o jobs.Outcome) {
	m.attempts.WithLabelValues(kind, string(o)).Inc()
	if ch, ok := m.delivery[kind]; ok && o == jobs.Dead {
		m.deliveries.WithLabelValues(ch, "dead_lettered").Inc()
	}
}

// Delivery is forward.Service.Observe: a POST to a webhook of the channel
// answered, delivered unless err.
func (m *Metrics) Delivery(channel string, err error) {
	outcome := "delivered"
	if err != nil {
		outcome = "failed"
	}
	m.deliveries.WithLabelValues(channel, outcome).Inc()
}

type routeKey struct{}

// routeSlot is where Route writes the pattern of the route that a request
// reached, for Middleware to read once the request is answered.
type routeSlot struct{ pattern string }

// Middleware counts and times the requests next answers, labelled by the
// pattern of the route that answered (see Route).
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		slot := &routeSlot{}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), routeKey{}, slot)))
		route := slot.pattern
		if route == "" {
			route = "none"
		}
		code := sw.status
		if code == 0 {
			code = http.StatusOK
		}
		m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
		m.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
		if code < 300 && m.pulls[route] {
			m.deliveries.WithLabelValues("pull", "downloaded").Inc()
		}
	})
}

// Route marks the requests h answers as those of the route pattern, for
// Middleware: the wrapper httpapi.Server and web.Server apply to each of
// their routes.
func (m *Metrics) Route(pattern string, h http.Handler) http.Handler {
	m.duration.WithLabelValues(pattern) // served from the start, at 0
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s, ok := r.Context().Value(routeKey{}).(*routeSlot); ok {
			s.pattern = pattern
		}
		h.ServeHTTP(w, r)
	})
}

// statusWriter records the status of a response. Unwrap lets
// http.ResponseController reach the connection's own writer (deadlines,
// flushes of streamed downloads).
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 { // 1xx are interim
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type indexCollector struct {
	desc  *prometheus.Desc
	sizes func() map[string]int
}

func (c *indexCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *indexCollector) Collect(ch chan<- prometheus.Metric) {
	for list, n := range c.sizes() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), list)
	}
}

// jobsTimeout bounds the query of a scrape: a database too slow for it
// leaves the jobs' metrics out of that scrape rather than hold it.
const jobsTimeout = 5 * time.Second

type jobsCollector struct {
	jobs, age *prometheus.Desc
	stats     func(ctx context.Context, now time.Time) ([]jobs.KindStats, error)
	kinds     []string
}

func (c *jobsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.jobs; ch <- c.age }

func (c *jobsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), jobsTimeout)
	defer cancel()
	now := time.Now()
	stats, err := c.stats(ctx, now)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.jobs, err)
		return
	}
	byKind := map[string]jobs.KindStats{}
	for _, k := range c.kinds {
		byKind[k] = jobs.KindStats{Kind: k}
	}
	for _, s := range stats {
		byKind[s.Kind] = s
	}
	for kind, s := range byKind {
		for _, st := range []struct {
			state string
			n     int
		}{{"pending", s.Pending}, {"running", s.Running}, {"dead", s.Dead}} {
			ch <- prometheus.MustNewConstMetric(c.jobs, prometheus.GaugeValue, float64(st.n), kind, st.state)
		}
		age := 0.0
		if !s.OldestDue.IsZero() {
			age = max(now.Sub(s.OldestDue).Seconds(), 0)
		}
		ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, age, kind)
	}
}

type decodeCollector struct {
	budget, inUse, running, waiting, refused *prometheus.Desc
	stats                                    func() DecodeStats
}

func (c *decodeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.budget
	ch <- c.inUse
	ch <- c.running
	ch <- c.waiting
	ch <- c.refused
}

func (c *decodeCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	ch <- prometheus.MustNewConstMetric(c.budget, prometheus.GaugeValue, float64(s.LimitBytes))
	ch <- prometheus.MustNewConstMetric(c.inUse, prometheus.GaugeValue, float64(s.InUseBytes))
	ch <- prometheus.MustNewConstMetric(c.running, prometheus.GaugeValue, float64(s.Running))
	ch <- prometheus.MustNewConstMetric(c.waiting, prometheus.GaugeValue, float64(s.Waiting))
	ch <- prometheus.MustNewConstMetric(c.refused, prometheus.CounterValue, float64(s.Refused), "busy")
	ch <- prometheus.MustNewConstMetric(c.refused, prometheus.CounterValue, float64(s.TooLarge), "too_large")
}
