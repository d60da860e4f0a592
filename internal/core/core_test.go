package core

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"
)

func TestErrorf(t *testing.T) {
	inner := errors.New("disk full")
	for _, tc := range []struct {
		err    error
		kind   error
		msg    string
		status int
	}{
		{Errorf(ErrNotFound, "report %s", "R1"), ErrNotFound, "report R1", http.StatusNotFound},
		{Errorf(ErrInvalid, "bad: %w", inner), ErrInvalid, "bad: disk full", http.StatusBadRequest},
		{fmt.Errorf("loading: %w", Errorf(ErrConflict, "taken")), ErrConflict, "loading: taken", http.StatusConflict},
		{ErrForbidden, ErrForbidden, "forbidden", http.StatusForbidden},
		{Errorf(ErrUnauthenticated, "no key"), ErrUnauthenticated, "no key", http.StatusUnauthorized},
		{Errorf(ErrTooLarge, "big"), ErrTooLarge, "big", http.StatusRequestEntityTooLarge},
		{Errorf(ErrUnprocessable, "corrupt"), ErrUnprocessable, "corrupt", http.StatusUnprocessableEntity},
		{&RetryAfter{Err: Errorf(ErrTooMany, "slow down"), Wait: time.Second}, ErrTooMany, "slow down", http.StatusTooManyRequests},
		{&RetryAfter{Err: Errorf(ErrUnavailable, "busy"), Wait: time.Second}, ErrUnavailable, "busy", http.StatusServiceUnavailable},
		{inner, nil, "disk full", http.StatusInternalServerError},
	} {
		if got := Kind(tc.err); got != tc.kind {
			t.Errorf("Kind(%v) = %v, want %v", tc.err, got, tc.kind)
		}
		if tc.err.Error() != tc.msg {
			t.Errorf("message %q, want %q", tc.err.Error(), tc.msg)
		}
		if got := HTTPStatus(tc.err); got != tc.status {
			t.Errorf("HTTPStatus(%v) = %d, want %d", tc.err, got, tc.status)
		}
	}
	if err := Errorf(ErrInvalid, "bad: %w", inner); !errors.Is(err, inner) {
		t.Error("the wrapped error is lost")
	}
}

func TestRetrySeconds(t *testing.T) {
	for _, tc := range []struct {
		err  error
		secs int
		ok   bool
	}{
		{&RetryAfter{Err: ErrTooMany, Wait: 1500 * time.Millisecond}, 2, true},
		{&RetryAfter{Err: ErrUnavailable, Wait: 0}, 1, true},
		{fmt.Errorf("wrapped: %w", &RetryAfter{Err: ErrUnavailable, Wait: 3 * time.Second}), 3, true},
		{ErrTooMany, 1, true},
		{ErrNotFound, 0, false},
	} {
		if secs, ok := RetrySeconds(tc.err); secs != tc.secs || ok != tc.ok {
			t.Errorf("RetrySeconds(%v) = %d, %v; want %d, %v", tc.err, secs, ok, tc.secs, tc.ok)
		}
	}
}

func TestClock(t *testing.T) {
	at := time.Date(2026, 5, 1, 12, 0, 0, 123456789, time.FixedZone("CEST", 2*3600))
	got := Clock(func() time.Time { return at }).Now()
	if want := time.Date(2026, 5, 1, 10, 0, 0, 123456000, time.UTC); !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("Now() = %v, want %v", got, want)
	}
	if now := Clock(nil).Now(); time.Since(now) > time.Minute || now.Location() != time.UTC {
		t.Errorf("the system clock: %v", now)
	}
}
