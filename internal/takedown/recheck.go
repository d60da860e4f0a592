package takedown

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/hashing/filehash"
	"github.com/wardhq/ward/internal/hashing/pdq"
	"github.com/wardhq/ward/internal/matching/matcher"
	"github.com/wardhq/ward/internal/takedown/crawl"
)

// Batches of RecheckDue: each a scan of an index and one transaction.
const (
	checkBatch    = 200
	noticeBatch   = 500
	escalateBatch = 200
	expireBatch   = 100
)

// RecheckDue queues the notices due to be sent again, escalates the
// cases past the escalation period, deletes the content past its
// retention and rechecks the noticed items that are due: the handler of
// the periodic JobRecheck (and of the JobRecheck that Answer queues).
// The notices and escalations come first, so that rechecks of hosts slow
// to answer never hold them up.
//
// Open notices are not jobs: a noticed item's next recheck is a time on
// its row, and this one sweep finds the due ones through a partial index
// (takedown_items_due), a batch of checkBatch at a time, until none is
// due or Options.RecheckBudget is spent: the rechecks not started by then
// are left due for the next sweep. However many notices are open, the
// job queue holds one recheck job and the notices being sent, so other
// work is not slowed (see BenchmarkRecheckDue).
//
// A recheck finds an item gone (404, 410, 451, the name not resolving;
// for an image, content that no longer matches, see find; for an inline
// item, a page without it, see findInline), there (2xx with the assessed
// content, or any content for an item without a PDQ hash), or learns
// nothing (an error, 5xx, 403). A first finding that it is
// gone is confirmed by a recheck Options.ConfirmAfter later: gone again,
// the item is removed at the first finding; there, it is checked every
// Options.Recheck again. One that learns nothing changes nothing, and the
// item is checked again Options.Recheck later. A case whose every illegal
// item is removed is removed, at the latest item's removal; its notices
// stop.
func (s *Service) RecheckDue(ctx context.Context) error {
	if err := s.renoticeDue(ctx); err != nil {
		return err
	}
	if err := s.escalateDue(ctx); err != nil {
		return err
	}
	if err := s.expireContent(ctx); err != nil {
		return err
	}
	until := s.now().Add(s.o.RecheckBudget)
	for {
		more, err := s.recheckBatch(ctx, until)
		if err != nil || !more {
			return err
		}
	}
}

// recheckBatch rechecks a batch of due items, starting none at or after
// until, and reports whether more may be due: the batch was full and
// checked whole.
func (s *Service) recheckBatch(ctx context.Context, until time.Time) (bool, error) {
	due, err := s.st.DueChecks(ctx, s.now(), checkBatch)
	if err != nil || len(due) == 0 {
		return false, err
	}
	results := make([]CheckResult, len(due))
	checked := make([]bool, len(due))
	var (
		wg   sync.WaitGroup
		next = make(chan int)
	)
	for range min(s.o.RecheckWorkers, len(due)) {
		wg.Go(func() {
			for i := range next {
				if s.now().Before(until) {
					results[i], checked[i] = s.check(ctx, due[i]), true
				}
			}
		})
	}
	for i := range due {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return false, err
	}
	var done []CheckResult
	for i, r := range results {
		if checked[i] {
			r.PrevCheck, r.PrevGone = due[i].LastCheckAt, due[i].GoneAt
			done = append(done, r)
		}
	}
	if len(done) == 0 {
		return false, nil
	}
	return len(due) == checkBatch && len(done) == len(due), s.recordChecks(ctx, done)
}

// finding is what a recheck learnt of an item.
type finding int

const (
	unknown finding = iota // an error, 5xx, 403: nothing
	there                  // the item is still there
	absent                 // the item is gone
)

// check fetches a due item again and says what it found.
func (s *Service) check(ctx context.Context, c Check) CheckResult {
	found := s.look(ctx, c)
	at := s.now()
	r := CheckResult{Case: c.Case, Index: c.Index, At: at, Next: at.Add(s.o.Recheck)}
	switch found {
	case absent:
		if c.GoneAt.IsZero() {
			// One finding is not enough (a CDN's brief 404, a resolver
			// that filters the name): another confirms it.
			r.Gone, r.Next = at, at.Add(s.o.ConfirmAfter)
		} else {
			// Removed at the first finding, so that the confirmation
			// does not lengthen the time to removal.
			r.Gone, r.Removed, r.Next = c.GoneAt, c.GoneAt, time.Time{}
		}
	case unknown:
		r.Gone = c.GoneAt
	}
	return r
}

// look fetches item c again, or for an inline item its page, and says
// what it shows.
func (s *Service) look(ctx context.Context, c Check) finding {
	if inline(c.URL) {
		res, err := s.o.Fetcher.Fetch(ctx, c.Page)
		defer res.Release()
		if err != nil {
			return unknown
		}
		return s.findInline(ctx, c, res)
	}
	res := s.o.Fetcher.Get(ctx, c.URL)
	defer res.Release()
	return s.find(ctx, c, res)
}

// findInline says what res, the page of inline item c fetched again,
// shows: the item is part of the page, so it is gone if the page is
// (404, 410, 451, the name not resolving), or if the page no longer
// embeds an inline resource with its SHA-256 or, for an image, a PDQ
// hash within Options.Threshold of its. An inline resource that could
// not be decoded or hashed now may be it: then nothing is learnt.
func (s *Service) findInline(ctx context.Context, c Check, res crawl.Result) finding {
	switch {
	case res.Page.Gone:
		return absent
	case res.Page.Err != nil || res.Page.Status/100 != 2:
		return unknown
	}
	was, err := pdq.ParseHex(c.PDQ)
	image := c.PDQ != "" && err == nil
	undecided := false
	for _, r := range res.Embedded {
		if !inline(r.URL) {
			continue
		}
		if r.Err != nil {
			undecided = true
			continue
		}
		if sum := sha256.Sum256(r.Body); hex.EncodeToString(sum[:]) == c.SHA256 {
			return there
		}
		if !image {
			continue
		}
		h := filehash.Hash(ctx, r.Body, filehash.Options{Budget: s.o.Decode})
		switch {
		case h.Err == nil && !h.PDQ.IsZero():
			if pdq.Distance(was, h.PDQ) <= s.o.Threshold {
				return there
			}
		case h.Format != "":
			undecided = true
		}
	}
	if undecided {
		return unknown
	}
	return absent
}

// find says what res, a recheck of c, shows. An item is gone if res is
// (404, 410, 451, the name not resolving); for an image (c has a PDQ hash),
// also if res is other content: another SHA-256, a PDQ hash farther than
// Options.Threshold from the assessed one (or none), and no match with
// an active indicator. Other bytes of an item without a PDQ hash (a
// page, a text, a video) show nothing: a page changes at every request
// (a counter, an advertisement) while it stays up.
func (s *Service) find(ctx context.Context, c Check, res crawl.Resource) finding {
	switch {
	case res.Gone:
		return absent
	case res.Err != nil || res.Status/100 != 2:
		return unknown
	case c.PDQ == "":
		return there
	}
	h := filehash.Hash(ctx, res.Body, filehash.Options{Budget: s.o.Decode})
	if h.SHA256 == c.SHA256 {
		return there
	}
	var ph pdq.Hash
	if h.Err == nil && !h.PDQ.IsZero() {
		if was, err := pdq.ParseHex(c.PDQ); err == nil && pdq.Distance(was, h.PDQ) <= s.o.Threshold {
			return there
		}
		if h.Quality >= minQuality {
			ph = h.PDQ
		}
	} else if h.Format != "" {
		// An image that could not be decoded now (the budget busy, or
		// its decoding failing) is not shown to be other content.
		return unknown
	}
	ms, err := s.o.Matcher.File(matcher.Query{Threshold: s.o.Threshold, Unverified: true}, ph, nil, h.MD5, h.SHA256)
	switch {
	case err != nil:
		return unknown
	case len(ms) > 0:
		return there
	}
	return absent
}

// recordChecks records a batch of rechecks in one transaction, and
// removes the cases whose every illegal item is now gone.
func (s *Service) recordChecks(ctx context.Context, results []CheckResult) error {
	return s.st.Update(ctx, func(ctx context.Context, tx Tx) error {
		cases := map[string]bool{}
		var order []string
		for _, r := range results {
			// Another sweep may have recorded the item removed already:
			// its events are not added twice.
			changed, err := tx.RecordCheck(ctx, r)
			if err != nil {
				return err
			}
			if !changed || r.Removed.IsZero() {
				continue
			}
			if err := tx.AddEvent(ctx, r.Case, Event{At: r.Removed, Kind: EventItemGone, Actor: audit.System,
				Detail: "item " + strconv.Itoa(r.Index)}); err != nil {
				return err
			}
			if !cases[r.Case] {
				cases[r.Case] = true
				order = append(order, r.Case)
			}
		}
		for _, id := range order {
			if err := s.removeIfGone(ctx, tx, id); err != nil {
				return err
			}
		}
		return nil
	})
}

// removeIfGone moves noticed case id to state Removed if every illegal
// item of it is removed.
func (s *Service) removeIfGone(ctx context.Context, tx Tx, id string) error {
	c, err := tx.LockCase(ctx, id)
	if err != nil || c.State != Noticed {
		return err
	}
	items, err := tx.Items(ctx, id)
	if err != nil {
		return err
	}
	var last time.Time
	for _, it := range items {
		if !it.Classification.Illegal() {
			continue
		}
		if it.RemovedAt.IsZero() {
			return nil
		}
		if it.RemovedAt.After(last) {
			last = it.RemovedAt
		}
	}
	if last.IsZero() {
		return nil
	}
	if err := tx.SetRemoved(ctx, id, last); err != nil {
		return err
	}
	ttr := last.Sub(c.ReceivedAt).Round(time.Second)
	detail := "every illegal item verified gone, " + ttr.String() + " after the report"
	if err := tx.AddEvent(ctx, id, Event{At: last, Kind: EventRemoved, Actor: audit.System, Detail: detail}); err != nil {
		return err
	}
	return s.audit(ctx, tx, audit.Event{At: last, Actor: audit.System, Action: "takedown.case.removed",
		Object: "case:" + id, Purpose: detail, Outcome: audit.OK})
}

// renoticeDue queues a JobNotice for each notice due to be sent again
// that has none pending. A notice stays due until sent, so that one
// whose job died is queued again by a later sweep.
func (s *Service) renoticeDue(ctx context.Context) error {
	for {
		now := s.now()
		ids, err := s.st.DueNotices(ctx, now, noticeBatch)
		if err != nil || len(ids) == 0 {
			return err
		}
		err = s.st.Update(ctx, func(ctx context.Context, tx Tx) error {
			for _, id := range ids {
				if err := tx.EnsureJob(ctx, JobNotice, id, now); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil || len(ids) < noticeBatch {
			return err
		}
	}
}

// escalateDue flags the cases noticed longer than Options.EscalateAfter
// and not removed for a removal order (CSAR Art 14).
func (s *Service) escalateDue(ctx context.Context) error {
	for {
		now := s.now()
		ids, err := s.st.DueEscalations(ctx, now.Add(-s.o.EscalateAfter), escalateBatch)
		if err != nil || len(ids) == 0 {
			return err
		}
		detail := fmt.Sprintf("not removed %s after its notices", s.o.EscalateAfter)
		err = s.st.Update(ctx, func(ctx context.Context, tx Tx) error {
			for _, id := range ids {
				c, err := tx.LockCase(ctx, id)
				if err != nil {
					return err
				}
				if c.State != Noticed || c.Escalated {
					continue
				}
				if err := tx.SetEscalated(ctx, id); err != nil {
					return err
				}
				if err := tx.AddEvent(ctx, id, Event{At: now, Kind: EventEscalated, Actor: audit.System, Detail: detail}); err != nil {
					return err
				}
				if err := s.audit(ctx, tx, audit.Event{At: now, Actor: audit.System, Action: "takedown.case.escalate",
					Object: "case:" + id, Purpose: detail, Outcome: audit.OK}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil || len(ids) < escalateBatch {
			return err
		}
	}
}

// expireContent deletes the content of the cases fetched
// Options.ContentRetention ago or earlier, whatever their state (see the
// package documentation): their hashes and matches stay.
func (s *Service) expireContent(ctx context.Context) error {
	for {
		now := s.now()
		before := now.Add(-s.o.ContentRetention)
		ids, err := s.st.ExpiredContent(ctx, before, expireBatch)
		if err != nil || len(ids) == 0 {
			return err
		}
		detail := fmt.Sprintf("content deleted %s after the fetch", s.o.ContentRetention)
		err = s.st.Update(ctx, func(ctx context.Context, tx Tx) error {
			for _, id := range ids {
				// Deleted by another sweep meanwhile, it is not recorded twice.
				deleted, err := tx.ExpireContent(ctx, id, before)
				if err != nil {
					return err
				}
				if !deleted {
					continue
				}
				if err := tx.AddEvent(ctx, id, Event{At: now, Kind: EventContentDeleted, Actor: audit.System, Detail: detail}); err != nil {
					return err
				}
				if err := s.audit(ctx, tx, audit.Event{At: now, Actor: audit.System, Action: "takedown.content.expire",
					Object: "case:" + id, Purpose: detail, Outcome: audit.OK}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil || len(ids) < expireBatch {
			return err
		}
	}
}
