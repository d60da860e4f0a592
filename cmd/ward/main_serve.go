package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/wardhq/ward/docs"
	"github.com/wardhq/ward/internal/access/auth"
	"github.com/wardhq/ward/internal/access/clientip"
	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/ratelimit"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/accountability/complaint"
	"github.com/wardhq/ward/internal/accountability/quarantine"
	"github.com/wardhq/ward/internal/accountability/stats"
	"github.com/wardhq/ward/internal/accountability/witness"
	"github.com/wardhq/ward/internal/cli"
	"github.com/wardhq/ward/internal/hashing/media"
	"github.com/wardhq/ward/internal/httpapi"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/indicator/translog"
	"github.com/wardhq/ward/internal/matching/matcher"
	"github.com/wardhq/ward/internal/platform/jobs"
	"github.com/wardhq/ward/internal/platform/mail"
	"github.com/wardhq/ward/internal/platform/metrics"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/reporting/forward"
	"github.com/wardhq/ward/internal/reporting/report"
	"github.com/wardhq/ward/internal/reporting/triage"
	"github.com/wardhq/ward/internal/takedown"
	"github.com/wardhq/ward/internal/takedown/crawl"
	"github.com/wardhq/ward/internal/takedown/search"
	"github.com/wardhq/ward/internal/victim"
	"github.com/wardhq/ward/internal/web"
)

// Config is what "ward serve" runs with, parsed once from its flags and
// the environment (parseServeConfig, whose help describes each field by
// its flag of the same name).
type Config struct {
	Addr        string // --addr, else $WARD_ADDR; port 0 picks a free one
	MetricsAddr string // --metrics-addr, else $WARD_METRICS_ADDR; "" serves no metrics
	BaseURL     string // --base-url, else $WARD_BASE_URL; "" is http:// and the bound address
	Demo        bool

	MaxThreshold    int
	Poll            time.Duration
	RateKey         float64
	RateIP          float64
	TrustedProxies  clientip.Proxies
	DecodeMemory    int64 // bytes
	BodyMemory      int64 // bytes
	FetchMemory     int64 // bytes
	AuditCheckpoint time.Duration
	// LogOrigin is the prefix of the transparency logs' origins
	// (--log-origin, else $WARD_LOG_ORIGIN); "" is the host of the base
	// URL. RateLog limits each client address's requests to the logs'
	// public routes, per second.
	LogOrigin string
	RateLog   float64
	// Witnesses are sent each log's new checkpoints every
	// WitnessInterval (--witness, --witness-interval).
	Witnesses       []witness.Witnessed
	WitnessInterval time.Duration

	AutoForwardUrgent    bool
	Retention            time.Duration // 0 keeps reports' content
	DeadLetterAfter      time.Duration
	Workers              int
	AllowPrivateWebhooks bool

	// The takedown flow: fetching reported URLs, notices to hosts and
	// the rechecks until removal is verified.
	FetchAllowPrivate bool
	SMTP              *mail.Config // --smtp-url, else $WARD_SMTP_URL; nil sends no e-mail
	RecheckInterval   time.Duration
	RenoticeInterval  time.Duration
	EscalateAfter     time.Duration
	ContentRetention  time.Duration
	// The centre's search: the spacing of its requests to a host, how
	// often due places are looked for, and how long after a URL's case
	// ended it opens no new one.
	SearchDelay       time.Duration
	SearchInterval    time.Duration
	SearchReopenAfter time.Duration
	// VictimDailyHashes is victim.Options.DailyHashes.
	VictimDailyHashes int

	// Quarantine of indicators: after how many providers' false-positive
	// verdicts, and the flood rule (distinct items matched within the
	// window).
	QuarantineAfter int
	FloodMatches    int
	FloodWindow     time.Duration
	// StatisticsInterval is how often the transparency statistics are
	// rolled up (the public figures are at most this old).
	StatisticsInterval time.Duration
	// ComplaintDeadline is how long after receipt a complaint about
	// removed content is due (--complaint-deadline).
	ComplaintDeadline time.Duration

	// Store locates the database (--data, --database) and Keys the key
	// files (--master-key-file, --audit-key-file, --audit-checkpoint-file,
	// --log-key-file), read as the admin commands read them.
	Store *cli.StoreFlags
	Keys  *cli.KeyFlags
}

// Main is the server "ward serve" runs, for the command and for tests and
// benchmarks that start the real server: Run starts it and returns once
// it listens, Addr says where, Close stops it.
type Main struct {
	cfg    Config
	stderr io.Writer
	log    *slog.Logger

	// DemoKey and DemoImage are, with Config.Demo, the demo provider's
	// API key and an image of the demo list to match.
	DemoKey, DemoImage string

	db         *store.DB
	ln         net.Listener
	metricsLn  net.Listener
	srv        *http.Server
	metricsSrv *http.Server
	served     chan struct{} // closed when srv.Serve returns; nil until it runs
	stopBg     context.CancelFunc
	bg         sync.WaitGroup
	failed     chan error
	closeOnce  sync.Once
	closeErr   error
}

// NewMain returns a server for cfg that logs (JSON lines) and writes the
// notes of created keys and the demo to stderr.
func NewMain(cfg Config, stderr io.Writer) *Main {
	return &Main{cfg: cfg, stderr: stderr, log: slog.New(slog.NewJSONHandler(stderr, nil)), failed: make(chan error, 1)}
}

// Addr is the address the API and the console are served on.
func (m *Main) Addr() string { return m.ln.Addr().String() }

// MetricsAddr is the address /metrics is served on, or "" if none.
func (m *Main) MetricsAddr() string {
	if m.metricsLn == nil {
		return ""
	}
	return m.metricsLn.Addr().String()
}

// Failed receives the error that stops the server before Close: serving
// failed, or the match index could not be loaded. Close must still be
// called.
func (m *Main) Failed() <-chan error { return m.failed }

func (m *Main) fail(err error) {
	select {
	case m.failed <- err:
	default: // the first failure is the one to report
	}
}

// Run opens the database (migrating it) and the keys, makes the services,
// opens the listeners, seeds the demo if asked, and starts serving and the
// background work: the match index is loaded, then followed, and the jobs
// and audit checkpoints run once it is loaded (/readyz says when). It
// returns once listening; ctx bounds the start only, Close stops the rest.
// If Run fails, it has released what it opened.
func (m *Main) Run(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	c := m.cfg
	decode := media.NewBudget(c.DecodeMemory, 0, 0)
	// Bodies take memory, not processors: their number is not bounded.
	bodies := media.NewBudget(c.BodyMemory, math.MaxInt32, 0)

	if m.db, err = c.Store.Open(ctx); err != nil {
		return err
	}
	db := m.db
	sealer, err := c.Keys.Sealer(ctx, db)
	if err != nil {
		return err
	}
	// Webhook URLs stored before they were sealed (migration 0012).
	if n, err := forward.SealClearWebhooks(ctx, db, sealer); err != nil {
		return err
	} else if n > 0 {
		m.log.Info("sealed webhook URLs stored in clear", "count", n)
	}
	auditLog, err := c.Keys.AuditLog(ctx, db)
	if err != nil {
		return err
	}
	// Checked now, not at the first checkpoint a minute later.
	if err := audit.CheckCheckpointFile(auditLog.CheckpointFile); err != nil {
		return fmt.Errorf("cannot append to the audit checkpoint file %s (--audit-checkpoint-file or WARD_AUDIT_CHECKPOINT_FILE): %w",
			auditLog.CheckpointFile, err)
	}
	signer, err := c.Keys.SigningKey()
	if err != nil {
		return err
	}
	orgs := org.NewService(db)
	inds := indicator.NewService(db)
	reports := report.NewService(db.Reports(), sealer)
	reports.Decode = decode
	index := matcher.New()
	follower := matcher.NewFollower(index, inds)
	triager := triage.New(db.Triage(), reports, index, triage.Options{AutoForwardUrgent: c.AutoForwardUrgent, Retention: c.Retention})
	forwarder := forward.NewService(db.Forward(), reports, signer)
	forwarder.Audit = auditLog
	if c.AllowPrivateWebhooks {
		forwarder.AllowPrivateWebhooks()
	}
	runner := jobs.NewRunner(db, m.log)
	runner.Concurrency = c.Workers

	api := &httpapi.Server{
		Orgs: orgs, Indicators: inds, Matcher: index, Ready: follower.Ready, Logger: m.log,
		MaxThreshold: c.MaxThreshold, Images: media.DefaultLimits, Decode: decode, Bodies: bodies, OpenAPI: docs.OpenAPI, Audit: auditLog,
		Reports: reports, Directory: orgs, Forward: forwarder,
		KeyLimit: ratelimit.New(c.RateKey, int(2*c.RateKey)),
	}

	if m.ln, err = listen(c.Addr, "--addr", "WARD_ADDR"); err != nil {
		return err
	}
	baseURL := c.BaseURL
	if baseURL == "" {
		baseURL = "http://" + m.Addr()
	}
	if err := m.openLogs(ctx, api, baseURL); err != nil {
		return err
	}
	var mailer takedown.Mailer
	if c.SMTP != nil {
		mailer = smtpMailer{mail.New(*c.SMTP)}
	}
	fetchCfg := crawl.Config{AllowPrivate: c.FetchAllowPrivate, UserAgent: fetcherAgent(baseURL), Memory: crawl.NewMemory(c.FetchMemory)}
	takedowns := takedown.New(db.Takedown(), takedown.Options{
		Fetcher: crawl.New(fetchCfg),
		Matcher: index, Decode: decode, Sealer: sealer, Key: signer, Audit: auditLog, Mailer: mailer,
		Recheck: c.RecheckInterval, Renotice: c.RenoticeInterval, EscalateAfter: c.EscalateAfter,
		ContentRetention: c.ContentRetention, FoundCooldown: c.SearchReopenAfter,
		// With the runner's backoff (1 s, doubling, at most 30 minutes
		// apart) 20 attempts span about 5 hours: a host down for a
		// while does not lose the report.
		FetchAttempts:        20,
		AllowPrivateWebhooks: c.AllowPrivateWebhooks,
		Locate: func(ctx context.Context, rawURL string, addrs []netip.Addr) (takedown.Hosting, error) {
			hosts, err := db.Hosts(ctx)
			return takedown.Locate(hosts, rawURL, addrs), err
		},
		Centre: centreOrg(orgs), BaseURL: baseURL, Reports: reports, Triage: triager, Indicators: inds, Wake: runner.Wake,
	})
	public := ratelimit.DefaultPublic() // one allowance per address, on the API and the console
	api.Takedown, api.PublicLimit = takedowns, public
	quarantines := quarantine.New(db.Quarantines(), quarantine.Options{After: c.QuarantineAfter, FloodMatches: c.FloodMatches,
		FloodWindow: c.FloodWindow, Sealer: sealer, Audit: auditLog})
	sightings := quarantines.NewTracker()
	complaints := complaint.New(db.Complaints(), complaint.Options{Sealer: sealer, Key: signer, Audit: auditLog,
		Deadline: c.ComplaintDeadline, AllowPrivateWebhooks: c.AllowPrivateWebhooks,
		Quarantiner: complaintQuarantine{q: quarantines, centre: centreOrg(orgs)}})
	lookups := ratelimit.DefaultPublicLookup() // a complaint's status, on the API and the console
	api.Quarantine, api.Sightings, api.Complaints, api.LookupLimit = quarantines, sightings, complaints, lookups
	statistics := stats.New(db.Stats(), stats.Options{Progress: func(p stats.Progress) {
		m.log.Info("rolling up the statistics", "day", p.Day.Format(stats.DateLayout), "days_done", p.Done, "days", p.Total,
			"seconds", p.Elapsed.Seconds())
	}})
	statsLimit := ratelimit.DefaultPublicRead() // the API's and the page's, as for reports
	api.Stats, api.StatsLimit = statistics, statsLimit
	victims := victim.New(db.Victims(), inds, victim.Options{Sealer: sealer, Audit: auditLog,
		DailyHashes: c.VictimDailyHashes, Log: m.log})
	// Opening a case and adding hashes share the public allowance, its
	// status and withdrawals the look-ups'; the help services are read
	// as the statistics are.
	api.Victims, api.VictimMatches, api.HelpLimit = victims, victims, ratelimit.DefaultPublicRead()
	registerJobs(runner, db, triager, forwarder, takedowns, quarantines, complaints, statistics, c)
	registerSearch(runner, search.New(db.Search(), search.Options{Fetcher: searchFetcher(fetchCfg, c.SearchDelay),
		Takedown: takedowns, Audit: auditLog}), c)
	if len(c.Witnesses) > 0 {
		registerWitnessing(runner, api.Log, c.Witnesses, c.WitnessInterval)
	}
	var mets *metrics.Metrics
	if c.MetricsAddr != "" {
		if m.metricsLn, err = listen(c.MetricsAddr, "--metrics-addr", "WARD_METRICS_ADDR"); err != nil {
			return err
		}
		mets = newMetrics(index, db, decode, m.log)
		index.Observe = mets.Match
		reports.Observe = mets.Intake
		runner.Observe = mets.Job
		forwarder.Observe = mets.Delivery
		api.WrapRoute = mets.Route
	}
	// The demo is seeded only once the addresses are ours, so that a start
	// that fails changes nothing.
	if c.Demo {
		if m.DemoKey, m.DemoImage, err = seedDemo(ctx, m.stderr, orgs, inds, c.Store.DemoDir()); err != nil {
			return fmt.Errorf("seeding the demo: %w", err)
		}
	}
	console := &web.Server{
		Auth: auth.NewService(db, sealer), Orgs: orgs, Indicators: inds, Audit: auditLog, Logger: m.log, BaseURL: baseURL,
		Triage: triager, Jobs: db, Decode: decode, Takedown: takedowns, PublicLimit: public, LookupLimit: lookups,
		Quarantine: quarantines, Complaints: complaints,
		Stats: statistics, StatsLimit: statsLimit, Victims: victims, Help: victims, HelpLimit: api.HelpLimit,
	}
	if mets != nil {
		console.WrapRoute = mets.Route
	}
	handler, err := rootHandler(api, console, c.RateIP, c.TrustedProxies)
	if err != nil {
		return err
	}
	if mets != nil {
		handler = mets.Middleware(handler)
	}
	m.srv = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute, // uploads of large images on slow links
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
	}
	m.log.Info("listening", "addr", m.Addr(), "database", c.Store.Describe())
	if mets != nil {
		m.metricsSrv = &http.Server{
			Handler:           mets.Server(),
			ReadHeaderTimeout: 10 * time.Second,
			WriteTimeout:      time.Minute,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
		}
		m.log.Info("serving metrics", "addr", m.MetricsAddr())
		go func() {
			if err := m.metricsSrv.Serve(m.metricsLn); !errors.Is(err, http.ErrServerClosed) {
				m.log.Error("serving metrics", "err", err)
			}
		}()
	}

	// The background work outlives the start, until Close.
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	m.stopBg = stop
	m.bg.Go(func() { m.catchUpLogs(bg, api.Log, inds) })
	m.bg.Go(func() {
		start := time.Now()
		if err := follower.Load(bg); err != nil {
			if bg.Err() == nil {
				m.fail(fmt.Errorf("loading the match index: %w", err))
			}
			return
		}
		m.log.Info("match index loaded", "seconds", time.Since(start).Seconds())
		m.bg.Go(func() {
			follower.Run(bg, c.Poll, func(err error) { m.log.Error("following the change feeds", "err", err) })
		})
		m.bg.Go(func() { signCheckpoints(bg, auditLog, c.AuditCheckpoint, m.log) })
		m.bg.Go(func() {
			sightings.Run(bg, quarantine.FlushEvery, func(err error) { m.log.Error("applying the flood rule", "err", err) })
		})
		// Triage matches against the index: it starts once loaded.
		m.bg.Go(func() { runner.Run(bg) })
	})
	m.served = make(chan struct{})
	go func() {
		defer close(m.served)
		if err := m.srv.Serve(m.ln); !errors.Is(err, http.ErrServerClosed) {
			m.fail(err)
		}
	}()
	return nil
}

// openLogs makes the transparency logs' service of the API, signing with
// the log key, and fixes the origin of the logs that have none yet (see
// package translog): the prefix is --log-origin, else the host (and path)
// of baseURL.
func (m *Main) openLogs(ctx context.Context, api *httpapi.Server, baseURL string) error {
	key, err := m.cfg.Keys.LogKey()
	if err != nil {
		return err
	}
	prefix := m.cfg.LogOrigin
	if prefix == "" {
		u, err := url.Parse(baseURL)
		if err != nil {
			return fmt.Errorf("the base URL %q: %w", baseURL, err)
		}
		prefix = u.Host + strings.TrimSuffix(u.EscapedPath(), "/")
	}
	logs, err := translog.New(m.db.Translog(), key, prefix)
	if err != nil {
		return fmt.Errorf("the transparency logs' origin (set it with --log-origin): %w", err)
	}
	notes, err := logs.Init(ctx)
	if err != nil {
		return fmt.Errorf("naming the transparency logs: %w", err)
	}
	for _, n := range notes {
		m.log.Warn(n)
	}
	api.Log = logs
	api.LogLimit = ratelimit.NewPublic(m.cfg.RateLog, int(10*m.cfg.RateLog))
	return nil
}

// logCheckEntries is how many of each log's last entries the start
// compares with the stored hashes and the feeds.
const logCheckEntries = 1000

// catchUpLogs appends to the logs the changes and checkpoints they lack
// (a database from before the logs), logging its progress, and then
// checks the logs against their stored hashes and the lists' feeds,
// warning of each disagreement; the server serves what it has either way.
func (m *Main) catchUpLogs(ctx context.Context, logs *translog.Service, feed translog.Feed) {
	start := time.Now()
	err := logs.CatchUp(ctx, func(p translog.Progress) {
		m.log.Info("catching up the transparency log", "log", p.Log, "through", p.Through, "behind", p.Behind,
			"entries", p.Size, "seconds", p.Elapsed.Seconds())
	})
	if err != nil {
		if ctx.Err() == nil {
			m.log.Error("catching up the transparency logs", "err", err)
		}
		return
	}
	problems, err := logs.Check(ctx, feed, logCheckEntries)
	if err != nil {
		if ctx.Err() == nil {
			m.log.Error("checking the transparency logs", "err", err)
		}
		return
	}
	for _, p := range problems {
		m.log.Warn("the transparency log disagrees with the database", "problem", p)
	}
	m.log.Info("transparency logs checked", "problems", len(problems), "seconds", time.Since(start).Seconds())
}

// Close shuts the server down in the order that loses nothing: the
// listener stops and the requests in flight finish (for 20 seconds at
// most); then the background work is cancelled and awaited, which signs
// the last audit checkpoint; then the metrics listener stops (a scrape
// may be reading the jobs) and the database closes. Calls after the first
// return its result.
func (m *Main) Close() error {
	m.closeOnce.Do(func() { m.closeErr = m.close() })
	return m.closeErr
}

func (m *Main) close() error {
	var errs []error
	if m.served != nil {
		m.log.Info("shutting down")
		shutdown, done := context.WithTimeout(context.Background(), 20*time.Second)
		errs = append(errs, m.srv.Shutdown(shutdown))
		done()
		<-m.served
	} else if m.ln != nil {
		m.ln.Close()
	}
	if m.stopBg != nil {
		m.stopBg()
	}
	m.bg.Wait()
	if m.metricsSrv != nil {
		stop, done := context.WithTimeout(context.Background(), 2*time.Second)
		if m.metricsSrv.Shutdown(stop) != nil {
			m.metricsSrv.Close()
		}
		done()
	} else if m.metricsLn != nil {
		m.metricsLn.Close()
	}
	if m.db != nil {
		errs = append(errs, m.db.Close())
	}
	return errors.Join(errs...)
}

// rootHandler routes the API (/v1/) and the console (the rest) behind the
// rate limit per client address, which spares the probes.
func rootHandler(api *httpapi.Server, console *web.Server, rateIP float64, proxies clientip.Proxies) (http.Handler, error) {
	consoleHandler, err := console.Handler()
	if err != nil {
		return nil, err
	}
	apiHandler := api.Handler()
	limited := http.NewServeMux()
	limited.Handle("/v1/", apiHandler)
	limited.Handle("/", consoleHandler)
	root := http.NewServeMux()
	root.Handle("GET /livez", apiHandler) // probes are never rate limited
	root.Handle("GET /readyz", apiHandler)
	// A refusal is answered as the API or the console answers errors.
	refuse := func(w http.ResponseWriter, r *http.Request, err error) {
		if strings.HasPrefix(r.URL.Path, "/v1/") {
			api.WriteError(w, r, err)
			return
		}
		console.WriteError(w, r, err)
	}
	root.Handle("/", ratelimit.Middleware(ratelimit.New(rateIP, int(2*rateIP)), refuse, limited))
	// The client is resolved once, first: the rate limit, the login
	// lockout and sessions all read it from RemoteAddr.
	return proxies.Middleware(root), nil
}

// newMetrics makes the metrics of the server's index, jobs and decode
// budget.
func newMetrics(index *matcher.Matcher, db *store.DB, decode *media.Budget, log *slog.Logger) *metrics.Metrics {
	return metrics.New(metrics.Options{
		IndexSizes: func() map[string]int {
			sizes := map[string]int{}
			for _, l := range index.Lists() {
				sizes[l] = index.Len(l)
			}
			return sizes
		},
		Jobs: db.JobStats,
		JobKinds: []string{triage.JobTriage, forward.JobRoute, forward.JobPush, forward.JobNotify, triage.JobRetention, jobs.KindPurge,
			takedown.JobFetch, takedown.JobNotice, takedown.JobRefer, takedown.JobRecheck, quarantine.JobPurge, stats.JobRollup,
			forward.JobCorrection, complaint.JobNotify, complaint.JobQuarantine, search.JobDue, search.JobRun},
		DeliveryKinds: map[string]string{forward.JobPush: "push", forward.JobNotify: "notify", forward.JobCorrection: "push"},
		PullRoutes:    []string{"GET /v1/lea/reports/{id}"},
		Decode: func() metrics.DecodeStats {
			s := decode.Stats()
			return metrics.DecodeStats{LimitBytes: s.Limit, InUseBytes: s.InUse, Running: s.Running, Waiting: s.Waiting,
				Refused: uint64(s.Refused), TooLarge: uint64(s.TooLarge)}
		},
		Logger: log,
	})
}
