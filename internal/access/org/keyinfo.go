package org

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseExpiry reads when a key stops working: a number of days ("90d")
// from now, a date (the key stops at its start, UTC) or an RFC 3339 time.
func ParseExpiry(s string, now time.Time) (time.Time, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 1 || days > 10*366 {
			return time.Time{}, fmt.Errorf("%q: want a number of days from 1 to 3660, such as 90d", s)
		}
		return now.AddDate(0, 0, days), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q: want days (90d), a date (2027-01-01) or an RFC 3339 time", s)
}

// State is "active", "expired" (at now) or "revoked".
func (k Key) State(now time.Time) string {
	switch {
	case !k.RevokedAt.IsZero():
		return "revoked"
	case !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
		return "expired"
	}
	return "active"
}

// Describe says what k may do and until when.
func (k Key) Describe() string {
	scopes := "all actions of its organisation"
	if len(k.Scopes) > 0 {
		scopes = "scopes " + strings.Join(k.Scopes, ",")
	}
	expires := "never expires"
	if !k.ExpiresAt.IsZero() {
		expires = "expires " + k.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return scopes + ", " + expires
}
