// Package search is the centre's proactive search for the takedown flow:
// it fetches, on a schedule, the pages of a configured set of places and
// what they embed, hashes and matches every resource as the takedown
// fetch does (every list, the unverified victim-reported list too), and
// opens a takedown case (takedown.Service.Found) for each page where
// something matched, which an analyst then assesses before any notice.
//
// # A run
//
// A place is a URL with a depth (0 to MaxDepth), a maximum of pages (1 to
// MaxPages) and how often it is searched (Every, MinEvery to MaxEvery).
// A run goes breadth first from the place's URL: each page is fetched with
// the media it embeds (package crawl: public addresses only, the byte and
// time limits of a fetch, the process's fetch memory), and, while its
// depth is under the place's, the links of its a and area tags are
// followed if they go to the place's host: the same host name, whatever
// the scheme or port (a subdomain or a parent domain is another host).
// Media a page embeds are fetched wherever they are, as the takedown fetch
// does, and so are links to media files (a href to .jpg, .png, .mp4...),
// which crawl takes as embedded; a link followed that turns out to be an
// image is itself a page of one resource, matched as such. Each URL is
// fetched once per run, and at most MaxPages pages: the queue of pages to
// visit holds at most that many URLs, so a run's memory is bounded by the
// place's limits, not by the site. A run stops at Options.Budget (default
// DefaultBudget); the pages it did not reach wait for the next run, which
// starts again from the place's URL.
//
// When the page or one of its resources matched, the case is opened for
// the page's URL (for an image reached by a link, the image's URL): the
// takedown fetch fetches it again with what it embeds, so the case shows
// the analyst the page and all its media, with the matches.
//
// # Politeness
//
// Every request of every run in the process goes through one Pacer,
// which spaces the requests to a host name by at least its delay (ward
// serve --search-delay), so runs of several places on one host, and the
// media of a page, do not add up to more. The Pacer is the process's:
// each server node paces its own requests (as it runs its own, one run
// at a time); the fetch of a case Found opens is the takedown flow's,
// one page per case, not paced. The requests carry the
// fetcher's User-Agent, which names the centre and where to read why it
// fetches. robots.txt is not read: a site that hosts child sexual abuse
// material would use it to keep the centre out, and the search fetches
// only a bounded number of pages per run, spaced, as a visitor would; the
// places are chosen by the centre's staff.
//
// # Jobs
//
// JobDue, periodic (ward serve --search-interval), queues a JobRun for
// each place due and sets its next run Every later, in one transaction;
// ward admin search run makes a place due now. A JobRun that is retried
// (an error, a crash: the job queue runs it again) runs the place again
// from the start: Found opens no second case for a URL with an open case,
// so nothing is doubled, and the place's figures are those of the last
// run that finished.
package search

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/platform/jobs"
	"github.com/wardhq/ward/internal/takedown"
	"github.com/wardhq/ward/internal/takedown/crawl"
)

// Job kinds of the search; cmd/ward registers their handlers.
const (
	// JobDue is periodic (ref ""): Service.QueueDue.
	JobDue = "search.due"
	// JobRun runs one place (ref: its ID): Service.Run.
	JobRun = "search.run"
)

// Limits of a place.
const (
	MaxDepth     = 5
	MaxPages     = 10000
	DefaultEvery = 24 * time.Hour
	MinEvery     = time.Hour
	MaxEvery     = 90 * 24 * time.Hour
)

// Defaults of Options and of ward serve.
const (
	// DefaultBudget bounds one run: past it, the run stops and records
	// how far it went.
	DefaultBudget = time.Hour
	// DefaultDelay spaces the requests to one host (--search-delay).
	DefaultDelay = 2 * time.Second
	// DefaultInterval is how often due places are looked for
	// (--search-interval).
	DefaultInterval = 5 * time.Minute
	// maxLinks bounds the links taken from one page.
	maxLinks = 1000
	// dueBatch bounds the places queued by one JobDue.
	dueBatch = 500
)

// Place is a URL the centre searches on a schedule.
type Place struct {
	ID        int64
	URL       string
	Depth     int           // links followed from the URL: 0 is the page and what it embeds only
	MaxPages  int           // pages fetched per run, at most
	Every     time.Duration // how often it is searched
	CreatedAt time.Time
	NextRunAt time.Time
	Last      Run // the last run; zero if none started
}

// Run is the figures of a place's run.
type Run struct {
	StartedAt  time.Time
	FinishedAt time.Time // zero while it runs, or if it stopped without finishing
	Pages      int       // pages fetched
	Resources  int       // resources hashed: pages and what they embed
	Matches    int       // resources that matched a list
	Cases      int       // takedown cases opened (not those already open)
	// Error says why the run stopped early (its time budget, a failure);
	// "" if it went as far as the place's limits.
	Error string
}

// Store keeps the places. Package store implements it ((*store.DB).Search).
type Store interface {
	// Update runs fn in one transaction, retried as a whole where the
	// engine asks, and commits it if fn returns nil.
	Update(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	// SearchPlace returns place id, or a core.ErrNotFound error.
	SearchPlace(ctx context.Context, id int64) (Place, error)
	// SearchPlaces returns every place, by ID.
	SearchPlaces(ctx context.Context) ([]Place, error)
	// DuePlaces returns up to limit places whose next run is at or
	// before now, the most overdue first.
	DuePlaces(ctx context.Context, now time.Time, limit int) ([]int64, error)
}

// Tx is the row operations of a transaction (Store.Update).
type Tx interface {
	audit.Appender
	// AddPlace inserts p (without ID and Last) and returns its ID.
	AddPlace(ctx context.Context, p Place) (int64, error)
	// LockPlace returns place id, locked for update on PostgreSQL, or a
	// core.ErrNotFound error.
	LockPlace(ctx context.Context, id int64) (Place, error)
	// RemovePlace deletes place id.
	RemovePlace(ctx context.Context, id int64) error
	// SetNextRun sets when place id runs next.
	SetNextRun(ctx context.Context, id int64, at time.Time) error
	// SetRun records run r as place id's last.
	SetRun(ctx context.Context, id int64, r Run) error
	// EnsureJob queues a job of kind with ref, due at, unless one is
	// pending, as jobs.Store.EnsureJob does.
	EnsureJob(ctx context.Context, kind, ref string, at time.Time) error
}

// Fetcher fetches a page and what it embeds; *crawl.Fetcher is one,
// paced by a Pacer (crawl.Config.Pace).
type Fetcher interface {
	Fetch(ctx context.Context, rawURL string) (crawl.Result, error)
}

// Takedown hashes and matches resources and opens the cases of what
// matched; *takedown.Service is one.
type Takedown interface {
	Match(ctx context.Context, r crawl.Resource) (takedown.Item, error)
	Found(ctx context.Context, rawURL string, place int64) (id string, opened bool, err error)
}

var (
	_ Fetcher  = (*crawl.Fetcher)(nil)
	_ Takedown = (*takedown.Service)(nil)
)

// Options are a Service's dependencies and settings. Fetcher and
// Takedown are needed by Run only (ward admin manages places without).
type Options struct {
	Fetcher  Fetcher
	Takedown Takedown
	// Audit records the changes of places; nil records nothing (tests).
	Audit *audit.Log
	// Budget bounds one run (DefaultBudget).
	Budget time.Duration
	// Runs bounds the runs under way at once in the process (default
	// 1): a run holds a worker of the job runner for up to Budget, and
	// the takedown flow's jobs must not wait behind several. A run over
	// it fails, to be tried again later.
	Runs  int
	Clock core.Clock
}

// Service manages the places and runs them.
type Service struct {
	st   Store
	o    Options
	runs chan struct{} // a token per run under way
}

// New returns a Service keeping its places in st.
func New(st Store, o Options) *Service {
	o.Budget = cmp.Or(o.Budget, DefaultBudget)
	o.Runs = cmp.Or(o.Runs, 1)
	return &Service{st: st, o: o, runs: make(chan struct{}, o.Runs)}
}

func (s *Service) now() time.Time { return s.o.Clock.Now() }

// NewPlace is a place to add: Every 0 is DefaultEvery.
type NewPlace struct {
	URL      string
	Depth    int
	MaxPages int
	Every    time.Duration
}

// Add adds place p, due at once, for actor (as in the audit trail); the
// change is audited.
func (s *Service) Add(ctx context.Context, actor string, in NewPlace) (Place, error) {
	u, err := takedown.CheckURL(in.URL)
	if err != nil {
		return Place{}, err
	}
	in.Every = cmp.Or(in.Every, DefaultEvery)
	switch {
	case in.Depth < 0 || in.Depth > MaxDepth:
		return Place{}, core.Errorf(core.ErrInvalid, "the depth must be 0 to %d, not %d", MaxDepth, in.Depth)
	case in.MaxPages < 1 || in.MaxPages > MaxPages:
		return Place{}, core.Errorf(core.ErrInvalid, "the maximum of pages must be 1 to %d, not %d", MaxPages, in.MaxPages)
	case in.Every < MinEvery || in.Every > MaxEvery:
		return Place{}, core.Errorf(core.ErrInvalid, "a place is searched at most every hour and at least every 90 days, not every %s", in.Every)
	}
	now := s.now()
	p := Place{URL: u, Depth: in.Depth, MaxPages: in.MaxPages, Every: in.Every, CreatedAt: now, NextRunAt: now}
	err = s.st.Update(ctx, func(ctx context.Context, tx Tx) error {
		var err error
		if p.ID, err = tx.AddPlace(ctx, p); err != nil {
			return err
		}
		return s.audit(ctx, tx, audit.Event{At: now, Actor: actor, Action: "search.place.add", Object: place(p.ID),
			Purpose: fmt.Sprintf("%s, depth %d, at most %d pages, every %s", p.URL, p.Depth, p.MaxPages, p.Every), Outcome: audit.OK})
	})
	return p, err
}

// Places returns every place, by ID, with its last run.
func (s *Service) Places(ctx context.Context) ([]Place, error) { return s.st.SearchPlaces(ctx) }

// Remove removes place id for actor; the cases it found stay. A run
// queued for it does nothing.
func (s *Service) Remove(ctx context.Context, actor string, id int64) error {
	now := s.now()
	return s.st.Update(ctx, func(ctx context.Context, tx Tx) error {
		p, err := tx.LockPlace(ctx, id)
		if err != nil {
			return err
		}
		if err := tx.RemovePlace(ctx, id); err != nil {
			return err
		}
		return s.audit(ctx, tx, audit.Event{At: now, Actor: actor, Action: "search.place.remove", Object: place(id),
			Purpose: p.URL, Outcome: audit.OK})
	})
}

// RunNow queues a run of place id now, for actor, unless one is queued;
// its next run comes Every after.
func (s *Service) RunNow(ctx context.Context, actor string, id int64) error {
	now := s.now()
	return s.st.Update(ctx, func(ctx context.Context, tx Tx) error {
		p, err := tx.LockPlace(ctx, id)
		if err != nil {
			return err
		}
		if err := queue(ctx, tx, p, now); err != nil {
			return err
		}
		return s.audit(ctx, tx, audit.Event{At: now, Actor: actor, Action: "search.place.run", Object: place(id),
			Purpose: p.URL, Outcome: audit.OK})
	})
}

// QueueDue queues a run of each place due: the handler of JobDue.
func (s *Service) QueueDue(ctx context.Context) error {
	now := s.now()
	ids, err := s.st.DuePlaces(ctx, now, dueBatch)
	if err != nil {
		return err
	}
	for _, id := range ids {
		err := s.st.Update(ctx, func(ctx context.Context, tx Tx) error {
			p, err := tx.LockPlace(ctx, id)
			if err != nil || p.NextRunAt.After(now) {
				return err // another node queued it meanwhile
			}
			return queue(ctx, tx, p, now)
		})
		if err != nil && !errors.Is(err, core.ErrNotFound) {
			return err
		}
	}
	return nil
}

// queue queues a run of p at now and sets its next run Every later.
func queue(ctx context.Context, tx Tx, p Place, now time.Time) error {
	if err := tx.EnsureJob(ctx, JobRun, strconv.FormatInt(p.ID, 10), now); err != nil {
		return err
	}
	return tx.SetNextRun(ctx, p.ID, now.Add(p.Every))
}

// Run runs place ref (its ID): the handler of JobRun. A place removed is
// left alone. The run's figures are recorded when it starts (Last, with
// no FinishedAt) and when it ends; a run that stops on its budget ends
// with the error saying so, and the job is done. A failure to hash (the
// decode or fetch memory in use for too long), to open a case, or of
// the store fails the job, to be run again (see the package
// documentation).
func (s *Service) Run(ctx context.Context, ref string) error {
	id, err := strconv.ParseInt(ref, 10, 64)
	if err != nil || id <= 0 {
		return jobs.Permanent(core.Errorf(core.ErrInvalid, "a search run's ref is a place's ID, not %q", ref))
	}
	if s.o.Fetcher == nil || s.o.Takedown == nil {
		return errors.New("the search runs without a fetcher or a takedown service")
	}
	p, err := s.st.SearchPlace(ctx, id)
	if errors.Is(err, core.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	select {
	case s.runs <- struct{}{}:
		defer func() { <-s.runs }()
	default:
		return core.Errorf(core.ErrUnavailable, "place %d waits: %d runs are under way on this node", id, s.o.Runs)
	}
	r := Run{StartedAt: s.now()}
	if err := s.record(ctx, id, r); err != nil {
		return err
	}
	rctx, cancel := context.WithTimeoutCause(ctx, s.o.Budget, errBudget)
	defer cancel()
	err = s.search(rctx, p, &r)
	if ctx.Err() != nil {
		return ctx.Err() // interrupted: the job runs again
	}
	r.FinishedAt = s.now()
	switch {
	case errors.Is(context.Cause(rctx), errBudget):
		r.Error = fmt.Sprintf("stopped at the run's time budget of %s", s.o.Budget)
	case err != nil:
		r.Error = err.Error()
	}
	if rerr := s.record(ctx, id, r); rerr != nil {
		return rerr
	}
	if err != nil && !errors.Is(context.Cause(rctx), errBudget) {
		return fmt.Errorf("searching place %d: %w", id, err)
	}
	return nil
}

var errBudget = errors.New("the run's time budget ran out")

func (s *Service) record(ctx context.Context, id int64, r Run) error {
	err := s.st.Update(ctx, func(ctx context.Context, tx Tx) error {
		if _, err := tx.LockPlace(ctx, id); err != nil {
			return err
		}
		return tx.SetRun(ctx, id, r)
	})
	if errors.Is(err, core.ErrNotFound) {
		return nil // removed while it ran
	}
	return err
}

// visit is a page to fetch and its depth from the place's URL.
type visit struct {
	url   string
	depth int
}

// search runs p breadth first, counting in r.
func (s *Service) search(ctx context.Context, p Place, r *Run) error {
	host := hostname(p.URL)
	todo := []visit{{p.URL, 0}}
	seen := map[string]bool{p.URL: true} // enqueued or fetched: at most MaxPages pages plus their media
	for len(todo) > 0 && r.Pages < p.MaxPages {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		v := todo[0]
		todo = todo[1:]
		res, err := s.o.Fetcher.Fetch(ctx, v.url)
		if err != nil {
			res.Release()
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			continue // not a URL to fetch: the link is skipped
		}
		r.Pages++
		for _, e := range res.Embedded {
			seen[e.URL] = true // fetched with the page: not to fetch again as a link
		}
		var links []string
		if v.depth < p.Depth {
			links = crawl.Links(ctx, res.Page, maxLinks)
		}
		matched, err := s.match(ctx, &res, r)
		res.Release()
		if err != nil {
			return err
		}
		if matched {
			_, opened, err := s.o.Takedown.Found(ctx, v.url, p.ID)
			if err != nil {
				return fmt.Errorf("opening the case of %s: %w", v.url, err)
			}
			if opened {
				r.Cases++
			}
		}
		for _, l := range links {
			if len(todo)+r.Pages >= p.MaxPages {
				break
			}
			if !seen[l] && hostname(l) == host {
				seen[l] = true
				todo = append(todo, visit{l, v.depth + 1})
			}
		}
	}
	return nil
}

// match hashes and matches the page of res and what it embeds, counting
// in r, and reports whether one matched; each body is released once
// hashed.
func (s *Service) match(ctx context.Context, res *crawl.Result, r *Run) (bool, error) {
	matched := false
	for i := range 1 + len(res.Embedded) {
		rs := &res.Page
		if i > 0 {
			rs = &res.Embedded[i-1]
		}
		if rs.Body == nil {
			continue
		}
		it, err := s.o.Takedown.Match(ctx, *rs)
		rs.Release()
		rs.Body = nil
		if err != nil {
			return false, err
		}
		if it.SHA256 != "" {
			r.Resources++
		}
		if len(it.Matches) > 0 {
			r.Matches++
			matched = true
		}
	}
	return matched, nil
}

// hostname is the lower-case host name of rawURL, "" if none.
func hostname(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}

func place(id int64) string { return "search-place:" + strconv.FormatInt(id, 10) }

// audit appends ev through tx; nothing without Options.Audit.
func (s *Service) audit(ctx context.Context, tx Tx, ev audit.Event) error {
	if s.o.Audit == nil {
		return nil
	}
	_, err := s.o.Audit.AppendTo(ctx, tx, ev)
	return err
}
