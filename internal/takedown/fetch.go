package takedown

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/hashing/filehash"
	"github.com/wardhq/ward/internal/hashing/media"
	"github.com/wardhq/ward/internal/hashing/pdq"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/matching/matcher"
	"github.com/wardhq/ward/internal/platform/jobs"
	"github.com/wardhq/ward/internal/takedown/crawl"
)

// minQuality is the PDQ quality under which a resource's hash is not
// matched, as in package triage: the hash of a nearly flat image lies
// near many others.
const minQuality = 50

// maxMatchesPerItem bounds the matches kept of one item: the analyst
// needs the nearest.
const maxMatchesPerItem = 20

// permanent marks the errors that trying a job again cannot cure (an
// unknown case or notice, a bad ref) as jobs.Permanent.
func permanent(err error) error {
	if errors.Is(err, core.ErrNotFound) || errors.Is(err, core.ErrInvalid) {
		return jobs.Permanent(err)
	}
	return err
}

// fetched is an item as fetched, with its content sealed if kept.
type fetched struct {
	Item
	// failure is why it could not be fetched or hashed: Item.Error
	// without the note that its content was not kept.
	failure string
	sealed  []byte // nil unless kept
}

// Fetch fetches, hashes and matches case ref's URL and what its page
// embeds: the handler of JobFetch. Item 0 is the reported URL itself,
// then the embedded resources in page order; each is hashed (PDQ, MD5,
// SHA-256, within the decode budget) and matched against the active
// indicators, and its content kept, sealed, only if it is an image or a
// video that matched none, within Options.MaxKeptBytes of the case.
// The case is located and routed to the queue of the hotline of its
// hosting country (the submitting hotline keeps it if it is that
// country's), else to the centre's, and waits for assessment; a URL gone
// or from which nothing could be fetched closes the case. A URL that
// could not be fetched for a reason that may pass (see mayPass) is
// fetched again: the attempt is counted on the case (FetchAttempts,
// FetchError) and the job fails, to be tried again with backoff, until
// the Options.FetchAttempts-th failure closes the case with its error as
// the reason. A case no longer fetching is left alone, so a repeated job
// adds nothing.
func (s *Service) Fetch(ctx context.Context, ref string) error {
	return permanent(s.fetch(ctx, ref))
}

func (s *Service) fetch(ctx context.Context, id string) error {
	r, err := s.st.TakedownCase(ctx, id)
	if err != nil || r.State != Fetching {
		return err
	}
	res, ferr := s.o.Fetcher.Fetch(ctx, r.URL)
	if ferr != nil && ctx.Err() != nil {
		return ferr
	}
	// The fetch memory is given back as each body is hashed and sealed,
	// and in any case when the job ends (a closure, not a copy of res
	// holding on to the bodies).
	defer func() { res.Release() }()
	if err := busy(res); err != nil {
		return err // the server's fetch memory was in use: the job tries again later
	}
	again := ferr == nil && mayPass(res.Page)
	if again && r.FetchAttempts+1 < s.o.FetchAttempts {
		return s.fetchFailed(ctx, id, res.Page.Err)
	}
	var items []fetched
	if ferr == nil {
		// Content is kept only of a case to be assessed: one whose page
		// was there (and something hashed, as a kept item is).
		if items, err = s.hashAll(ctx, id, &res, !res.Page.Gone); err != nil {
			return err
		}
	}
	c := r.Case
	c.FetchedAt = s.now()
	loc := locator{s: s, done: map[string]Hosting{}}
	var addrs []netip.Addr
	if ferr == nil && res.Page.Addr.IsValid() {
		addrs = []netip.Addr{res.Page.Addr}
	}
	if c.Hosting, err = loc.locate(ctx, c.URL, addrs); err != nil {
		return err
	}
	for i := range items {
		it := &items[i]
		if i == 0 || inline(it.URL) {
			// An inline item is part of its page, hosted where it is.
			it.Hosting = c.Hosting
			continue
		}
		if it.Hosting, err = loc.locate(ctx, it.URL, it.Hosting.Addresses); err != nil {
			return err
		}
	}
	hashed := slices.ContainsFunc(items, func(f fetched) bool { return f.SHA256 != "" })
	switch {
	case ferr != nil:
		c.State, c.FetchError, c.Reason = Closed, ferr.Error(), "the URL could not be fetched"
	case res.Page.Gone:
		c.State, c.FetchError, c.Reason = Closed, items[0].failure, "the URL was gone when fetched"
	case again:
		c.FetchAttempts++
		c.State, c.FetchError = Closed, items[0].failure
		c.Reason = fmt.Sprintf("the URL could not be fetched in %d attempts: %s", c.FetchAttempts, items[0].failure)
	case !hashed:
		c.State, c.FetchError, c.Reason = Closed, items[0].failure, "nothing could be fetched"
	default:
		c.State, c.FetchError = Assessing, items[0].failure
		orgs, err := s.st.Orgs(ctx)
		if err != nil {
			return err
		}
		c.Queue = routeQueue(orgs, c.Hosting.Country, c.Source)
	}
	matched := 0
	for _, f := range items {
		if len(f.Matches) > 0 {
			matched++
		}
	}
	return s.st.Update(ctx, func(ctx context.Context, tx Tx) error {
		cur, err := tx.LockCase(ctx, id)
		if err != nil || cur.State != Fetching {
			return err
		}
		// A case not yet fetched is in no hotline's queue unless handed
		// over: the hand-over is kept.
		if cur.Queue != 0 && c.State == Assessing {
			c.Queue = cur.Queue
		}
		for _, f := range items {
			if err := tx.AddItem(ctx, id, f.Item, f.sealed); err != nil {
				return err
			}
		}
		if err := tx.SetFetched(ctx, c); err != nil {
			return err
		}
		detail := fmt.Sprintf("%d resources, %d matched known material", len(items), matched)
		if err := tx.AddEvent(ctx, id, Event{At: c.FetchedAt, Kind: EventFetched, Actor: audit.System, Detail: detail}); err != nil {
			return err
		}
		ev := Event{At: c.FetchedAt, Kind: EventRouted, Actor: audit.System, Org: c.Queue, Detail: "to " + queueName(c.Queue)}
		if c.State == Closed {
			ev = Event{At: c.FetchedAt, Kind: EventClosed, Actor: audit.System, Detail: c.Reason}
		}
		if err := tx.AddEvent(ctx, id, ev); err != nil {
			return err
		}
		return s.audit(ctx, tx, audit.Event{At: c.FetchedAt, Actor: audit.System, Action: "takedown.case.fetch",
			Object: "case:" + id, Purpose: detail, Outcome: audit.OK})
	})
}

// fetchFailed counts a fetch of case id that failed for a reason that
// may pass, cause, and returns an error for the job to be tried again.
func (s *Service) fetchFailed(ctx context.Context, id string, cause error) error {
	attempt := 0
	err := s.st.Update(ctx, func(ctx context.Context, tx Tx) error {
		cur, err := tx.LockCase(ctx, id)
		if err != nil || cur.State != Fetching {
			return err
		}
		attempt = cur.FetchAttempts + 1
		return tx.RecordFetchAttempt(ctx, id, cause.Error())
	})
	if err != nil || attempt == 0 {
		return err
	}
	// Not wrapping cause, which could pass for a permanent error.
	return fmt.Errorf("case %s: the URL could not be fetched (attempt %d of %d), to be tried again: %s",
		id, attempt, s.o.FetchAttempts, cause.Error())
}

// mayPass reports whether resource r could not be fetched for a reason
// that may pass: a timeout, a connection refused or reset, a name that
// could not be resolved for now, an answer 5xx, 408, 425 or 429. Not if
// it is gone (404, 410, 451, a name that does not exist), refused (an address
// that is not public), over a byte limit, in too many redirects, or
// answered another 4xx: fetching again would find the same.
func mayPass(r crawl.Resource) bool {
	switch {
	case r.Err == nil || r.Gone:
		return false
	case errors.Is(r.Err, crawl.ErrRefused), errors.Is(r.Err, crawl.ErrTooLarge), errors.Is(r.Err, crawl.ErrRedirects),
		errors.Is(r.Err, core.ErrInvalid):
		return false
	}
	switch r.Status {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
		return true
	}
	return r.Status/100 != 4
}

// hashAll hashes and matches the page and its embedded resources, one
// at a time, and seals the content to keep if keep (see keeps). Each
// body is dropped from res once hashed and sealed, so that a case's
// content is not held twice (in clear and sealed) while the case is
// stored: at most one body is sealed at a time, and the sealed ones that
// wait for the transaction (sealed before it, as seal.Sealer wants) are
// at most Options.MaxKeptBytes. A decode that must wait too long for the
// budget fails the job, to be tried again later.
func (s *Service) hashAll(ctx context.Context, id string, res *crawl.Result, keep bool) ([]fetched, error) {
	out := make([]fetched, 0, 1+len(res.Embedded))
	var kept int64
	for i := range 1 + len(res.Embedded) {
		r := &res.Page
		if i > 0 {
			r = &res.Embedded[i-1]
		}
		f, err := s.hash(ctx, i, *r)
		if err != nil {
			return nil, err
		}
		if keep && keeps(f, r.Body) {
			if kept+int64(len(r.Body)) > s.o.MaxKeptBytes {
				f.Error = withNote(f.Error, fmt.Sprintf("content not kept: over the case's limit of %d bytes", s.o.MaxKeptBytes))
			} else {
				if f.sealed, err = s.o.Sealer.Seal(ctx, r.Body, ContentAAD(id, i)); err != nil {
					return nil, fmt.Errorf("sealing item %d of case %s: %w", i, id, err)
				}
				f.HasContent = true
				kept += int64(len(r.Body))
			}
		}
		r.Release()
		r.Body = nil
		out = append(out, f)
	}
	return out, nil
}

// busy returns the error of a resource of res that the fetcher could
// not fetch for want of memory (crawl.ErrBusy), nil if none.
func busy(res crawl.Result) error {
	for _, r := range append([]crawl.Resource{res.Page}, res.Embedded...) {
		if errors.Is(r.Err, crawl.ErrBusy) {
			return r.Err
		}
	}
	return nil
}

// hash hashes resource r, item index of its case, and matches it.
func (s *Service) hash(ctx context.Context, index int, r crawl.Resource) (fetched, error) {
	f := fetched{Item: Item{Index: index, URL: r.URL, ContentType: r.ContentType, Size: int64(len(r.Body))}}
	if r.Addr.IsValid() {
		f.Hosting.Addresses = []netip.Addr{r.Addr}
	}
	switch {
	case r.Err != nil:
		f.Error = r.Err.Error()
	case r.Gone:
		f.Error = gone(r)
	}
	if r.Body != nil && r.Err == nil && !r.Gone {
		h := filehash.Hash(ctx, r.Body, filehash.Options{Budget: s.o.Decode})
		if errors.Is(h.Err, media.ErrBusy) {
			return fetched{}, h.Err
		}
		f.SHA256, f.MD5 = h.SHA256, h.MD5
		var ph pdq.Hash
		if h.Err == nil && !h.PDQ.IsZero() {
			f.PDQ, f.Quality = h.PDQ.String(), h.Quality
			if h.Quality >= minQuality {
				ph = h.PDQ
			}
		} else if h.Format != "" {
			f.Error = "the image could not be decoded: " + h.Err.Error()
		}
		ms, err := s.o.Matcher.File(matcher.Query{Threshold: s.o.Threshold, Unverified: true}, ph, nil, h.MD5, h.SHA256)
		if err != nil {
			return fetched{}, fmt.Errorf("matching %s: %w", r.URL, err)
		}
		for _, m := range ms[:min(len(ms), maxMatchesPerItem)] {
			f.Matches = append(f.Matches, Match{Indicator: m.Indicator, List: m.List, Signal: m.Signal,
				Category: m.Category, Distance: m.Distance})
		}
	}
	f.failure = f.Error
	// Not a failure: the content was fetched, the certificate noted.
	if r.TLSError != "" {
		f.Error = withNote(f.Error, "TLS: "+r.TLSError+"; fetched anyway")
	}
	return f, nil
}

// withNote is the error text failure, if any, followed by note.
func withNote(failure, note string) string {
	if failure == "" {
		return note
	}
	return failure + "; " + note
}

// inline reports whether an item's URL is a data: URI of its page, as
// package crawl describes it ("data:image/png;base64 (inline, 1234
// bytes, #3)"): not a URL to fetch, notice or report, but part of the
// page.
func inline(rawURL string) bool { return strings.HasPrefix(rawURL, "data:") }

// keeps reports whether the content of hashed item f, body, is to be
// kept for the analyst: an image or a video (by its type, or its bytes)
// that matched no known material. Known material is never kept (its
// hashes say what it is), nor a page, a text or other content: the
// analyst assesses a page from its media and its URL, and an anonymous
// report must not be able to fill the disk with whatever it points at. A
// match of an unverified list (victim-reported) says only what a person
// sent: no one has assessed it, so the analyst must see the content.
func keeps(f fetched, body []byte) bool {
	if f.SHA256 == "" || slices.ContainsFunc(f.Matches, func(m Match) bool { return m.Category != indicator.Unverified }) {
		return false
	}
	typ, _, _ := strings.Cut(strings.ToLower(f.ContentType), ";")
	typ = strings.TrimSpace(typ)
	if strings.HasPrefix(typ, "image/") || strings.HasPrefix(typ, "video/") {
		return true
	}
	_, ok := media.Sniff(body)
	return ok
}

func gone(r crawl.Resource) string {
	if r.Status != 0 {
		return fmt.Sprintf("gone (HTTP %d)", r.Status)
	}
	return "gone (the name does not resolve)"
}

// locator locates URLs through Options.Locate, once per host (name and
// port) and address within a fetch.
type locator struct {
	s    *Service
	done map[string]Hosting
}

func (l *locator) locate(ctx context.Context, rawURL string, addrs []netip.Addr) (Hosting, error) {
	if l.s.o.Locate == nil {
		return Hosting{Addresses: addrs}, nil
	}
	key := rawURL
	if u, err := url.Parse(rawURL); err == nil {
		key = u.Host
	}
	for _, a := range addrs {
		key += " " + a.String()
	}
	if h, ok := l.done[key]; ok {
		return h, nil
	}
	h, err := l.s.o.Locate(ctx, rawURL, addrs)
	if err != nil {
		return Hosting{}, fmt.Errorf("locating %s: %w", rawURL, err)
	}
	if h.Addresses == nil {
		h.Addresses = addrs
	}
	l.done[key] = h
	return h, nil
}

// routeQueue returns the queue of a case hosted in country and submitted
// by source (0: the public): the submitting hotline if it is of that
// country, else the hotline of the country registered first, else the
// centre's (0).
func routeQueue(orgs []org.Organisation, country string, source int64) int64 {
	if country == "" {
		return 0
	}
	var first int64
	for _, o := range orgs {
		if o.Kind != org.Hotline || o.Country != country {
			continue
		}
		if o.ID == source {
			return source
		}
		if first == 0 || o.ID < first {
			first = o.ID
		}
	}
	return first
}
