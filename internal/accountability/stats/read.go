package stats

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wardhq/ward/internal/core"
)

// DateLayout is the form of a day in the API, the page and the store.
const DateLayout = "2006-01-02"

// Limits of a period.
const (
	// DefaultDays is the period when none is asked for: the last 365
	// days, today included.
	DefaultDays = 365
	// MaxDays bounds a period: five years.
	MaxDays = 5*365 + 2
)

// Period is a range of whole UTC days, both included.
type Period struct {
	From, To time.Time
}

// Days is the number of days of p.
func (p Period) Days() int { return int(p.To.Sub(p.From)/(24*time.Hour)) + 1 }

// PeriodError lists what is wrong with the parameters of a period, each
// named by its parameter ("from", "to"). It wraps core.ErrInvalid.
type PeriodError struct {
	Problems []Problem
}

// Problem is what is wrong with one parameter: Message says it in
// English; Code and Arg say it for a translation.
type Problem struct {
	Param, Message string
	Code           string // one of the Code constants
	Arg            string // the date the message names, or what was sent
}

// The codes of a Problem.
const (
	CodeDate       = "date"        // not a date as YYYY-MM-DD (Arg: what was sent)
	CodeFuture     = "future"      // to is after today (Arg: today)
	CodeBeforeFrom = "before_from" // to is before from (Arg: from)
	CodeTooLong    = "too_long"    // the period is over MaxDays (Arg: the earliest from)
)

func (e *PeriodError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s: %s", p.Param, p.Message)
	}
	return b.String()
}

func (e *PeriodError) Unwrap() error { return core.ErrInvalid }

// ParsePeriod reads a period from its days from and to as YYYY-MM-DD
// (UTC), each "" for its default: to is today, from DefaultDays−1 days
// before to. Neither may be after today, to not before from, and the
// period is at most MaxDays long; otherwise the error is a *PeriodError.
func ParsePeriod(from, to string, now time.Time) (Period, error) {
	var (
		p    Period
		errs PeriodError
	)
	today := dayOf(now)
	p.To = today
	for _, f := range []struct {
		name, v string
		day     *time.Time
	}{{"from", from, &p.From}, {"to", to, &p.To}} {
		if f.v == "" {
			continue
		}
		d, err := time.Parse(DateLayout, f.v)
		if err != nil {
			errs.Problems = append(errs.Problems, Problem{f.name, fmt.Sprintf("must be a date as YYYY-MM-DD, not %q", clip(f.v)), CodeDate, clip(f.v)})
			continue
		}
		*f.day = d
	}
	if len(errs.Problems) > 0 {
		return Period{}, &errs
	}
	if p.From.IsZero() {
		p.From = p.To.AddDate(0, 0, 1-DefaultDays)
	}
	switch earliest := p.To.AddDate(0, 0, 1-MaxDays).Format(DateLayout); {
	case to == "" && p.From.After(today):
		errs.Problems = append(errs.Problems, Problem{"from", fmt.Sprintf("must not be after today, %s (UTC)", today.Format(DateLayout)),
			CodeFuture, today.Format(DateLayout)})
	case p.To.After(today):
		errs.Problems = append(errs.Problems, Problem{"to", fmt.Sprintf("must not be after today, %s (UTC)", today.Format(DateLayout)),
			CodeFuture, today.Format(DateLayout)})
	case p.To.Before(p.From):
		errs.Problems = append(errs.Problems, Problem{"to", fmt.Sprintf("must not be before from, %s", p.From.Format(DateLayout)),
			CodeBeforeFrom, p.From.Format(DateLayout)})
	case p.Days() > MaxDays:
		errs.Problems = append(errs.Problems, Problem{"from", fmt.Sprintf("the period must be at most %d days: from must be on or after %s",
			MaxDays, earliest), CodeTooLong, earliest})
	}
	if len(errs.Problems) > 0 {
		return Period{}, &errs
	}
	return p, nil
}

// clip shortens what a requester sent, at a character boundary, for a
// message that quotes it.
func clip(s string) string {
	const most = 40
	if len(s) <= most {
		return s
	}
	n := most
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// Statistics are the figures of a period; docs/statistics.md defines
// each.
type Statistics struct {
	Period Period
	// UpdatedAt is when the roll-up last counted a day (zero if never):
	// events since are not counted yet.
	UpdatedAt time.Time
	// FinalThrough is the last day that is final (zero if none).
	FinalThrough time.Time

	Reports    ReportFigures
	Indicators IndicatorFigures
	Complaints ComplaintFigures
	Takedown   TakedownFigures
	// Months are the period's months in order, each with the counts of
	// its days in the period, for charts.
	Months []Month
}

// ReportFigures are the figures of providers' reports.
type ReportFigures struct {
	Received   int64
	ByProvider map[string]int64 // received, by the provider's name
	ByType     map[string]int64 // received, by type as stated
	// ByCountry counts deliveries of forwarded reports to competent
	// authorities, by the authority's country.
	ByCountry  map[string]int64
	Known, New int64 // triaged, by material found
	Urgent     int64 // received, urgent
	Unfounded  int64
	Forwarded  int64
	// ToForward is the histogram of the times from receipt to the
	// decision to forward.
	ToForward Histogram
}

// IndicatorFigures are the figures of the lists' indicators.
type IndicatorFigures struct {
	// Active is how many were on the lists and not in quarantine at the
	// end of the period; InQuarantine how many were in quarantine.
	Active, InQuarantine int64
	Added, Withdrawn     int64
	Quarantined          int64 // quarantines begun
	FalsePositives       int64 // verdicts of false positives
}

// ComplaintFigures are the figures of complaints.
type ComplaintFigures struct {
	Received, Upheld, Rejected int64
}

// TakedownFigures are the figures of the hotline channel.
type TakedownFigures struct {
	URLsReported int64
	Notices      int64 // notices sent, each once
	Removed      int64 // cases whose removal was verified
	// ToRemoval is the histogram of the times from report to verified
	// removal; RemovedIn3Days counts those of 3 days or less.
	ToRemoval      Histogram
	RemovedIn3Days int64
}

// Month is the counts of one month's days in the period.
type Month struct {
	Month time.Time // its first day
	// The counts charted.
	Received, Forwarded, URLsReported, Removed, Added int64
}

// Statistics returns the figures of p, from the roll-ups saved so far.
func (s *Service) Statistics(ctx context.Context, p Period) (Statistics, error) {
	if p.To.Before(p.From) {
		return Statistics{}, core.Errorf(core.ErrInvalid, "the period must not end before it starts")
	}
	t, err := s.st.Totals(ctx, p.From, p.To)
	if err != nil {
		return Statistics{}, err
	}
	out := Statistics{Period: p, UpdatedAt: t.State.UpdatedAt, FinalThrough: t.State.FinalThrough,
		Reports: ReportFigures{ByProvider: map[string]int64{}, ByType: map[string]int64{}, ByCountry: map[string]int64{},
			ToForward: Histogram{}},
		Takedown: TakedownFigures{ToRemoval: Histogram{}}}
	months := map[time.Time]*Month{}
	for m := monthOf(p.From); !m.After(p.To); m = m.AddDate(0, 1, 0) {
		out.Months = append(out.Months, Month{Month: m})
	}
	for i := range out.Months {
		months[out.Months[i].Month] = &out.Months[i]
	}
	r, ind, c, td := &out.Reports, &out.Indicators, &out.Complaints, &out.Takedown
	for _, mc := range t.Months {
		m := months[monthOf(mc.Month)]
		if m == nil {
			continue // not in the period: the store reads none such
		}
		n := mc.N
		switch mc.Figure {
		case figReceived:
			r.Received += n
			m.Received += n
		case figByProvider:
			r.ByProvider[mc.Key] += n
		case figByType:
			r.ByType[mc.Key] += n
		case figByCountry:
			r.ByCountry[mc.Key] += n
		case figUrgent:
			r.Urgent += n
		case figMaterial:
			switch mc.Key {
			case "known":
				r.Known += n
			case "new":
				r.New += n
			}
		case figForwarded:
			r.Forwarded += n
			m.Forwarded += n
		case figForwardTime:
			r.ToForward.add(mc.Count)
		case figUnfounded:
			r.Unfounded += n
		case figAdded:
			ind.Added += n
			m.Added += n
		case figWithdrawn:
			ind.Withdrawn += n
		case figQuarantined:
			ind.Quarantined += n
		case figFalsePositive:
			ind.FalsePositives += n
		case figComplaints:
			c.Received += n
		case figUpheld:
			c.Upheld += n
		case figRejected:
			c.Rejected += n
		case figURLs:
			td.URLsReported += n
			m.URLsReported += n
		case figNotices:
			td.Notices += n
		case figRemoved:
			td.Removed += n
			m.Removed += n
		case figRemovalTime:
			td.ToRemoval.add(mc.Count)
		case figRemoved3d:
			td.RemovedIn3Days += n
		}
	}
	ind.InQuarantine = t.Stocks[stockQuarantine]
	ind.Active = t.Stocks[stockListed] - ind.InQuarantine
	return out, nil
}
