package httpapi

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/ratelimit"
	"github.com/wardhq/ward/internal/accountability/stats"
	"github.com/wardhq/ward/internal/core"
)

// statisticsRoutes are the public transparency statistics: no key, limited
// per address by StatsLimit.
func (s *Server) statisticsRoutes() []route {
	return []route{{"GET /v1/public/statistics", noKey, s.statistics}}
}

// StatisticsMaxAge is how long a client or cache may keep the statistics:
// they change only with a roll-up, every few minutes.
const StatisticsMaxAge = time.Minute

var errNoStats = core.Errorf(core.ErrUnavailable, "this server does not publish statistics")

func (s *Server) statistics(w http.ResponseWriter, r *http.Request, _ org.Principal) error {
	if s.Stats == nil {
		return errNoStats
	}
	if s.StatsLimit != nil {
		if ok, wait := s.StatsLimit.Allow(r.RemoteAddr); !ok {
			return &core.RetryAfter{Err: ratelimit.ErrLimited, Wait: wait}
		}
	}
	q := r.URL.Query()
	var errs fieldErrors
	format := q.Get("format")
	if format != "" && format != "json" && format != "csv" {
		errs.add("/format", fmt.Errorf("must be json or csv, not %q", clip(format, 40)))
	}
	p, err := stats.ParsePeriod(q.Get("from"), q.Get("to"), time.Now())
	var pe *stats.PeriodError
	if errors.As(err, &pe) {
		for _, pr := range pe.Problems {
			errs.add("/"+pr.Param, errors.New(pr.Message))
		}
	} else if err != nil {
		return err
	}
	if err := errs.err(); err != nil {
		return err
	}
	st, err := s.Stats.Statistics(r.Context(), p)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(StatisticsMaxAge.Seconds())))
	h.Set("X-Content-Type-Options", "nosniff")
	if format == "csv" {
		h.Set("Content-Type", "text/csv; charset=utf-8")
		h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="statistics-%s-%s.csv"`,
			p.From.Format(stats.DateLayout), p.To.Format(stats.DateLayout)))
		return writeStatisticsCSV(w, st)
	}
	h.Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(wireStatistics(st))
}

// writeStatisticsCSV writes st as CSV: a header, then one row per figure
// (stats.Statistics.Rows): figure, key, value. A key that a spreadsheet
// would take for a formula (starting with =, +, -, @, a tab or a carriage
// return) is written after an apostrophe, as OWASP advises.
func writeStatisticsCSV(w io.Writer, st stats.Statistics) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"figure", "key", "value"})
	for _, row := range st.Rows() {
		key := row.Key
		if key != "" && strings.ContainsRune("=+-@\t\r", rune(key[0])) {
			key = "'" + key
		}
		cw.Write([]string{row.Figure, key, row.Value})
	}
	cw.Flush()
	return cw.Error()
}

// wireStatistics is st as the API sends it.
func wireStatistics(st stats.Statistics) client.Statistics {
	day := func(t time.Time, layout string) *string {
		if t.IsZero() {
			return nil
		}
		s := t.UTC().Format(layout)
		return &s
	}
	median := func(h float64, ok bool) *float64 {
		if !ok {
			return nil
		}
		return &h
	}
	r, i, c, td := st.Reports, st.Indicators, st.Complaints, st.Takedown
	out := client.Statistics{
		From: st.Period.From.Format(stats.DateLayout), To: st.Period.To.Format(stats.DateLayout),
		UpdatedAt: day(st.UpdatedAt, time.RFC3339), FinalThrough: day(st.FinalThrough, stats.DateLayout),
		Reports: client.ReportStatistics{Received: r.Received, ByProvider: r.ByProvider, ByCountry: r.ByCountry,
			ByType: r.TypeCounts(), Known: r.Known, New: r.New, Urgent: r.Urgent, Unfounded: r.Unfounded, Forwarded: r.Forwarded,
			MedianHoursToForward: median(r.MedianHoursToForward())},
		Indicators: client.IndicatorStatistics{Active: i.Active, InQuarantine: i.InQuarantine, Added: i.Added, Withdrawn: i.Withdrawn,
			Quarantined: i.Quarantined, FalsePositiveVerdicts: i.FalsePositives},
		Complaints: client.ComplaintStatistics{Received: c.Received, Upheld: c.Upheld, Rejected: c.Rejected},
		Takedown: client.TakedownStatistics{URLsReported: td.URLsReported, Notices: td.Notices, Removed: td.Removed,
			MedianHoursToRemoval: median(td.MedianHoursToRemoval()), RemovedWithin3Days: td.RemovedIn3Days},
		Months: []client.MonthStatistics{},
	}
	for _, m := range st.Months {
		out.Months = append(out.Months, client.MonthStatistics{Month: m.Month.Format("2006-01"), ReportsReceived: m.Received,
			ReportsForwarded: m.Forwarded, IndicatorsAdded: m.Added, URLsReported: m.URLsReported, TakedownRemoved: m.Removed})
	}
	return out
}
