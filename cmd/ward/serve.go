package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wardhq/ward/internal/access/clientip"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/accountability/complaint"
	"github.com/wardhq/ward/internal/accountability/quarantine"
	"github.com/wardhq/ward/internal/accountability/stats"
	"github.com/wardhq/ward/internal/accountability/witness"
	"github.com/wardhq/ward/internal/cli"
	"github.com/wardhq/ward/internal/demo"
	"github.com/wardhq/ward/internal/indicator/translog"
	"github.com/wardhq/ward/internal/platform/jobs"
	"github.com/wardhq/ward/internal/platform/mail"
	"github.com/wardhq/ward/internal/platform/metrics"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/reporting/forward"
	"github.com/wardhq/ward/internal/reporting/triage"
	"github.com/wardhq/ward/internal/takedown"
	"github.com/wardhq/ward/internal/takedown/search"
	"github.com/wardhq/ward/internal/victim"
)

const serveArgs = "[--addr HOST:PORT] [--data DIR | --database URL] [--demo] [--metrics-addr HOST:PORT] [--trusted-proxies CIDR,...]"

var serveCommand = &cli.Command{
	Name:    "serve",
	Args:    serveArgs,
	Summary: "run the server: match API, lists, report intake, triage, forwarding, takedown, console",
	Run:     runServe,
}

const serveHelp = `Runs Ward's server. Data is kept in an embedded SQLite database under --data
(created on first start) or in PostgreSQL with --database (or WARD_DATABASE_URL).
Migrations run at start. The match index is loaded from the database, then kept
current from the lists' change feeds; /readyz answers 200 once it is loaded.

The server also runs the background jobs of report handling, claimed from the
database so that any number of nodes share them: triage of finished reports,
routing and pushing forwarded reports to authorities (retried with backoff,
given up after --dead-letter-after and shown in the console), provider
notifications, and retention (--retention). Pushes connect only to public
addresses, checked when connecting (a webhook on a loopback, private,
link-local or CGNAT address, or a name resolving to one, is refused), unless
--allow-private-webhooks, for tests and closed networks.

URLs reported to the hotline channel (the public page /report, partner
hotlines' API) are fetched by jobs with what their pages embed, hashed and
matched, located (the registered host, the hosting country) and queued for
assessment. The fetcher connects only to public addresses (with
--fetch-allow-private also to loopback and private ones) and holds at most
--fetch-memory of fetched content at once (a fetch that cannot start waits,
then is retried later). Notices of illegal content go to the host's webhook
(signed) or, with --smtp-url, by e-mail; each noticed URL is fetched again
every --recheck-interval and the notice sent again every --renotice-interval
until rechecks find the content gone; past --escalate-after the case is
flagged for a removal order. Fetched content is kept sealed, only of images
and videos that matched no known material, until the assessment, and never
longer than --content-retention.

The centre's search (ward admin search) fetches the places it is given on
their schedules, looked for every --search-interval: from each place's URL,
the pages and the links on the same host down to the place's depth, up to its
maximum of pages, with what they embed, through the same fetcher (public
addresses only unless --fetch-allow-private, --fetch-memory) with its requests
to any one host at least --search-delay apart, in all runs together; one run
at a time per node, for at most an hour. Every resource is matched against
every list, victim-reported included, and a page where something matched
becomes a takedown case, fetched and assessed like a reported URL; a URL with
an open case gets no second one, nor one whose case was closed or removed less
than --search-reopen-after ago. Each node paces its own requests.

Victims' cases (/v1/public/victim-cases and /help/case, docs/victims.md) add,
all together, at most --victim-daily-hashes new hashes to the list
victim-reported in any 24 hours: past it, opening a case or adding hashes is
refused (503) and a warning is logged, so that a flood of hashes cannot fill
the list.

Providers say which matches were wrong (POST /v1/match-feedback). An active
indicator is quarantined when false-positive verdicts of --quarantine-after
distinct providers count, or when it matched more than --flood-matches distinct
items within --flood-window from at least two providers, each provider's items
counting for at most half of --flood-matches plus one: no single provider can
take an indicator out of matching for everyone. Items are counted per provider
on every node, by a hash of the queried hash that matched the indicator, never
the item. The centre's staff may also quarantine one by hand. A quarantined
indicator stops matching on every node within a poll of the change feeds
(--poll) and leaves providers' mirrors, until a reviewer confirms it (active
again; the verdicts and items that counted are answered and count no more, and
the same verdict sent again stays answered) or withdraws it.

Complaints about removed content (the public's, and providers' on a person's
behalf) are due for a reviewer's decision --complaint-deadline after receipt.
An upheld complaint tells the provider's webhook to reinstate the content,
quarantines the indicators involved and corrects the report with the
authorities it went to (pushed to their webhooks).

The public statistics (the page /transparency and GET /v1/public/statistics)
are counted by a job every --statistics-interval: each run counts today and the
days not yet final from the tables of the flows, and a day becomes final a day
after its end. The first run on a database with years of data counts every day
since the first event, logging its progress, and resumes where it stopped.

Victims hash their images on /help/remove (no account; only the hashes are
sent) into the list victim-reported, and follow their case on /help/case; the
hashes are reported in the name of the centre's organisation, which "ward admin
init" (or --demo) creates.

--demo also creates two demo hotlines (in different countries), a demo provider
with an API key (printed), the centre's organisation if there is none, and a few indicators of benign generated images,
written as PNG files to DATA/demo so that they can be matched at once. The key
is kept in DATA/demo/provider.key and printed again on later starts, so a demo
has one key however often it starts; delete the file (or revoke the key) for a
new one.

Uploaded images (POST /v1/hash-match, report files, and TIFF or PNM files
the console shows) are decoded within one budget: a decode starts when the
memory its header says it needs fits in --decode-memory beside the decodes
running, at most GOMAXPROCS at once. One that cannot start within 3 seconds
gets 503 with Retry-After; an image that alone needs more than the whole
budget is refused with 413 (a report file is then kept, hashed by digests
only).
The bodies of those uploads are held in memory while they are used, so
they too are admitted within --body-memory, by their size (twice for a
report file, which is also sealed) before they are read; one that cannot
start within 3 seconds gets 503 with Retry-After.

Every list has a transparency log (docs/translog.md): each activation,
quarantine, release and withdrawal of an active indicator is appended, in the
transaction of the change, to a Merkle tree whose checkpoints the key in
--log-key-file (by default DATA/log.key, created on first start) signs, served
in the formats of C2SP tlog-checkpoint and tlog-tiles under
/v1/lists/NAME/log/; the audit trail's checkpoints have one at /v1/audit/log/.
A log's origin is --log-origin (by default the host of --base-url) followed by
/lists/NAME or /audit, fixed in the database at the log's first start with the
key's public half: a server with another key does not start. A
database from before the logs is caught up at start, in the background, with
its progress logged; then the last entries of each log are checked against
their hashes and the lists, and each disagreement is logged as a warning.
With --witness, every --witness-interval each log's checkpoint is sent to the
witnesses (C2SP tlog-witness, such as 'ward witness'), with a consistency
proof from the size each holds, and their cosignatures are stored and served
after the log's signature: providers can then require them (ward sync
--require-witnesses). A witness that refuses a checkpoint, as a fork or a
rewritten log, is logged as an error at each attempt.

The audit trail's head is signed every --audit-checkpoint; each checkpoint is
stored in the database and, if the head changed, appended to
--audit-checkpoint-file (by default audit.checkpoints beside the audit key,
which must be writable at start), which 'ward admin audit verify' reads.
Nodes sharing a database each keep their own file.

--metrics-addr serves Prometheus metrics at /metrics on a listener of its own
(off by default). It has no authentication: bind it to a loopback or private
address that only the monitoring can reach, never a public one. The public
listener has no /metrics. The metrics are listed below.

Requests are limited (--rate-ip) and failed logins counted per client address
(an IPv6 address's /64). Behind a reverse proxy or load balancer every request
comes from its address: list its ranges in --trusted-proxies, and for requests
from them the client is the right-most address in X-Forwarded-For that is not
itself in those ranges (the proxies must append to the header, as nginx's
$proxy_add_x_forwarded_for and most balancers do). The header is ignored from
any other peer, and entirely by default.

Environment: WARD_ADDR, WARD_DATABASE_URL, WARD_DECODE_MEMORY, WARD_BODY_MEMORY,
WARD_AUDIT_CHECKPOINT_FILE, WARD_LOG_KEY_FILE, WARD_LOG_ORIGIN, WARD_METRICS_ADDR,
WARD_TRUSTED_PROXIES, WARD_SMTP_URL, WARD_FETCH_MEMORY.`

// runServe is "ward serve": the server runs from its start until ctx is
// done (a signal) or it fails, and then shuts down.
func runServe(ctx context.Context, e *cli.Env, args []string) error {
	cfg, err := parseServeConfig(e, args)
	if err != nil {
		return err
	}
	m := NewMain(cfg, e.Stderr)
	if err := m.Run(ctx); err != nil {
		return err
	}
	fmt.Fprintf(e.Stderr, "ward: serving on http://%s\n", m.Addr())
	if addr := m.MetricsAddr(); addr != "" {
		fmt.Fprintf(e.Stderr, "ward: metrics on http://%s/metrics\n", addr)
	}
	if cfg.Demo {
		fmt.Fprintf(e.Stderr, "ward: demo provider key (kept in %s): %s\nward: try: go run ./cmd/ward match --server http://%s --key %s %s\n",
			demo.KeyPath(cfg.Store.DemoDir()), m.DemoKey, m.Addr(), m.DemoKey, m.DemoImage)
	}
	var failed error
	select {
	case <-ctx.Done():
	case failed = <-m.Failed():
	}
	return errors.Join(failed, m.Close())
}

// parseServeConfig reads the flags of "ward serve", with the environment
// where a flag is not given.
func parseServeConfig(e *cli.Env, args []string) (Config, error) {
	fs := cli.NewFlagSet(e, &cli.Command{Name: "serve", Args: serveArgs},
		serveHelp+"\n\nMetrics (besides the Go runtime's go_* and the process's process_*):\n"+strings.TrimRight(metrics.Text(), "\n"))
	c := Config{Store: cli.AddStoreFlags(fs), Keys: cli.AddKeyFlags(fs)}
	c.Keys.AddCheckpointFileFlag()
	c.Keys.AddLogKeyFlag()
	fs.StringVar(&c.LogOrigin, "log-origin", os.Getenv("WARD_LOG_ORIGIN"), "prefix of the transparency logs' origins, such as ward.example.org: the known list's log is PREFIX/lists/known (default the host of --base-url; $WARD_LOG_ORIGIN); fixed in the database at a log's first start")
	witnesses := fs.String("witness", os.Getenv("WARD_WITNESS"), "witnesses to send each new checkpoint of every log to, as `URL=VKEY[,URL=VKEY...]` (VKEY: the witness's key, from ward witness); their cosignatures are served with the checkpoints ($WARD_WITNESS)")
	fs.DurationVar(&c.WitnessInterval, "witness-interval", 30*time.Second, "how often the logs' checkpoints are sent to the --witness witnesses")
	fs.Float64Var(&c.RateLog, "rate-log", 20, "requests per second allowed per client address to the transparency logs' public routes (bursts of ten times as many)")
	fs.StringVar(&c.Addr, "addr", cli.EnvOr("WARD_ADDR", cli.DefaultAddr), "address to listen on")
	fs.BoolVar(&c.Demo, "demo", false, "seed demo organisations, a provider key and demo indicators")
	fs.IntVar(&c.MaxThreshold, "max-threshold", 64, "largest PDQ threshold a request may ask for")
	fs.DurationVar(&c.Poll, "poll", 250*time.Millisecond, "how often the change feeds are read into the match index")
	fs.StringVar(&c.BaseURL, "base-url", os.Getenv("WARD_BASE_URL"), "external URL of the console, for enrolment links (default http://ADDR; $WARD_BASE_URL)")
	fs.Float64Var(&c.RateKey, "rate-key", 100, "requests per second allowed per API key (bursts of twice as many)")
	fs.Float64Var(&c.RateIP, "rate-ip", 200, "requests per second allowed per client IP address (bursts of twice as many)")
	fs.DurationVar(&c.AuditCheckpoint, "audit-checkpoint", time.Minute, "how often the audit trail's head is signed (stored in the database and appended to --audit-checkpoint-file)")
	fs.BoolVar(&c.AutoForwardUrgent, "auto-forward-urgent", false, "forward urgent reports at triage, without waiting for an analyst")
	retention := fs.String("retention", "0", "delete the content of reports this long after their decision, such as 730d (0 keeps it)")
	fs.DurationVar(&c.DeadLetterAfter, "dead-letter-after", forward.DeadAfter, "give up a background job (a push to a webhook, a triage) that fails this long; staff see and retry it in the console")
	fs.IntVar(&c.Workers, "workers", cli.DefaultWorkers, "background jobs (triage, deliveries) run at once by this node")
	decodeMemory := fs.String("decode-memory", cli.EnvOr("WARD_DECODE_MEMORY", "1GiB"), "memory all image decodes may use together, such as 1GiB or 512MiB ($WARD_DECODE_MEMORY)")
	fetchMemory := fs.String("fetch-memory", cli.EnvOr("WARD_FETCH_MEMORY", "512MiB"), "memory the fetcher of reported URLs may hold in fetched content, all fetches together ($WARD_FETCH_MEMORY)")
	bodyMemory := fs.String("body-memory", cli.EnvOr("WARD_BODY_MEMORY", "512MiB"), "memory the bodies of uploads being received and hashed may use together ($WARD_BODY_MEMORY)")
	fs.BoolVar(&c.AllowPrivateWebhooks, "allow-private-webhooks", false, "let pushes connect to loopback, private and link-local addresses (tests, closed networks); refused by default")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", os.Getenv("WARD_METRICS_ADDR"), "serve Prometheus metrics at /metrics on this address, unauthenticated: keep it private (default off; $WARD_METRICS_ADDR)")
	fs.BoolVar(&c.FetchAllowPrivate, "fetch-allow-private", false, "let the fetcher of reported URLs connect to loopback, private and link-local addresses (tests, closed networks); refused by default")
	// The environment is read after parsing, not shown as the default,
	// because the URL holds a password.
	smtpURL := fs.String("smtp-url", "", "send notices to hosts by e-mail through this server: smtp://USER:PASSWORD@HOST:587?from=ADDR or smtps://... (default none; $WARD_SMTP_URL)")
	recheck := fs.String("recheck-interval", "6h", "how often a noticed URL is fetched again until its removal is verified, such as 6h")
	renotice := fs.String("renotice-interval", "24h", "how often a notice is sent again until removal is verified, such as 24h")
	contentRetention := fs.String("content-retention", "30d", "delete the content fetched for a takedown case this long after the fetch, assessed or not (its hashes stay), such as 30d")
	statsEvery := fs.String("statistics-interval", stats.DefaultEvery.String(), "how often the public statistics are rolled up (they are at most this old), such as 5m")
	fs.DurationVar(&c.SearchDelay, "search-delay", search.DefaultDelay, "the least time between two requests of the centre's search to one host")
	fs.DurationVar(&c.SearchInterval, "search-interval", search.DefaultInterval, "how often the centre's search looks for places due to be searched")
	reopenAfter := fs.String("search-reopen-after", "30d", "the centre's search opens no new case for a URL whose case was closed or removed less than this long ago, such as 30d")
	escalate := fs.String("escalate-after", "7d", "flag a case for a removal order when its content is still up this long after the first notice, such as 7d")
	fs.IntVar(&c.QuarantineAfter, "quarantine-after", quarantine.DefaultAfter, "quarantine an indicator when this many distinct providers call its matches false positives")
	fs.IntVar(&c.VictimDailyHashes, "victim-daily-hashes", victim.DefaultDailyHashes, "the most new hashes victims' cases may add, all together, in any 24 hours")
	fs.IntVar(&c.FloodMatches, "flood-matches", quarantine.DefaultFloodMatches, "quarantine an indicator that matches more than this many distinct items within --flood-window, from at least two providers")
	floodWindow := fs.String("flood-window", "1h", "the window of --flood-matches, such as 1h or 1d")
	complaintDeadline := fs.String("complaint-deadline", "14d", "a complaint about removed content is due for a reviewer's decision this long after it was received, such as 14d")
	trustedProxies := fs.String("trusted-proxies", os.Getenv("WARD_TRUSTED_PROXIES"), "CIDR[,CIDR...] of reverse proxies whose X-Forwarded-For names the client (default none; $WARD_TRUSTED_PROXIES)")
	if rest, err := cli.ParseFlags(fs, args); err != nil {
		return Config{}, err
	} else if len(rest) > 0 {
		return Config{}, fmt.Errorf("%w: unexpected argument %q", cli.ErrUsage, rest[0])
	}
	if c.MaxThreshold < 0 || c.MaxThreshold > 128 {
		return Config{}, fmt.Errorf("%w: --max-threshold must be 0 to 128", cli.ErrUsage)
	}
	if c.RateKey <= 0 || c.RateIP <= 0 || c.RateLog <= 0 || c.AuditCheckpoint <= 0 || c.DeadLetterAfter <= 0 || c.Workers < 1 {
		return Config{}, fmt.Errorf("%w: --rate-key, --rate-ip, --rate-log, --audit-checkpoint, --dead-letter-after and --workers must be positive", cli.ErrUsage)
	}
	if c.LogOrigin != "" {
		if err := translog.CheckOrigin(c.LogOrigin); err != nil || strings.HasSuffix(c.LogOrigin, "/") {
			return Config{}, fmt.Errorf("%w: --log-origin %q must be a host name and perhaps a path, without spaces, '+' or a final '/'", cli.ErrUsage, c.LogOrigin)
		}
	}
	var err error
	if c.Witnesses, err = witness.ParseWitnesses(*witnesses); err != nil || c.WitnessInterval <= 0 {
		return Config{}, fmt.Errorf("%w: --witness %q: want URL=VKEY,... (%v), and a positive --witness-interval", cli.ErrUsage, *witnesses, err)
	}
	if c.Retention, err = parseRetention(*retention); err != nil {
		return Config{}, err
	}
	for _, d := range []struct {
		flag string
		in   string
		out  *time.Duration
	}{{"--recheck-interval", *recheck, &c.RecheckInterval}, {"--renotice-interval", *renotice, &c.RenoticeInterval},
		{"--escalate-after", *escalate, &c.EscalateAfter}, {"--content-retention", *contentRetention, &c.ContentRetention},
		{"--complaint-deadline", *complaintDeadline, &c.ComplaintDeadline},
		{"--statistics-interval", *statsEvery, &c.StatisticsInterval}, {"--search-reopen-after", *reopenAfter, &c.SearchReopenAfter}} {
		if *d.out, err = parsePeriod(d.in); err != nil || *d.out <= 0 {
			return Config{}, fmt.Errorf("%w: %s %q is not a positive duration in days (7d) or a Go duration (6h)", cli.ErrUsage, d.flag, d.in)
		}
	}
	if c.SearchDelay < 0 || c.SearchInterval <= 0 {
		return Config{}, fmt.Errorf("%w: --search-delay must not be negative, and --search-interval must be positive", cli.ErrUsage)
	}
	if c.QuarantineAfter < 1 || c.FloodMatches < 1 || c.VictimDailyHashes < 1 {
		return Config{}, fmt.Errorf("%w: --quarantine-after, --flood-matches and --victim-daily-hashes must be at least 1", cli.ErrUsage)
	}
	if c.FloodWindow, err = parsePeriod(*floodWindow); err != nil || c.FloodWindow <= 0 {
		return Config{}, fmt.Errorf("%w: --flood-window %q is not a positive duration in days (1d) or a Go duration (1h)", cli.ErrUsage, *floodWindow)
	}
	if *smtpURL == "" {
		*smtpURL = os.Getenv("WARD_SMTP_URL")
	}
	if *smtpURL != "" {
		sc, err := mail.ParseURL(*smtpURL)
		if err != nil {
			return Config{}, fmt.Errorf("%w: --smtp-url: %v", cli.ErrUsage, err)
		}
		c.SMTP = &sc
	}
	if c.TrustedProxies, err = clientip.ParseProxies(*trustedProxies); err != nil {
		return Config{}, fmt.Errorf("%w: --trusted-proxies: %v", cli.ErrUsage, err)
	}
	if c.DecodeMemory, err = parseBytes(*decodeMemory); err != nil {
		return Config{}, fmt.Errorf("%w: --decode-memory: %v", cli.ErrUsage, err)
	}
	if c.BodyMemory, err = parseBytes(*bodyMemory); err != nil {
		return Config{}, fmt.Errorf("%w: --body-memory: %v", cli.ErrUsage, err)
	}
	if c.FetchMemory, err = parseBytes(*fetchMemory); err != nil {
		return Config{}, fmt.Errorf("%w: --fetch-memory: %v", cli.ErrUsage, err)
	}
	return c, nil
}

// keepDoneJobs is how long finished jobs stay in the table, for operators
// looking into what ran; reports keep their own history.
const keepDoneJobs = 7 * 24 * time.Hour

// registerJobs gives the runner the handlers of the report handling's jobs,
// which the store queues in the transactions of the changes needing them.
func registerJobs(r *jobs.Runner, db *store.DB, t *triage.Service, f *forward.Service, td *takedown.Service, q *quarantine.Service,
	cs *complaint.Service, st *stats.Service, c Config) {
	deadAfter := c.DeadLetterAfter
	byRef := func(h func(ctx context.Context, ref string) error) jobs.Handler {
		return func(ctx context.Context, j jobs.Job) error { return h(ctx, j.Ref) }
	}
	r.Register(jobs.Spec{Kind: triage.JobTriage, Handle: byRef(t.Triage), DeadAfter: deadAfter})
	r.Register(jobs.Spec{Kind: forward.JobRoute, Handle: byRef(f.Route), DeadAfter: deadAfter, MaxBackoff: forward.MaxBackoff})
	r.Register(jobs.Spec{Kind: forward.JobPush, Handle: byRef(f.Push), DeadAfter: deadAfter, MaxBackoff: forward.MaxBackoff})
	r.Register(jobs.Spec{Kind: forward.JobNotify, Handle: byRef(f.Notify), DeadAfter: deadAfter, MaxBackoff: forward.MaxBackoff})
	r.Register(jobs.Spec{Kind: forward.JobCorrection, Handle: byRef(f.PushCorrection), DeadAfter: deadAfter, MaxBackoff: forward.MaxBackoff})
	r.Register(jobs.Spec{Kind: complaint.JobNotify, Handle: byRef(cs.Notify), DeadAfter: deadAfter, MaxBackoff: forward.MaxBackoff})
	r.Register(jobs.Spec{Kind: complaint.JobQuarantine, Handle: byRef(cs.Quarantine), DeadAfter: deadAfter, MaxBackoff: forward.MaxBackoff})
	r.Register(jobs.Spec{Kind: triage.JobRetention, Handle: func(ctx context.Context, _ jobs.Job) error { return t.Retain(ctx) }})
	r.Periodic(triage.JobRetention, time.Hour)
	r.Register(jobs.Spec{Kind: jobs.KindPurge, Handle: func(ctx context.Context, _ jobs.Job) error {
		_, err := db.PurgeJobs(ctx, time.Now().Add(-keepDoneJobs))
		return err
	}})
	r.Periodic(jobs.KindPurge, time.Hour)
	r.Register(jobs.Spec{Kind: takedown.JobFetch, Handle: byRef(td.Fetch), DeadAfter: deadAfter, MaxBackoff: forward.MaxBackoff})
	r.Register(jobs.Spec{Kind: takedown.JobNotice, Handle: byRef(td.SendNotice), DeadAfter: deadAfter, MaxBackoff: forward.MaxBackoff})
	r.Register(jobs.Spec{Kind: takedown.JobRefer, Handle: byRef(td.Refer), DeadAfter: deadAfter, MaxBackoff: forward.MaxBackoff})
	r.Register(jobs.Spec{Kind: takedown.JobRecheck, Handle: func(ctx context.Context, _ jobs.Job) error { return td.RecheckDue(ctx) }})
	// The sweep finds the items due; it runs at least as often as they
	// fall due, and every minute at most.
	r.Periodic(takedown.JobRecheck, max(time.Second, min(time.Minute, c.RecheckInterval)))
	r.Register(jobs.Spec{Kind: quarantine.JobPurge, Handle: func(ctx context.Context, _ jobs.Job) error { return q.PurgeSightings(ctx) }})
	r.Periodic(quarantine.JobPurge, quarantine.PurgeEvery)
	r.Register(jobs.Spec{Kind: stats.JobRollup, Handle: func(ctx context.Context, _ jobs.Job) error { return st.Rollup(ctx) }})
	r.Periodic(stats.JobRollup, c.StatisticsInterval)
}

// parseRetention reads a retention period: a Go duration ("8760h") or a
// number of days ("730d"); "0" keeps reports' content forever.
func parseRetention(s string) (time.Duration, error) {
	d, err := parsePeriod(s)
	if err != nil {
		return 0, fmt.Errorf("%w: --retention %q is neither days (730d) nor a duration (8760h)", cli.ErrUsage, s)
	}
	return d, nil
}

// parsePeriod reads a period: a Go duration ("6h") or a number of days
// ("7d"), not negative.
func parsePeriod(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err == nil && n >= 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	} else if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return d, nil
	}
	return 0, fmt.Errorf("%q is neither days (7d) nor a duration (6h)", s)
}

// parseBytes reads a size in bytes: a whole number with an optional unit,
// KiB, MiB or GiB (powers of 1024) or KB, MB or GB (powers of 1000).
func parseBytes(s string) (int64, error) {
	num := strings.TrimRight(s, "KMGiB")
	mult, ok := map[string]int64{"": 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30,
		"KB": 1e3, "MB": 1e6, "GB": 1e9}[s[len(num):]]
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if !ok || err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size such as 1GiB, 512MiB or 100000000", s)
	}
	return n * mult, nil
}

// signCheckpoints signs the audit trail's head periodically and once more
// when the server stops, so that truncation of the trail is detectable.
func signCheckpoints(ctx context.Context, l *audit.Log, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := l.Checkpoint(final); err != nil {
				log.Error("signing the audit checkpoint", "err", err)
			}
			return
		case <-t.C:
			if _, err := l.Checkpoint(ctx); err != nil && ctx.Err() == nil {
				log.Error("signing the audit checkpoint", "err", err)
			}
		}
	}
}

// listen opens a listener, saying how to choose another address when
// this one is taken.
func listen(addr, flagName, envName string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("%s is in use (is another ward serve running?); choose another address with %s or %s", addr, flagName, envName)
	} else if err != nil {
		return nil, fmt.Errorf("listening on %s (%s or %s): %w", addr, flagName, envName, err)
	}
	return ln, nil
}
