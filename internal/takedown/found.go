package takedown

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/takedown/crawl"
)

// Found opens a case for rawURL and reports whether it did, where run of place of the centre's
// search (package takedown/search) found a resource that matched a list:
// a case like a reported one (Source 0, Place place), queued to be
// fetched (JobFetch) in the same transaction, so that the flow fetches
// it again, hashes and matches it, locates and routes it, and waits for
// an analyst's assessment before any notice. Its history starts with an
// EventFound naming the place. If a case of the URL is open (fetching,
// assessment or noticed), or was closed or removed within
// Options.FoundCooldown, whoever reported or found it, Found returns its
// ID and opens none: a run retried, or a place searched again, adds no
// second case while the first is open, and a list poisoned with the
// hashes of harmless images cannot make the analysts assess the same
// page again on every run.
func (s *Service) Found(ctx context.Context, rawURL string, place int64) (id string, opened bool, err error) {
	u, err := CheckURL(rawURL)
	if err != nil {
		return "", false, err
	}
	if place <= 0 {
		return "", false, core.Errorf(core.ErrInvalid, "a case found by the search needs the place that found it")
	}
	r := Record{Case: Case{ID: rand.Text(), URL: u, State: Fetching, Place: place, ReceivedAt: s.now()}}
	err = s.st.Update(ctx, func(ctx context.Context, tx Tx) error {
		var err error
		if id, opened, err = tx.AddFoundCase(ctx, r, r.ReceivedAt.Add(-s.o.FoundCooldown)); err != nil || !opened {
			return err
		}
		if err := tx.QueueJob(ctx, JobFetch, r.ID, r.ReceivedAt); err != nil {
			return err
		}
		detail := fmt.Sprintf("by the centre's search, place %d", place)
		if err := tx.AddEvent(ctx, r.ID, Event{At: r.ReceivedAt, Kind: EventFound, Actor: audit.System, Detail: detail}); err != nil {
			return err
		}
		return s.audit(ctx, tx, audit.Event{At: r.ReceivedAt, Actor: audit.System, Action: "takedown.found",
			Object: "case:" + r.ID, Purpose: detail, Outcome: audit.OK})
	})
	if err != nil {
		return "", false, err
	}
	return id, opened, nil
}

// Match hashes resource r and matches it as Fetch does a case's items:
// PDQ, MD5 and SHA-256 within the decode budget, against every list the
// fetch matches (the unverified ones too), the nearest matches first.
// The Item has no Index, content or hosting. An error is a decode that
// waited too long for the budget (media.ErrBusy), or the matcher's; what
// went wrong with the resource itself is in Item.Error. The caller keeps
// r's Body and releases it.
func (s *Service) Match(ctx context.Context, r crawl.Resource) (Item, error) {
	f, err := s.hash(ctx, 0, r)
	if err != nil {
		return Item{}, err
	}
	f.Hosting = Hosting{}
	return f.Item, nil
}
