package search_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"image/png"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/hashing/filehash"
	"github.com/wardhq/ward/internal/hashing/synth"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/matching/matcher"
	"github.com/wardhq/ward/internal/platform/seal"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/takedown"
	"github.com/wardhq/ward/internal/takedown/crawl"
	"github.com/wardhq/ward/internal/takedown/search"
)

// request is one request a test host received.
type request struct {
	host, path string
	at         time.Time
}

// web is the loopback internet of a test: a server per host name, each
// serving the pages a test sets, with every request recorded.
type web struct {
	mu    sync.Mutex
	pages map[string][]byte // "host/path" to content
	reqs  []request
	ports map[string]string // host name to port
}

func newWeb(t *testing.T, hosts ...string) *web {
	w := &web{pages: map[string][]byte{}, ports: map[string]string{}}
	for _, h := range hosts {
		srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			w.mu.Lock()
			w.reqs = append(w.reqs, request{host: h, path: r.URL.Path, at: time.Now()})
			b, ok := w.pages[h+r.URL.Path]
			w.mu.Unlock()
			if !ok {
				http.NotFound(rw, r)
				return
			}
			rw.Write(b)
		}))
		t.Cleanup(srv.Close)
		_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
		w.ports[h] = port
	}
	return w
}

// url is the URL of path on host.
func (w *web) url(host, path string) string { return "http://" + host + ":" + w.ports[host] + path }

// set serves content at path on host; in HTML, {host} is replaced with
// host's address (name and port) for each test host.
func (w *web) set(host, path string, content []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for h, port := range w.ports {
		content = bytes.ReplaceAll(content, []byte("{"+h+"}"), []byte(h+":"+port))
	}
	w.pages[host+path] = content
}

func (w *web) requests() []request {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.reqs)
}

// paths returns the paths requested of host, in order.
func (w *web) paths(host string) []string {
	var out []string
	for _, r := range w.requests() {
		if r.host == host {
			out = append(out, r.path)
		}
	}
	return out
}

func (w *web) resolve(_ context.Context, host string) ([]netip.Addr, error) {
	if _, ok := w.ports[host]; ok {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

type env struct {
	ctx    context.Context
	db     *store.DB
	m      *matcher.Matcher
	ind    *indicator.Service
	td     *takedown.Service
	svc    *search.Service
	web    *web
	centre org.Organisation
	opts   search.Options
}

const delay = 150 * time.Millisecond

func newEnv(t *testing.T, db *store.DB, hosts ...string) *env {
	t.Helper()
	e := &env{ctx: t.Context(), db: db, m: matcher.New(), ind: indicator.NewService(db), web: newWeb(t, hosts...)}
	storetest.CreateOrgs(t, db, storetest.NewOrg(&e.centre, "Centre", org.Centre, "BE"))
	if err := matcher.NewFollower(e.m, e.ind).Load(e.ctx); err != nil {
		t.Fatal(err)
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// The takedown flow's fetcher and the search's: the search's is
	// paced, as in the server.
	fetchCfg := crawl.Config{AllowPrivate: true, Resolve: e.web.resolve}
	e.td = takedown.New(db.Takedown(), takedown.Options{Fetcher: crawl.New(fetchCfg), Matcher: e.m,
		Sealer: seal.NewSealer(seal.NewKeyring(), db), Key: key, Audit: audit.NewLog(db, nil)})
	fetchCfg.Pace = search.NewPacer(delay).Wait
	e.opts = search.Options{Fetcher: crawl.New(fetchCfg), Takedown: e.td, Audit: audit.NewLog(db, nil)}
	e.svc = search.New(db.Search(), e.opts)
	return e
}

func engines(t *testing.T, hosts []string, test func(t *testing.T, e *env)) {
	storetest.OnEachEngine(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		t.Parallel()
		test(t, newEnv(t, open(t), hosts...))
	})
}

// image returns a synthetic PNG of seed.
func image(t *testing.T, seed uint64) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, synth.Image(256, 256, seed)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// victimReported puts the hashes of img into the list victim-reported, as
// the centre does for a person, and loads them into the matcher; it
// returns the PDQ indicator's ID.
func (e *env) victimReported(t *testing.T, img []byte) int64 {
	t.Helper()
	h := filehash.Bytes(img, filehash.Options{})
	res, err := e.ind.Report(e.ctx, indicator.VictimReported, e.centre.Principal(),
		[]indicator.Hash{{Signal: indicator.PDQ, Value: h.PDQ.String()}, {Signal: indicator.SHA256, Value: h.SHA256}})
	if err != nil {
		t.Fatal(err)
	}
	if err := matcher.NewFollower(e.m, e.ind).Load(e.ctx); err != nil {
		t.Fatal(err)
	}
	return res[0].IndicatorID
}

func (e *env) add(t *testing.T, rawURL string, depth, maxPages int) search.Place {
	t.Helper()
	p, err := e.svc.Add(e.ctx, audit.AdminCLI, search.NewPlace{URL: rawURL, Depth: depth, MaxPages: maxPages})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (e *env) run(t *testing.T, p search.Place) search.Run {
	t.Helper()
	if err := e.svc.Run(e.ctx, strconv.FormatInt(p.ID, 10)); err != nil {
		t.Fatal(err)
	}
	return e.place(t, p.ID).Last
}

func (e *env) place(t *testing.T, id int64) search.Place {
	t.Helper()
	p, err := e.db.SearchPlace(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func html(body string) []byte { return []byte("<!doctype html><html><body>" + body + "</body></html>") }

// TestLimits checks that a run follows links on the place's host only,
// breadth first, down to the place's depth and up to its maximum of pages.
func TestLimits(t *testing.T) {
	engines(t, []string{"site.test", "other.test"}, func(t *testing.T, e *env) {
		w := e.web
		w.set("site.test", "/", html(`<a href="/a">a</a> <a href="/b">b</a> <a href="http://{other.test}/x">other</a>
			<a href="http://sub.site.test/">sub</a> <a href="/a#again">again</a>`))
		w.set("site.test", "/a", html(`<a href="/a/1">1</a> <a href="/">home</a>`))
		w.set("site.test", "/b", html(`<a href="/b/1">1</a>`))
		w.set("site.test", "/a/1", html(`<a href="/a/1/deep">deep</a>`))
		w.set("site.test", "/b/1", html(`end`))
		w.set("site.test", "/a/1/deep", html(`end`))
		w.set("other.test", "/x", html(`other`))
		for _, tc := range []struct {
			depth, max int
			want       []string
		}{
			{0, 10, []string{"/"}},
			{1, 10, []string{"/", "/a", "/b"}},
			{2, 4, []string{"/", "/a", "/b", "/a/1"}},
			{5, 100, []string{"/", "/a", "/b", "/a/1", "/b/1", "/a/1/deep"}},
		} {
			e.web.mu.Lock()
			e.web.reqs = nil
			e.web.mu.Unlock()
			p := e.add(t, w.url("site.test", "/"), tc.depth, tc.max)
			r := e.run(t, p)
			if got := w.paths("site.test"); !slices.Equal(got, tc.want) {
				t.Errorf("depth %d, at most %d pages: fetched %q; want %q", tc.depth, tc.max, got, tc.want)
			}
			if r.Pages != len(tc.want) || r.Resources != len(tc.want) || r.Matches != 0 || r.Cases != 0 || r.Error != "" ||
				r.StartedAt.IsZero() || r.FinishedAt.Before(r.StartedAt) {
				t.Errorf("depth %d: figures %+v; want %d pages hashed, nothing matched", tc.depth, r, len(tc.want))
			}
			if got := w.paths("other.test"); len(got) > 0 {
				t.Errorf("depth %d: another host was fetched: %q", tc.depth, got)
			}
		}
	})
}

// TestSpacing checks that requests to one host, the pages' and their
// media's, of two runs at once, are at least the delay apart.
func TestSpacing(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t), "site.test")
	w := e.web
	w.set("site.test", "/", html(`<img src="/1.png"><img src="/2.png"><a href="/next">next</a>`))
	w.set("site.test", "/next", html(`<img src="/3.png">`))
	for i := range 3 {
		w.set("site.test", fmt.Sprintf("/%d.png", i+1), image(t, uint64(i+1)))
	}
	a, b := e.add(t, w.url("site.test", "/"), 1, 10), e.add(t, w.url("site.test", "/next"), 0, 10)
	o := e.opts
	o.Runs = 2
	svc := search.New(e.db.Search(), o)
	var wg sync.WaitGroup
	for _, p := range []search.Place{a, b} {
		wg.Go(func() {
			if err := svc.Run(e.ctx, strconv.FormatInt(p.ID, 10)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	reqs := w.requests()
	if len(reqs) != 7 {
		t.Fatalf("%d requests; want 7 (5 of the first place, 2 of the second)", len(reqs))
	}
	slices.SortFunc(reqs, func(x, y request) int { return x.at.Compare(y.at) })
	// The delay is counted between the starts of requests: what reaches
	// the server a moment later may be a few milliseconds nearer.
	const jitter = 10 * time.Millisecond
	for i := 1; i < len(reqs); i++ {
		if gap := reqs[i].at.Sub(reqs[i-1].at); gap < delay-jitter {
			t.Errorf("requests %d and %d (%s, %s) %s apart; want at least %s", i-1, i, reqs[i-1].path, reqs[i].path, gap, delay)
		}
	}
	if r := e.place(t, a.ID).Last; r.Pages != 2 || r.Resources != 5 {
		t.Errorf("the first place's figures %+v; want 2 pages, 5 resources", r)
	}
}

// TestFound checks that an image whose hash a victim reported, embedded
// in a page of a place, opens exactly one takedown case, which the
// takedown fetch routes to assessment, its item matched on the list
// victim-reported, unverified, and not pre-classified; a run again, or
// the same page found by another place, opens none.
func TestFound(t *testing.T) {
	engines(t, []string{"site.test", "cdn.test"}, func(t *testing.T, e *env) {
		w := e.web
		victim, other := image(t, 11), image(t, 12)
		ind := e.victimReported(t, victim)
		w.set("site.test", "/", html(`<a href="/gallery">gallery</a>`))
		w.set("site.test", "/gallery", html(`<img src="http://{cdn.test}/one.png"><img src="/two.png">`))
		w.set("cdn.test", "/one.png", victim)
		w.set("site.test", "/two.png", other)
		p := e.add(t, w.url("site.test", "/"), 1, 10)
		r := e.run(t, p)
		if r.Pages != 2 || r.Resources != 4 || r.Matches != 1 || r.Cases != 1 || r.Error != "" {
			t.Fatalf("figures %+v; want 2 pages, 4 resources, 1 match, 1 case", r)
		}
		cs, err := e.db.TakedownCases(e.ctx, takedown.CaseFilter{CaseQuery: takedown.CaseQuery{Limit: 10}})
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) != 1 || cs[0].URL != w.url("site.test", "/gallery") || cs[0].State != takedown.Fetching ||
			cs[0].Place != p.ID || cs[0].Source != 0 {
			t.Fatalf("cases %+v; want one of the gallery, fetching, found by place %d", cs, p.ID)
		}
		id := cs[0].ID
		if got := storetest.Strings(t, e.db, `SELECT ref FROM jobs WHERE kind = $1`, takedown.JobFetch); !slices.Equal(got, []string{id}) {
			t.Fatalf("fetch jobs %q; want one of case %s", got, id)
		}
		if err := e.td.Fetch(e.ctx, id); err != nil {
			t.Fatal(err)
		}
		c, err := e.td.Case(e.ctx, takedown.Viewer{Org: e.centre.ID, Kind: org.Centre, Actor: "user:1", Scope: policy.AllData}, id)
		if err != nil {
			t.Fatal(err)
		}
		if c.State != takedown.Assessing || len(c.Items) != 3 {
			t.Fatalf("case %s: %s with %d items; want assessment with the page and its two images", id, c.State, len(c.Items))
		}
		if c.Events[0].Kind != takedown.EventFound || !strings.Contains(c.Events[0].Detail, fmt.Sprintf("place %d", p.ID)) {
			t.Errorf("the case's first event %+v; want found by place %d", c.Events[0], p.ID)
		}
		it := c.Items[1]
		if it.URL != w.url("cdn.test", "/one.png") || len(it.Matches) == 0 || it.Classification != "" {
			t.Fatalf("item 1 %+v; want the victim's image, matched, not classified", it)
		}
		for _, m := range it.Matches {
			if m.List != indicator.VictimReported || m.Category != indicator.Unverified {
				t.Errorf("match %+v; want on list victim-reported, category unverified", m)
			}
		}
		if cl := takedown.DefaultClassification(it.Matches); cl != "" {
			t.Errorf("an unverified match pre-classifies as %q; want none, for the analyst", cl)
		}
		if len(c.Items[0].Matches)+len(c.Items[2].Matches) != 0 {
			t.Errorf("the page or the other image matched: %+v", c.Items)
		}
		// What package victim counts: one row per indicator matched.
		if n := storetest.Count(t, e.db, `SELECT count(*) FROM takedown_item_matches WHERE case_id = $1 AND idx = 1 AND indicator_id = $2`, id, ind); n != 1 {
			t.Errorf("%d takedown_item_matches of the victim's indicator; want 1", n)
		}
		if n := storetest.Count(t, e.db, `SELECT count(*) FROM takedown_item_matches WHERE case_id = $1`, id); n != len(it.Matches) {
			t.Errorf("%d takedown_item_matches; want one per indicator matched (%d)", n, len(it.Matches))
		}

		// Again, and from another place: the case is open, none is added.
		if r := e.run(t, p); r.Matches != 1 || r.Cases != 0 {
			t.Errorf("a second run: %+v; want the match, no case", r)
		}
		if r := e.run(t, e.add(t, w.url("site.test", "/gallery"), 0, 1)); r.Matches != 1 || r.Cases != 0 {
			t.Errorf("another place: %+v; want the match, no case", r)
		}
		if n := storetest.Count(t, e.db, `SELECT count(*) FROM takedown_cases`); n != 1 {
			t.Errorf("%d cases; want 1", n)
		}
	})
}

// failingFound opens the case, then fails, as a run that crashed once
// the case was committed.
type failingFound struct {
	search.Takedown
	failed bool
}

func (f *failingFound) Found(ctx context.Context, rawURL string, place int64) (string, bool, error) {
	id, opened, err := f.Takedown.Found(ctx, rawURL, place)
	if err != nil || f.failed {
		return id, opened, err
	}
	f.failed = true
	return "", false, errors.New("the connection to the database was lost")
}

// TestRetry checks that a run that fails after opening a case, or is
// interrupted, runs again without a second case.
func TestRetry(t *testing.T) {
	engines(t, []string{"site.test"}, func(t *testing.T, e *env) {
		w := e.web
		victim := image(t, 21)
		e.victimReported(t, victim)
		w.set("site.test", "/", html(`<img src="/v.png"><a href="/more">more</a>`))
		w.set("site.test", "/more", html(`<a href="/v2.png">linked image</a>`))
		w.set("site.test", "/v.png", victim)
		p := e.add(t, w.url("site.test", "/"), 1, 10)
		ref := strconv.FormatInt(p.ID, 10)

		o := e.opts
		o.Takedown = &failingFound{Takedown: e.td}
		err := search.New(e.db.Search(), o).Run(e.ctx, ref)
		if err == nil || !strings.Contains(err.Error(), "connection to the database was lost") {
			t.Fatalf("a run that fails: %v; want its error, for the job to run again", err)
		}
		if r := e.place(t, p.ID).Last; r.FinishedAt.IsZero() || !strings.Contains(r.Error, "connection") {
			t.Errorf("a run that failed: %+v; want its error recorded", r)
		}
		// Interrupted (the node stops) after the first request.
		ctx, cancel := context.WithCancel(e.ctx)
		o = e.opts
		o.Fetcher = fetchThen{e.opts.Fetcher, cancel}
		if err := search.New(e.db.Search(), o).Run(ctx, ref); !errors.Is(err, context.Canceled) {
			t.Fatalf("an interrupted run: %v; want the context's error", err)
		}
		if r := e.place(t, p.ID).Last; r.StartedAt.IsZero() || !r.FinishedAt.IsZero() {
			t.Errorf("an interrupted run: %+v; want started, not finished", r)
		}
		r := e.run(t, p)
		if r.Pages != 2 || r.Matches != 1 || r.Cases != 0 || r.Error != "" {
			t.Errorf("the run again: %+v; want 2 pages, the match, no new case", r)
		}
		if n := storetest.Count(t, e.db, `SELECT count(*) FROM takedown_cases`); n != 1 {
			t.Errorf("%d cases; want 1", n)
		}
		// A link to an image is matched too: to a media file, with the
		// page that links it (the case is the page's); to another URL, as a
		// page of its own (the case is the image's).
		w.set("site.test", "/v2.png", victim)
		if r := e.run(t, p); r.Matches != 2 || r.Cases != 1 {
			t.Errorf("with the linked image: %+v; want 2 matches, 1 new case", r)
		}
		w.set("site.test", "/", html(`<img src="/v.png"><a href="/more">more</a> <a href="/photo?id=3">photo</a>`))
		w.set("site.test", "/photo", victim)
		if r := e.run(t, p); r.Pages != 3 || r.Matches != 3 || r.Cases != 1 {
			t.Errorf("with an image linked as a page: %+v; want 3 pages, 3 matches, 1 new case", r)
		}
		if got := storetest.Strings(t, e.db, `SELECT url FROM takedown_cases ORDER BY url`); !slices.Equal(got,
			[]string{w.url("site.test", "/"), w.url("site.test", "/more"), w.url("site.test", "/photo?id=3")}) {
			t.Errorf("cases of %q", got)
		}
	})
}

// fetchThen calls then after a fetch.
type fetchThen struct {
	search.Fetcher
	then func()
}

func (f fetchThen) Fetch(ctx context.Context, rawURL string) (crawl.Result, error) {
	res, err := f.Fetcher.Fetch(ctx, rawURL)
	f.then()
	return res, err
}

// TestPlaces checks the places' rules, the schedule's jobs and removal.
func TestPlaces(t *testing.T) {
	engines(t, []string{"site.test"}, func(t *testing.T, e *env) {
		u := e.web.url("site.test", "/")
		for _, in := range []search.NewPlace{
			{URL: "ftp://site.test/", MaxPages: 1},
			{URL: "not a URL", MaxPages: 1},
			{URL: "http://user:pw@site.test/", MaxPages: 1},
			{URL: "/relative", MaxPages: 1},
			{URL: u, Depth: -1, MaxPages: 1},
			{URL: u, Depth: 6, MaxPages: 1},
			{URL: u, MaxPages: 0},
			{URL: u, MaxPages: 10001},
			{URL: u, MaxPages: 1, Every: 30 * time.Minute},
			{URL: u, MaxPages: 1, Every: 91 * 24 * time.Hour},
		} {
			if _, err := e.svc.Add(e.ctx, audit.AdminCLI, in); !errors.Is(err, core.ErrInvalid) {
				t.Errorf("Add(%+v): %v; want ErrInvalid", in, err)
			}
		}
		if ps, err := e.svc.Places(e.ctx); err != nil || len(ps) != 0 {
			t.Fatalf("places after refusals: %+v, %v; want none", ps, err)
		}
		p := e.add(t, u, 2, 50)
		if p.Every != search.DefaultEvery || p.NextRunAt.After(time.Now()) {
			t.Errorf("place %+v; want every %s, due now", p, search.DefaultEvery)
		}
		ref := strconv.FormatInt(p.ID, 10)
		pending := func() []string {
			return storetest.Strings(t, e.db, `SELECT ref FROM jobs WHERE kind = $1 AND done_at IS NULL`, search.JobRun)
		}
		for range 2 {
			if err := e.svc.QueueDue(e.ctx); err != nil {
				t.Fatal(err)
			}
		}
		if got := pending(); !slices.Equal(got, []string{ref}) {
			t.Errorf("runs queued %q; want one of place %s", got, ref)
		}
		if next := e.place(t, p.ID).NextRunAt; next.Sub(p.NextRunAt) < search.DefaultEvery {
			t.Errorf("next run at %s; want a day after %s", next, p.NextRunAt)
		}
		if err := e.svc.RunNow(e.ctx, audit.AdminCLI, p.ID); err != nil {
			t.Fatal(err)
		}
		if got := pending(); len(got) != 1 {
			t.Errorf("runs queued after RunNow with one queued: %q; want one", got)
		}
		if err := e.svc.Remove(e.ctx, audit.AdminCLI, p.ID); err != nil {
			t.Fatal(err)
		}
		for _, err := range []error{e.svc.Remove(e.ctx, audit.AdminCLI, p.ID), e.svc.RunNow(e.ctx, audit.AdminCLI, p.ID)} {
			if !errors.Is(err, core.ErrNotFound) {
				t.Errorf("a removed place: %v; want ErrNotFound", err)
			}
		}
		// The run queued for it does nothing.
		if err := e.svc.Run(e.ctx, ref); err != nil || len(e.web.requests()) != 0 {
			t.Errorf("the run of a removed place: %v, %d requests; want nothing done", err, len(e.web.requests()))
		}
		if err := e.svc.Run(e.ctx, "x"); err == nil {
			t.Error("a run of ref x: no error")
		}
		if n := storetest.Count(t, e.db, `SELECT count(*) FROM audit_log WHERE action LIKE 'search.place.%'`); n != 3 {
			t.Errorf("%d audit entries of places; want 3 (add, run, remove)", n)
		}
	})
}
