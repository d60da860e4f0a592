package ratelimit

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"time"

	"github.com/wardhq/ward/internal/access/clientip"
)

// Public limits what each client address may send to the public routes
// and pages (the reports of the public), without keeping the address: its
// buckets are keyed by an HMAC of the address (an IPv6 address's /64,
// clientip.Key) under a key drawn when it is made and never stored, so
// that not even the server's memory holds a reporter's address, nor can a
// bucket be traced back to one after a restart. The API and the console
// share one, so that a client has one allowance across both.
type Public struct {
	l   *Limiter
	key [32]byte
}

// NewPublic returns a limit of rate per second per client address, with
// bursts of burst.
func NewPublic(rate float64, burst int) *Public {
	p := &Public{l: New(rate, burst)}
	rand.Read(p.key[:])
	return p
}

// DefaultPublic is the limit of the public's reports: 5 at once, then one
// every 2 minutes per address.
func DefaultPublic() *Public { return NewPublic(1.0/120, 5) }

// DefaultPublicLookup is the limit of the public's look-ups of their own
// cases (a complaint's status, by its secret): 30 at once, then one every
// 6 seconds per address. A person checks often, and a household or office
// shares an address; the secret (130 bits) is what stops guessing, not
// this.
func DefaultPublicLookup() *Public { return NewPublic(1.0/6, 30) }

// DefaultPublicRead is the limit of the public's reads of published
// figures (the statistics): 60 at once, then one a second per address.
// Each is cheap, but cheap times a flood is not.
func DefaultPublicRead() *Public { return NewPublic(1, 60) }

// Allow takes a token of the client at remoteAddr (host:port), or says
// how long to wait for one.
func (p *Public) Allow(remoteAddr string) (bool, time.Duration) {
	return p.l.Allow(p.bucket(remoteAddr))
}

// bucket is the key of remoteAddr's bucket.
func (p *Public) bucket(remoteAddr string) string {
	m := hmac.New(sha256.New, p.key[:])
	m.Write([]byte(clientip.Key(remoteAddr)))
	return string(m.Sum(nil)[:16])
}
