package org

import "github.com/wardhq/ward/internal/core"

// ErrBadKey is what Authenticate returns for any key it does not accept:
// malformed, unknown or with the wrong secret, so that a caller learns
// nothing about which part was wrong.
var ErrBadKey = core.Errorf(core.ErrUnauthenticated, "invalid API key")
