package org

import (
	"testing"
	"time"
)

func TestParseExpiry(t *testing.T) {
	now := time.Date(2026, 3, 2, 15, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"90d", now.AddDate(0, 0, 90)},
		{"1d", now.AddDate(0, 0, 1)},
		{"2027-01-01", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"2027-01-01T12:00:00+01:00", time.Date(2027, 1, 1, 11, 0, 0, 0, time.UTC)},
	} {
		if got, err := ParseExpiry(tc.in, now); err != nil || !got.Equal(tc.want) {
			t.Errorf("ParseExpiry(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "d", "0d", "-5d", "99999d", "90", "3m", "2027-13-01", "tomorrow"} {
		if got, err := ParseExpiry(in, now); err == nil {
			t.Errorf("ParseExpiry(%q) = %v, want an error", in, got)
		}
	}
}
