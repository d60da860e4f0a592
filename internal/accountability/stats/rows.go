package stats

import (
	"maps"
	"math"
	"slices"
	"strconv"
	"time"
)

// Types are the report types by_type always lists, with zeros.
var Types = []string{"known", "new", "solicitation"}

// Hours is d in hours, rounded to two decimals, as medians are published.
func Hours(d time.Duration) float64 { return math.Round(d.Hours()*100) / 100 }

// MedianHoursToForward is the median time from receipt to the decision
// to forward, in hours; false if nothing was forwarded.
func (r ReportFigures) MedianHoursToForward() (float64, bool) {
	d, ok := r.ToForward.Median()
	return Hours(d), ok
}

// MedianHoursToRemoval is the median time from report to verified
// removal, in hours; false if nothing was removed.
func (t TakedownFigures) MedianHoursToRemoval() (float64, bool) {
	d, ok := t.ToRemoval.Median()
	return Hours(d), ok
}

// Row is one figure as the CSV form lists it: its name (the JSON's path,
// dotted), its key ("" if none: a provider, a country, a type, a month)
// and its value.
type Row struct {
	Figure, Key, Value string
}

// Rows lists s as the CSV form does: the period, then every figure in the
// order of the JSON, keyed figures by key, then the monthly counts. A
// median that cannot be had (nothing counted) has an empty value.
func (s Statistics) Rows() []Row {
	var rows []Row
	n := func(figure string, v int64) { rows = append(rows, Row{figure, "", strconv.FormatInt(v, 10)}) }
	keyed := func(figure string, m map[string]int64) {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			rows = append(rows, Row{figure, k, strconv.FormatInt(m[k], 10)})
		}
	}
	median := func(figure string, h float64, ok bool) {
		v := ""
		if ok {
			v = strconv.FormatFloat(h, 'f', -1, 64)
		}
		rows = append(rows, Row{figure, "", v})
	}
	updated := ""
	if !s.UpdatedAt.IsZero() {
		updated = s.UpdatedAt.UTC().Format(time.RFC3339)
	}
	rows = append(rows, Row{"from", "", s.Period.From.Format(DateLayout)}, Row{"to", "", s.Period.To.Format(DateLayout)},
		Row{"updated_at", "", updated})
	r := s.Reports
	n("reports.received", r.Received)
	keyed("reports.by_provider", r.ByProvider)
	keyed("reports.by_country", r.ByCountry)
	keyed("reports.by_type", r.TypeCounts())
	n("reports.known", r.Known)
	n("reports.new", r.New)
	n("reports.urgent", r.Urgent)
	n("reports.unfounded", r.Unfounded)
	n("reports.forwarded", r.Forwarded)
	h, ok := r.MedianHoursToForward()
	median("reports.median_hours_to_forward", h, ok)
	i := s.Indicators
	n("indicators.active", i.Active)
	n("indicators.in_quarantine", i.InQuarantine)
	n("indicators.added", i.Added)
	n("indicators.withdrawn", i.Withdrawn)
	n("indicators.quarantined", i.Quarantined)
	n("indicators.false_positive_verdicts", i.FalsePositives)
	n("complaints.received", s.Complaints.Received)
	n("complaints.upheld", s.Complaints.Upheld)
	n("complaints.rejected", s.Complaints.Rejected)
	t := s.Takedown
	n("takedown.urls_reported", t.URLsReported)
	n("takedown.notices", t.Notices)
	n("takedown.removed", t.Removed)
	h, ok = t.MedianHoursToRemoval()
	median("takedown.median_hours_to_removal", h, ok)
	n("takedown.removed_within_3_days", t.RemovedIn3Days)
	for _, series := range []struct {
		figure string
		v      func(Month) int64
	}{
		{"months.reports_received", func(m Month) int64 { return m.Received }},
		{"months.reports_forwarded", func(m Month) int64 { return m.Forwarded }},
		{"months.indicators_added", func(m Month) int64 { return m.Added }},
		{"months.urls_reported", func(m Month) int64 { return m.URLsReported }},
		{"months.takedown_removed", func(m Month) int64 { return m.Removed }},
	} {
		for _, m := range s.Months {
			rows = append(rows, Row{series.figure, m.Month.Format("2006-01"), strconv.FormatInt(series.v(m), 10)})
		}
	}
	return rows
}

// TypeCounts is ByType with every type of Types, zeros included.
func (r ReportFigures) TypeCounts() map[string]int64 {
	out := map[string]int64{}
	for _, t := range Types {
		out[t] = 0
	}
	for t, n := range r.ByType {
		out[t] += n
	}
	return out
}
