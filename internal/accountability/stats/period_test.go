package stats_test

import (
	"errors"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/accountability/stats"
	"github.com/wardhq/ward/internal/core"
)

func TestParsePeriod(t *testing.T) {
	now := time.Date(2026, 3, 14, 23, 59, 0, 0, time.UTC)
	for _, tc := range []struct {
		from, to string
		want     string // "FROM TO", or the error
	}{
		{"", "", "2025-03-15 2026-03-14"},
		{"2026-01-01", "", "2026-01-01 2026-03-14"},
		{"", "2025-12-31", "2025-01-01 2025-12-31"},
		{"2026-03-14", "2026-03-14", "2026-03-14 2026-03-14"},
		{"2021-03-14", "2026-03-14", "2021-03-14 2026-03-14"}, // 5 years and a day: 1827 days
		{"2021-03-13", "2026-03-14", "from: the period must be at most 1827 days: from must be on or after 2021-03-14"},
		{"2026-03-15", "2026-03-15", "to: must not be after today, 2026-03-14 (UTC)"},
		{"2026-03-15", "", "from: must not be after today, 2026-03-14 (UTC)"},
		{"2026-03-14", "2026-03-15", "to: must not be after today, 2026-03-14 (UTC)"},
		{"2026-03-02", "2026-03-01", "to: must not be before from, 2026-03-02"},
		{"14.03.2026", "", `from: must be a date as YYYY-MM-DD, not "14.03.2026"`},
		{"2026-02-30", "x", `from: must be a date as YYYY-MM-DD, not "2026-02-30"; to: must be a date as YYYY-MM-DD, not "x"`},
	} {
		p, err := stats.ParsePeriod(tc.from, tc.to, now)
		got := ""
		if err != nil {
			got = err.Error()
			var pe *stats.PeriodError
			if !errors.As(err, &pe) || !errors.Is(err, core.ErrInvalid) {
				t.Errorf("%q %q: error %T is not a *PeriodError of ErrInvalid", tc.from, tc.to, err)
			}
		} else {
			got = p.From.Format(stats.DateLayout) + " " + p.To.Format(stats.DateLayout)
		}
		if got != tc.want {
			t.Errorf("ParsePeriod(%q, %q) = %s, want %s", tc.from, tc.to, got, tc.want)
		}
	}
}
