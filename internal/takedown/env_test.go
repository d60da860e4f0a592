package takedown_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/core/coretest"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/hashing/filehash"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/matching/matcher"
	"github.com/wardhq/ward/internal/platform/seal"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/reporting/forward"
	"github.com/wardhq/ward/internal/reporting/report"
	"github.com/wardhq/ward/internal/reporting/triage"
	"github.com/wardhq/ward/internal/takedown"
	"github.com/wardhq/ward/internal/takedown/crawl"
)

// httpFetcher is a small real-HTTP takedown.Fetcher for the tests, until
// package crawl's (which refuses loopback and pins addresses) replaces it
// in the server: GET with redirects, a byte limit, and from an HTML page
// the images of its <img src>.
type httpFetcher struct{ c *http.Client }

func newHTTPFetcher() *httpFetcher {
	return &httpFetcher{c: &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(_ *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errors.New("too many redirects")
		}
		return nil
	}}}
}

func (f *httpFetcher) Get(ctx context.Context, raw string) crawl.Resource {
	r := crawl.Resource{URL: raw, FinalURL: raw}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		r.Err = err
		return r
	}
	resp, err := f.c.Do(req)
	if err != nil {
		r.Err = err
		return r
	}
	defer resp.Body.Close()
	r.Status, r.FinalURL = resp.StatusCode, resp.Request.URL.String()
	if a, err := netip.ParseAddr(resp.Request.URL.Hostname()); err == nil {
		r.Addr = a
	}
	if r.Status == http.StatusNotFound || r.Status == http.StatusGone {
		r.Gone = true
		return r
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		r.Err = err
		return r
	}
	r.Body, r.ContentType = body, http.DetectContentType(body)
	return r
}

var imgSrc = regexp.MustCompile(`<img src="([^"]+)"`)

func (f *httpFetcher) Fetch(ctx context.Context, raw string) (crawl.Result, error) {
	if u, err := url.Parse(raw); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return crawl.Result{}, errors.New("not an http URL")
	}
	res := crawl.Result{Page: f.Get(ctx, raw)}
	if res.Page.Body == nil || !strings.HasPrefix(res.Page.ContentType, "text/html") {
		return res, nil
	}
	base, _ := url.Parse(res.Page.FinalURL)
	for _, m := range imgSrc.FindAllSubmatch(res.Page.Body, -1) {
		if u, err := base.Parse(string(m[1])); err == nil {
			res.Embedded = append(res.Embedded, f.Get(ctx, u.String()))
		}
	}
	return res, nil
}

// site is a test host on loopback: files by path, redirects, 404 for the
// rest; a test changes them as it goes.
type site struct {
	srv       *httptest.Server
	mu        sync.Mutex
	files     map[string][]byte
	redirects map[string]string
	failing   bool // every answer is 503
}

func newSite(t *testing.T) *site {
	s := &site{files: map[string][]byte{}, redirects: map[string]string{}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		to, redirect := s.redirects[r.URL.Path]
		b, ok := s.files[r.URL.Path]
		failing := s.failing
		s.mu.Unlock()
		switch {
		case failing:
			http.Error(w, "busy", http.StatusServiceUnavailable)
		case redirect:
			http.Redirect(w, r, to, http.StatusFound)
		case ok:
			w.Write(b)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *site) set(path string, b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b == nil {
		delete(s.files, path)
	} else {
		s.files[path] = b
	}
}

func (s *site) url(path string) string { return s.srv.URL + path }

// receiver is a webhook on loopback that keeps what it is sent.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []received
	status int
}

type received struct {
	body   []byte
	header http.Header
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{status: http.StatusOK}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{b, r.Header.Clone()})
		st := rc.status
		rc.mu.Unlock()
		w.WriteHeader(st)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) all() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// mailer keeps the e-mails it is given.
type mailer struct {
	mu   sync.Mutex
	sent []mail
}

type mail struct {
	to            []string
	subject, text string
	headers       map[string]string
}

func (m *mailer) Send(_ context.Context, to []string, subject, text string, headers map[string]string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, mail{to, subject, text, headers})
	return nil
}

// env is a takedown service on a database of one engine, with
// organisations, a test host and a webhook receiver.
type env struct {
	ctx     context.Context
	db      *store.DB
	svc     *takedown.Service
	opts    takedown.Options
	clock   *coretest.Clock
	key     ed25519.PrivateKey
	sealer  *seal.Sealer
	m       *matcher.Matcher
	ind     *indicator.Service
	reports *report.Service
	triage  *triage.Service
	mail    *mailer
	site    *site
	hook    *receiver // the host's webhook

	centre, hotlineNL, hotlineDE, host, mailHost, leaNL, europol org.Organisation

	mu      sync.Mutex
	hosting map[string]takedown.Hosting // by host:port of the URL
}

var start = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// engines runs test on a new database of each engine, in parallel.
func engines(t *testing.T, test func(t *testing.T, e *env)) {
	storetest.OnEachEngine(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		t.Parallel()
		test(t, newEnv(t, open(t), nil))
	})
}

func newEnv(t *testing.T, db *store.DB, adjust func(*takedown.Options)) *env {
	t.Helper()
	ctx := t.Context()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{ctx: ctx, db: db, clock: coretest.NewClock(start), key: key, m: matcher.New(), ind: indicator.NewService(db),
		mail: &mailer{}, site: newSite(t), hook: newReceiver(t), hosting: map[string]takedown.Hosting{}}
	e.sealer = seal.NewSealer(seal.NewKeyring(), db)
	e.reports = report.NewService(db.Reports(), e.sealer)
	e.m.SetList(indicator.List{Name: indicator.Known, MaxDistance: indicator.DefaultMaxDistance, Threshold: indicator.DefaultThreshold})
	e.triage = triage.New(db.Triage(), e.reports, e.m, triage.Options{})
	storetest.CreateOrgs(t, db,
		storetest.NewOrg(&e.centre, "Centre", org.Centre, "BE"),
		storetest.NewOrg(&e.hotlineNL, "Hotline NL", org.Hotline, "NL"),
		storetest.NewOrg(&e.hotlineDE, "Hotline DE", org.Hotline, "DE"),
		storetest.NewOrg(&e.host, "Hosting NL", org.Host, "NL"),
		storetest.NewOrg(&e.mailHost, "Mail Host", org.Host, "FR"),
		storetest.NewOrg(&e.leaNL, "Politie", org.LEA, "NL"),
		storetest.NewOrg(&e.europol, "Europol", org.Europol, "NL"),
	)
	if err := forward.SetWebhook(ctx, db, e.sealer, e.host.ID, e.hook.srv.URL+"/notices"); err != nil {
		t.Fatal(err)
	}
	e.exec(t, `INSERT INTO hosts (org_id, domains, notice_email) VALUES ($1, 'files.example', 'abuse@files.example')`, e.mailHost.ID)
	// The test host is the registered host in the Netherlands.
	e.setHosting(e.site.url("/"), takedown.Hosting{Country: "NL", Host: e.host.ID})
	e.opts = takedown.Options{
		Fetcher: newHTTPFetcher(), Matcher: e.m, Sealer: e.sealer, Key: key, Mailer: e.mail,
		Audit: audit.NewLog(db, nil), AllowPrivateWebhooks: true, Clock: e.clock.Now, Locate: e.locate,
		Centre: func(context.Context) (int64, error) { return e.centre.ID, nil }, BaseURL: "https://ward.example/", Reports: e.reports, Triage: e.triage, Indicators: e.ind,
	}
	if adjust != nil {
		adjust(&e.opts)
	}
	e.svc = takedown.New(db.Takedown(), e.opts)
	return e
}

func (e *env) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	err := e.db.ReadWrite(e.ctx, func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.Exec(ctx, q, args...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func hostPort(raw string) string {
	u, _ := url.Parse(raw)
	return u.Host
}

func (e *env) setHosting(raw string, h takedown.Hosting) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.hosting[hostPort(raw)] = h
}

func (e *env) locate(_ context.Context, raw string, addrs []netip.Addr) (takedown.Hosting, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	h := e.hosting[hostPort(raw)]
	h.Addresses = addrs
	return h, nil
}

// activate makes the hashes of image b active indicators of the known
// list, of category A1, attested by the two hotlines, and loads them into
// the matcher.
func (e *env) activate(t *testing.T, b []byte) { e.activateAs(t, b, indicator.A1) }

// activateAs is activate with category cat.
func (e *env) activateAs(t *testing.T, b []byte, cat indicator.Category) {
	t.Helper()
	h := filehash.Bytes(b, filehash.Options{})
	subs := []indicator.Submission{{Signal: indicator.SHA256, Value: h.SHA256, Category: cat},
		{Signal: indicator.PDQ, Value: h.PDQ.String(), Category: cat}}
	for _, o := range []org.Organisation{e.hotlineNL, e.hotlineDE} {
		if _, err := e.ind.Submit(e.ctx, indicator.Known, o.Principal(), subs); err != nil {
			t.Fatal(err)
		}
	}
	if err := matcher.NewFollower(e.m, e.ind).Load(e.ctx); err != nil {
		t.Fatal(err)
	}
}

// viewers.
func (e *env) analyst(o org.Organisation) takedown.Viewer {
	v := takedown.Viewer{Org: o.ID, Kind: o.Kind, Actor: "user:7", Scope: policy.OwnQueue, OrgName: o.Name}
	if o.Kind == org.Centre {
		v.Scope = policy.AllData
	}
	return v
}

func (e *env) hostKey(o org.Organisation) org.Principal {
	p := o.Principal()
	p.KeyID = "hostkey"
	return p
}

// report reports raw as the public and fetches it.
func (e *env) fetched(t *testing.T, by org.Principal, raw string) takedown.Case {
	t.Helper()
	rc, err := e.svc.Report(e.ctx, by, takedown.URLReport{URL: raw})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Fetch(e.ctx, rc.ID); err != nil {
		t.Fatal(err)
	}
	return e.get(t, rc.ID)
}

// get returns case id as the centre sees it.
func (e *env) get(t *testing.T, id string) takedown.Case {
	t.Helper()
	c, err := e.svc.Case(e.ctx, e.analyst(e.centre), id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// drain runs the due jobs of kind with handle, as the job runner would,
// and returns their refs.
func (e *env) drain(t *testing.T, kind string, handle func(context.Context, string) error) []string {
	t.Helper()
	var refs []string
	for {
		js, err := e.db.ClaimJobs(e.ctx, "test", []string{kind}, e.clock.Now(), time.Minute, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(js) == 0 {
			return refs
		}
		for _, j := range js {
			if err := handle(e.ctx, j.Ref); err != nil {
				t.Fatalf("%s %s: %v", kind, j.Ref, err)
			}
			if err := e.db.CompleteJob(e.ctx, j.ID, "test", e.clock.Now()); err != nil {
				t.Fatal(err)
			}
			refs = append(refs, j.Ref)
		}
	}
}

// pending returns the refs of the pending jobs of kind.
func (e *env) pending(t *testing.T, kind string) []string {
	t.Helper()
	return storetest.Strings(t, e.db, `SELECT ref FROM jobs WHERE kind = $1 AND done_at IS NULL AND dead_at IS NULL ORDER BY id`, kind)
}

// verify checks a notice's signature as a receiver does.
func verify(t *testing.T, pub ed25519.PublicKey, body []byte, header string) {
	t.Helper()
	sig, ok := strings.CutPrefix(header, "ed25519=")
	raw, err := base64.StdEncoding.DecodeString(sig)
	if !ok || err != nil || !ed25519.Verify(pub, append([]byte(takedown.NoticeContext), body...), raw) {
		t.Fatalf("the notice's signature %q does not verify", header)
	}
}
