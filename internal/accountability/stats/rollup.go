package stats

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Rollup counts the days not yet final, from the first that is not (the
// day of the earliest event, on the first run) through today, in order,
// each in its own transaction, and finalises those that have settled: the
// handler of JobRollup. A roll-up interrupted keeps the days it finished
// and goes on from there the next time. Running it again, or twice at
// once, counts the same.
func (s *Service) Rollup(ctx context.Context) error {
	started := time.Now()
	now := s.o.Clock.Now()
	today := dayOf(now)
	st, err := s.st.RollupState(ctx)
	if err != nil {
		return err
	}
	first := st.FinalThrough.AddDate(0, 0, 1)
	if st.FinalThrough.IsZero() {
		at, err := s.st.FirstEvent(ctx)
		if err != nil {
			return err
		}
		first = today
		if !at.IsZero() && at.Before(now) {
			first = dayOf(at)
		}
	}
	// The stocks carry over from the day before the first counted.
	stocks, err := s.st.Stocks(ctx, first.AddDate(0, 0, -1))
	if err != nil {
		return err
	}
	total := int(today.Sub(first)/(24*time.Hour)) + 1
	reported := started
	for i, day := 0, first; !day.After(today); i, day = i+1, day.AddDate(0, 0, 1) {
		ev, err := s.st.DayEvents(ctx, day)
		if err != nil {
			return fmt.Errorf("counting %s: %w", day.Format(DateLayout), err)
		}
		d := dayCounts(day, ev, stocks)
		d.Final, d.At = !day.AddDate(0, 0, 1).Add(Settle).After(now), now
		if err := s.st.SaveDay(ctx, d); err != nil {
			return fmt.Errorf("saving the statistics of %s: %w", day.Format(DateLayout), err)
		}
		stocks = d.Stocks
		if s.o.Progress != nil && total >= progressDays && (i == total-1 || time.Since(reported) >= ProgressEvery) {
			reported = time.Now()
			s.o.Progress(Progress{Day: day, Done: i + 1, Total: total, Elapsed: time.Since(started)})
		}
	}
	return nil
}

// dayCounts makes the figures of day from its events, and its stocks
// from those of the day before.
func dayCounts(day time.Time, ev Events, before map[string]int64) DayCounts {
	var cs []Count
	add := func(figure, key string, n int64) {
		if n > 0 {
			cs = append(cs, Count{Figure: figure, Key: key, N: n})
		}
	}
	sums := map[[2]string]int64{}
	for _, r := range ev.Received {
		sums[[2]string{figReceived, ""}] += r.N
		sums[[2]string{figByProvider, r.Provider}] += r.N
		sums[[2]string{figByType, r.Type}] += r.N
		if r.Urgent {
			sums[[2]string{figUrgent, ""}] += r.N
		}
	}
	for material, n := range ev.Triaged {
		sums[[2]string{figMaterial, material}] += n
	}
	for country, n := range ev.Routed {
		sums[[2]string{figByCountry, country}] += n
	}
	for k, n := range sums {
		add(k[0], k[1], n)
	}
	toForward := Histogram{}
	for _, d := range ev.ToForward {
		toForward.Add(d)
	}
	add(figForwarded, "", int64(len(ev.ToForward)))
	cs = append(cs, toForward.counts(figForwardTime)...)
	add(figUnfounded, "", ev.Unfounded)
	add(figAdded, "", ev.Activated)
	add(figWithdrawn, "", ev.Withdrawn)
	add(figQuarantined, "", ev.QuarantinesBegun)
	add(figFalsePositive, "", ev.FalsePositives)
	add(figComplaints, "", ev.Complaints)
	add(figUpheld, "", ev.Upheld)
	add(figRejected, "", ev.Rejected)
	add(figURLs, "", ev.URLsReported)
	add(figNotices, "", ev.Notices)
	toRemoval := Histogram{}
	var in3d int64
	for _, d := range ev.ToRemoval {
		toRemoval.Add(d)
		if d <= 3*24*time.Hour {
			in3d++
		}
	}
	add(figRemoved, "", int64(len(ev.ToRemoval)))
	cs = append(cs, toRemoval.counts(figRemovalTime)...)
	add(figRemoved3d, "", in3d)
	slices.SortFunc(cs, func(a, b Count) int { return cmp.Or(cmp.Compare(a.Figure, b.Figure), cmp.Compare(a.Key, b.Key)) })

	stocks := maps.Clone(before)
	if stocks == nil {
		stocks = map[string]int64{}
	}
	stocks[stockListed] += ev.Activated - ev.WithdrawnListed
	stocks[stockQuarantine] += ev.QuarantinesBegun - ev.QuarantinesEnded
	return DayCounts{Day: day, Counts: cs, Stocks: stocks}
}
