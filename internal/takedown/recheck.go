package takedown

import (
	"context"
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
)

// RecheckDue rechecks the noticed items that are due, re-sends the
// notices that are due and escalates the cases past the escalation
// period: the handler of the periodic JobRecheck (and of the JobRecheck
// that Answer queues).
//
// Open notices are not jobs: a noticed item's next recheck is a time on
// its row, and this one sweep finds the due ones through a partial index
// (takedown_items_due), a batch of checkBatch at a time, until none is
// due. However many notices are open, the job queue holds one recheck job
// and the notices being sent, so other work is not slowed (see
// BenchmarkRecheckDue).
//
// An item is verified gone when the recheck finds it gone (404, 410, the
// name not resolving), or answering 2xx with content that no longer
// matches: another SHA-256, a PDQ hash farther than Options.Threshold
// from the assessed one (or none), and no match with an active
// indicator. Any other answer (an error, 5xx, 403) verifies nothing, and
// the item is checked again Options.Recheck later. A case whose every
// illegal item is gone is removed, at the latest item's removal; its
// notices stop.
func (s *Service) RecheckDue(ctx context.Context) error {
	for {
		n, err := s.recheckBatch(ctx)
		if err != nil {
			return err
		}
		if n < checkBatch {
			break
		}
	}
	if err := s.renoticeDue(ctx); err != nil {
		return err
	}
	return s.escalateDue(ctx)
}

// recheckBatch rechecks a batch of due items and returns its size.
func (s *Service) recheckBatch(ctx context.Context) (int, error) {
	now := s.now()
	due, err := s.st.DueChecks(ctx, now, checkBatch)
	if err != nil || len(due) == 0 {
		return 0, err
	}
	results := make([]CheckResult, len(due))
	var (
		wg   sync.WaitGroup
		next = make(chan int)
	)
	for range min(s.o.RecheckWorkers, len(due)) {
		wg.Go(func() {
			for i := range next {
				results[i] = s.check(ctx, due[i])
			}
		})
	}
	for i := range due {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return len(due), s.recordChecks(ctx, results)
}

// check fetches a due item again and says whether it is gone.
func (s *Service) check(ctx context.Context, c Check) CheckResult {
	res := s.o.Fetcher.Get(ctx, c.URL)
	at := s.now()
	r := CheckResult{Case: c.Case, Index: c.Index, At: at, Next: at.Add(s.o.Recheck)}
	if s.gone(ctx, c, res) {
		r.Next, r.Removed = time.Time{}, at
	}
	return r
}

func (s *Service) gone(ctx context.Context, c Check, res crawl.Resource) bool {
	if res.Gone {
		return true
	}
	if res.Err != nil || res.Status/100 != 2 {
		return false
	}
	h := filehash.Hash(ctx, res.Body, filehash.Options{Budget: s.o.Decode})
	if h.SHA256 == c.SHA256 || (h.SHA256 == "" && h.Err != nil) {
		return false
	}
	var ph pdq.Hash
	if h.Err == nil && !h.PDQ.IsZero() {
		if was, err := pdq.ParseHex(c.PDQ); err == nil && pdq.Distance(was, h.PDQ) <= s.o.Threshold {
			return false
		}
		if h.Quality >= minQuality {
			ph = h.PDQ
		}
	} else if h.Format != "" {
		// An image that could not be decoded now (the budget busy, or
		// its decoding failing) is not shown to be other content.
		return false
	}
	ms, err := s.o.Matcher.File(matcher.Query{Threshold: s.o.Threshold}, ph, nil, h.MD5, h.SHA256)
	return err == nil && len(ms) == 0
}

// recordChecks records a batch of rechecks in one transaction, and
// removes the cases whose every illegal item is now gone.
func (s *Service) recordChecks(ctx context.Context, results []CheckResult) error {
	return s.st.Update(ctx, func(ctx context.Context, tx Tx) error {
		cases := map[string]bool{}
		var order []string
		for _, r := range results {
			if err := tx.RecordCheck(ctx, r); err != nil {
				return err
			}
			if r.Removed.IsZero() {
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
// item of it is gone.
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
