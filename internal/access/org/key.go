package org

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/core"
)

// An API key is "ward_" + a 16-hex-digit key ID + "_" + a secret of 32
// random bytes in unpadded base64url, for example
//
//	ward_3f9a0c1d2e4b5a6f_q7Zb0...(43 characters)
//
// The ID is not secret: it names the key in listings and logs and is how
// the stored key is found. Only SHA-256 of the secret is stored. A fast
// hash is enough (and a slow one would make every API call slow) because
// the secret is 256 random bits, not a password.
const keyPrefix = "ward_"

const (
	keyIDBytes     = 8
	keySecretBytes = 32
)

// Key is an API key as stored: everything but the secret.
type Key struct {
	ID         string
	OrgID      int64
	SecretHash [sha256.Size]byte
	CreatedAt  time.Time
	// Scopes restrict the key to these policy actions, sorted; empty
	// means every action of its organisation's kind.
	Scopes []string
	// ExpiresAt is when the key stops working; zero if never.
	ExpiresAt time.Time
	// RevokedAt is when the key was revoked; zero if it was not. A
	// revoked key never works again.
	RevokedAt time.Time
}

// KeyOptions are the optional properties of a new key.
type KeyOptions struct {
	// Scopes are policy action names (see policy.KeyScopes, which
	// checks them against the organisation's kind). A scope the kind does
	// not allow grants nothing: scopes only narrow what a key may do.
	Scopes []string
	// ExpiresAt, if not zero, is when the key stops working; it must be
	// in the future.
	ExpiresAt time.Time
}

// maxScopeLen bounds a scope's name, which is stored and listed.
const maxScopeLen = 64

// CreateKey makes a new API key for the organisation named orgName and
// returns it in full. The full key exists only in this return value: show it
// once and discard it.
func (s *Service) CreateKey(ctx context.Context, orgName string, opts KeyOptions) (string, Key, error) {
	now := s.Clock.Now()
	if !opts.ExpiresAt.IsZero() && !opts.ExpiresAt.After(now) {
		return "", Key{}, core.Errorf(core.ErrInvalid, "the key's expiry %s is not in the future", opts.ExpiresAt.UTC().Format(time.RFC3339))
	}
	var scopes []string
	for _, sc := range opts.Scopes {
		// Scopes are stored space-separated, so they must not hold space.
		if sc == "" || len(sc) > maxScopeLen || strings.ContainsFunc(sc, func(r rune) bool { return r <= ' ' || r > '~' }) {
			return "", Key{}, core.Errorf(core.ErrInvalid, "%q is not a scope name", sc)
		}
		scopes = append(scopes, sc)
	}
	slices.Sort(scopes)
	o, err := s.ByName(ctx, orgName)
	if err != nil {
		return "", Key{}, err
	}
	var id [keyIDBytes]byte
	var secret [keySecretBytes]byte
	rand.Read(id[:]) // never fails (crypto/rand panics rather than returning short)
	rand.Read(secret[:])
	k := Key{
		ID:         hex.EncodeToString(id[:]),
		OrgID:      o.ID,
		SecretHash: sha256.Sum256(secret[:]),
		CreatedAt:  now,
		Scopes:     slices.Compact(scopes),
		ExpiresAt:  opts.ExpiresAt.UTC().Truncate(time.Microsecond),
	}
	if err := s.store.CreateKey(ctx, k); err != nil {
		return "", Key{}, err
	}
	return keyPrefix + k.ID + "_" + base64.RawURLEncoding.EncodeToString(secret[:]), k, nil
}

// parseKey splits a full key into its ID and secret.
func parseKey(key string) (id string, secret []byte, ok bool) {
	rest, found := strings.CutPrefix(key, keyPrefix)
	if !found {
		return "", nil, false
	}
	// The ID is hex, so the first "_" ends it even though the base64url
	// secret may contain "_" too.
	id, enc, found := strings.Cut(rest, "_")
	if !found || len(id) != 2*keyIDBytes || len(enc) != base64.RawURLEncoding.EncodedLen(keySecretBytes) {
		return "", nil, false
	}
	if _, err := hex.DecodeString(id); err != nil || strings.ToLower(id) != id {
		return "", nil, false
	}
	secret, err := base64.RawURLEncoding.Strict().DecodeString(enc)
	if err != nil {
		return "", nil, false
	}
	return id, secret, true
}

// unknownKeyHash is compared against when a key ID is unknown, so that an
// unknown ID costs the same work as a wrong secret.
var unknownKeyHash [sha256.Size]byte

// Authenticate returns the principal of the organisation holding key (the
// token of an "Authorization: Bearer" header). Any key it does not accept
// gives ErrBadKey, whatever the reason; only to the holder of a genuine key
// does the error say that it has expired or was revoked.
func (s *Service) Authenticate(ctx context.Context, key string) (Principal, error) {
	id, secret, ok := parseKey(key)
	if !ok {
		return Principal{}, ErrBadKey
	}
	k, o, err := s.store.KeyByID(ctx, id)
	switch {
	case errors.Is(err, core.ErrNotFound):
		k.SecretHash = unknownKeyHash
	case err != nil:
		return Principal{}, fmt.Errorf("authenticating key %s: %w", id, err)
	}
	h := sha256.Sum256(secret)
	if subtle.ConstantTimeCompare(h[:], k.SecretHash[:]) != 1 || err != nil {
		return Principal{}, ErrBadKey
	}
	now := s.Clock.Now()
	switch {
	case !k.RevokedAt.IsZero():
		return Principal{}, fmt.Errorf("%w: key %s was revoked at %s", ErrBadKey, k.ID, k.RevokedAt.Format(time.RFC3339))
	case !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
		return Principal{}, fmt.Errorf("%w: key %s expired at %s", ErrBadKey, k.ID, k.ExpiresAt.Format(time.RFC3339))
	}
	p := o.Principal()
	p.KeyID = k.ID
	p.Scopes = k.Scopes
	return p, nil
}

// Keys returns the keys of the organisation with that ID, revoked and
// expired ones included, oldest first.
func (s *Service) Keys(ctx context.Context, orgID int64) ([]Key, error) {
	return s.store.Keys(ctx, orgID)
}

// RevokeKey revokes the key with that ID at once and for good. Revoking a
// revoked key changes nothing.
func (s *Service) RevokeKey(ctx context.Context, id string) error {
	return s.store.RevokeKey(ctx, id, s.Clock.Now())
}
