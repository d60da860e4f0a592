// Package core is the vocabulary every Ward package shares: the kinds of
// error a caller can act on, the one mapping of those kinds to HTTP
// status, and the clock. It imports nothing of Ward's, so any package may
// import it.
//
// # Errors
//
// Every error a service or store returns for a condition the caller can
// act on is made with [Errorf] (or is one of the kinds itself) and so
// wraps exactly one kind; anything else is an internal failure, logged and
// never shown. The message of an [Error] is written for the person who
// made the request: the API and the console show it as it is, and test
// for the kind with errors.Is.
package core

import (
	"errors"
	"fmt"
	"time"
)

// The kinds of error. Each one's text is shown alone when an error of the
// kind carries no message of its own.
var (
	ErrInvalid         = errors.New("invalid")                 // 400: the request is wrong; the message says how
	ErrUnauthenticated = errors.New("unauthenticated")         // 401: no or a bad credential
	ErrForbidden       = errors.New("forbidden")               // 403: the caller may not do this
	ErrNotFound        = errors.New("not found")               // 404: no such thing, or not the caller's to see
	ErrConflict        = errors.New("conflict")                // 409: the state of things does not allow it now
	ErrTooLarge        = errors.New("too large")               // 413: over a size or work limit
	ErrUnprocessable   = errors.New("unprocessable")           // 422: well-formed but cannot be handled (a corrupt image)
	ErrTooMany         = errors.New("too many requests")       // 429: rate limited; see RetryAfter
	ErrUnavailable     = errors.New("temporarily unavailable") // 503: busy or not ready; see RetryAfter
)

// kinds maps each kind to its HTTP status, written as numbers: importing
// net/http for its names would put it (and crypto/tls) into everything
// that imports core, the browser's WebAssembly hashing included.
var kinds = []struct {
	kind   error
	status int
}{
	{ErrInvalid, 400},
	{ErrUnauthenticated, 401},
	{ErrForbidden, 403},
	{ErrNotFound, 404},
	{ErrConflict, 409},
	{ErrTooLarge, 413},
	{ErrUnprocessable, 422},
	{ErrTooMany, 429},
	{ErrUnavailable, 503},
}

// Error is an error of a kind with a message for the requester.
type Error struct {
	kind error
	msg  string
	err  error // wrapped by %w in the message's format, if any
}

// Errorf returns an error of kind whose message is formatted as by
// fmt.Errorf; a %w verb in format wraps its argument too.
func Errorf(kind error, format string, args ...any) error {
	wrapped := fmt.Errorf(format, args...)
	return &Error{kind: kind, msg: wrapped.Error(), err: errors.Unwrap(wrapped)}
}

func (e *Error) Error() string { return e.msg }

// Unwrap returns the kind and the error the message wrapped, if any.
func (e *Error) Unwrap() []error {
	if e.err == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.err}
}

// Kind returns the kind of err, nil for an internal failure.
func Kind(err error) error {
	for _, k := range kinds {
		if errors.Is(err, k.kind) {
			return k.kind
		}
	}
	return nil
}

// HTTPStatus is the one mapping of error kinds to HTTP status: the API,
// the console and the rate limiter all answer with it. An error of no
// kind is a 500.
func HTTPStatus(err error) int {
	for _, k := range kinds {
		if errors.Is(err, k.kind) {
			return k.status
		}
	}
	return 500
}

// RetryAfter is an error after which the request may be tried again, in
// Wait (ErrTooMany and ErrUnavailable errors carry one).
type RetryAfter struct {
	Err  error
	Wait time.Duration
}

func (e *RetryAfter) Error() string { return e.Err.Error() }
func (e *RetryAfter) Unwrap() error { return e.Err }

// Seconds is Wait in whole seconds for a Retry-After header, at least 1.
func (e *RetryAfter) Seconds() int {
	return max(1, int((e.Wait+time.Second-1)/time.Second))
}

// RetrySeconds returns the Retry-After of err in seconds: its RetryAfter's
// wait, or a second for an ErrTooMany or ErrUnavailable error without one.
func RetrySeconds(err error) (int, bool) {
	var ra *RetryAfter
	switch {
	case errors.As(err, &ra):
		return ra.Seconds(), true
	case errors.Is(err, ErrTooMany), errors.Is(err, ErrUnavailable):
		return 1, true
	}
	return 0, false
}

// Clock tells the time. Services take one (nil meaning the system's), so
// that tests can set the time; stored times are UTC, to the microsecond,
// which both database engines keep exactly.
type Clock func() time.Time

// Now returns the time from c, or from the system clock when c is nil,
// in UTC to the microsecond.
func (c Clock) Now() time.Time {
	t := time.Now()
	if c != nil {
		t = c()
	}
	return t.UTC().Truncate(time.Microsecond)
}
