package org

import (
	"errors"
	"fmt"
)

// The error vocabulary of Ward's domain packages. Every error a service or
// store returns for a condition the caller can act on wraps exactly one of
// these with %w, with a message that is safe to show to the caller; anything
// else is an internal failure. The HTTP layer maps them to status codes in
// one place (404, 400, 409, 403); test for them with errors.Is.
//
// They live in org because org is the lowest domain package: everything
// that authorises a caller already imports it, and the store imports the
// domain, never the reverse.
var (
	ErrNotFound  = errors.New("not found")
	ErrInvalid   = errors.New("invalid")
	ErrConflict  = errors.New("conflict")
	ErrForbidden = errors.New("forbidden")
)

// ErrBadKey is what Authenticate returns for any key it does not accept:
// malformed, unknown or with the wrong secret, so that a caller learns
// nothing about which part was wrong. It is an ErrForbidden; the HTTP layer
// may tell it apart (errors.Is(err, ErrBadKey)) to answer 401 rather than 403.
var ErrBadKey = fmt.Errorf("%w: invalid API key", ErrForbidden)
