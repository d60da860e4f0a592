// Package crawl fetches what the public reports, safely: http and https
// only, each name resolved once and the connection pinned to that
// address, no internal address, redirects checked again, time and byte
// limits per resource and per case, and from an HTML page the media it
// embeds.
package crawl

import (
	"context"
	"net/netip"
	"time"
)

// Resource is one fetched URL.
type Resource struct {
	URL         string     // as requested (reported, or found on the page)
	FinalURL    string     // after redirects
	Status      int        // the HTTP status; 0 if no answer
	ContentType string     // as sniffed from the content, else as the server said
	Body        []byte     // the content; nil if gone or failed
	Addr        netip.Addr // the address connected to
	// Gone: the resource is not there (404, 410, or the name does not
	// resolve).
	Gone bool
	// Err is why it could not be fetched: refused (internal address,
	// not http), over a limit, too many redirects, a timeout, a failure.
	Err error
}

// Result is a reported URL and the media its page embeds.
type Result struct {
	Page     Resource
	Embedded []Resource
}

// Config limits a Fetcher; zero fields take the defaults.
type Config struct {
	AllowPrivate     bool   // connect to loopback and private addresses (tests, closed networks)
	UserAgent        string // names the centre
	MaxRedirects     int    // per resource (default 5)
	ResourceTimeout  time.Duration
	CaseTimeout      time.Duration
	MaxResourceBytes int64
	MaxCaseBytes     int64
	MaxResources     int // embedded resources taken from a page
}

// Fetcher fetches URLs; it is safe for concurrent use.
type Fetcher struct{ cfg Config }

// New returns a Fetcher limited by cfg.
func New(cfg Config) *Fetcher { return &Fetcher{cfg: cfg} }

// Fetch fetches rawURL and, if it is an HTML page, the media it embeds.
// The error is for a URL that cannot be fetched at all (not http or
// https, malformed); what goes wrong with a resource is in its Err.
func (f *Fetcher) Fetch(ctx context.Context, rawURL string) (Result, error) {
	panic("crawl: not yet")
}

// Get fetches one resource, as a recheck does.
func (f *Fetcher) Get(ctx context.Context, rawURL string) Resource {
	panic("crawl: not yet")
}
