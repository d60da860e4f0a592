// Package client is the Go client of Ward's /v1 API, for online service
// providers and other organisations: match hashes against the centre's
// indicator lists, follow a list's change feed to keep a local mirror, and
// (for hotlines, law enforcement and the centre) submit and withdraw
// indicators.
//
//	c := client.New("https://ward.example.org", os.Getenv("WARD_KEY"))
//	res, err := c.Match(ctx, client.MatchRequest{Items: []client.Item{{PDQ: h}}})
//
// Every error answer of the server is returned as a *Problem.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client calls one Ward server with one API key. It is safe for concurrent
// use.
type Client struct {
	base    *url.URL
	key     string
	http    *http.Client
	retries int
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client (for timeouts, proxies, TLS).
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithRetries sets how many times a call is retried after a
// network error or a 429, 502, 503 or 504 answer (default 2).
func WithRetries(n int) Option { return func(c *Client) { c.retries = max(n, 0) } }

// New returns a client for the server at baseURL (e.g.
// "http://127.0.0.1:8080") authenticating with key.
func New(baseURL, key string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: server URL %q is not an http(s) URL", baseURL)
	}
	c := &Client{base: u, key: key, http: &http.Client{Timeout: time.Minute}, retries: 2}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// Match matches hashes against the active indicators.
func (c *Client) Match(ctx context.Context, req MatchRequest) (*MatchResponse, error) {
	var out MatchResponse
	return &out, c.do(ctx, http.MethodPost, "/v1/match", nil, jsonBody(req), "application/json", &out)
}

// HashMatchOptions tune HashMatch.
type HashMatchOptions struct {
	Threshold *int
	Dihedral  bool
	Lists     []string
}

// HashMatch uploads an image, which the server hashes in memory (it is
// never stored), and matches it.
func (c *Client) HashMatch(ctx context.Context, image []byte, o HashMatchOptions) (*HashMatchResponse, error) {
	q := url.Values{}
	if o.Threshold != nil {
		q.Set("threshold", strconv.Itoa(*o.Threshold))
	}
	if o.Dihedral {
		q.Set("dihedral", "true")
	}
	for _, l := range o.Lists {
		q.Add("list", l)
	}
	var out HashMatchResponse
	body := func() io.Reader { return bytes.NewReader(image) }
	return &out, c.do(ctx, http.MethodPost, "/v1/hash-match", q, body, "application/octet-stream", &out)
}

// Lists returns the indicator lists the caller may read.
func (c *Client) Lists(ctx context.Context) ([]List, error) {
	var out ListsResponse
	err := c.do(ctx, http.MethodGet, "/v1/lists", nil, nil, "", &out)
	return out.Lists, err
}

// Changes returns a page of list's change feed after sequence number after
// (0 for the beginning); limit 0 means the server's default page size.
func (c *Client) Changes(ctx context.Context, list string, after int64, limit int) (*ChangesPage, error) {
	q := url.Values{"after": {strconv.FormatInt(after, 10)}}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out ChangesPage
	return &out, c.do(ctx, http.MethodGet, "/v1/lists/"+url.PathEscape(list)+"/changes", q, nil, "", &out)
}

// Submit submits or attests indicators (hotlines, law enforcement, Europol
// and the centre). Submitting again is harmless: an organisation's
// attestation of a value is recorded once.
func (c *Client) Submit(ctx context.Context, req SubmitRequest) (*SubmitResponse, error) {
	var out SubmitResponse
	return &out, c.do(ctx, http.MethodPost, "/v1/indicators", nil, jsonBody(req), "application/json", &out)
}

// Withdraw withdraws an indicator: it stops being distributed and matched
// at once.
func (c *Client) Withdraw(ctx context.Context, id int64, reason string) (*Indicator, error) {
	var out Indicator
	path := "/v1/indicators/" + strconv.FormatInt(id, 10) + "/withdraw"
	return &out, c.do(ctx, http.MethodPost, path, nil, jsonBody(WithdrawRequest{Reason: reason}), "application/json", &out)
}

// Indicator returns one indicator.
func (c *Client) Indicator(ctx context.Context, id int64) (*Indicator, error) {
	var out Indicator
	return &out, c.do(ctx, http.MethodGet, "/v1/indicators/"+strconv.FormatInt(id, 10), nil, nil, "", &out)
}

// jsonBody marshals v once and returns a function giving a fresh reader for
// each attempt.
func jsonBody(v any) func() io.Reader {
	b, err := json.Marshal(v)
	if err != nil {
		return func() io.Reader { return errReader{err} }
	}
	return func() io.Reader { return bytes.NewReader(b) }
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// do sends one request, retrying it on transient failures (a call that is
// not safe to repeat is made with a client without retries), and decodes
// the answer into out or returns a *Problem.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body func() io.Reader, contentType string, out any) error {
	return c.send(ctx, method, path, q, nil, body, contentType, out)
}

// send is do with more request headers.
func (c *Client) send(ctx context.Context, method, path string, q url.Values, h http.Header, body func() io.Reader, contentType string, out any) error {
	u := *c.base
	u.Path += path
	u.RawQuery = q.Encode()
	var lastErr error
	for attempt := range 1 + c.retries {
		if attempt > 0 {
			wait := time.Duration(200<<attempt) * time.Millisecond
			var p *Problem
			if errors.As(lastErr, &p) && p.RetryAfter > 0 {
				wait = p.RetryAfter
			}
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		var r io.Reader
		if body != nil {
			r = body()
		}
		req, err := http.NewRequestWithContext(ctx, method, u.String(), r)
		if err != nil {
			return err
		}
		if c.key != "" { // none for the public's routes
			req.Header.Set("Authorization", "Bearer "+c.key)
		}
		req.Header.Set("Accept", "application/json")
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		for k, v := range h {
			req.Header[k] = v
		}
		resp, err := c.http.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			lastErr = err
			continue
		}
		lastErr = decode(resp, out)
		if !transient(lastErr) {
			return lastErr
		}
	}
	return lastErr
}

func transient(err error) bool {
	var p *Problem
	if !errors.As(err, &p) {
		return false
	}
	switch p.Status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// decode reads a response: JSON into out on success (the body itself
// into a *[]byte), else a *Problem.
func decode(resp *http.Response, out any) error {
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return fmt.Errorf("reading the server's answer: %w", err)
	}
	if resp.StatusCode/100 == 2 {
		if raw, ok := out.(*[]byte); ok { // a route that answers bytes, not JSON
			*raw = body
			return nil
		}
		if err := json.Unmarshal(body, out); err != nil {
			return fmt.Errorf("decoding the server's answer: %w", err)
		}
		return nil
	}
	p := &Problem{Status: resp.StatusCode}
	if err := json.Unmarshal(body, p); err != nil || p.Title == "" {
		p.Title = http.StatusText(resp.StatusCode)
		p.Detail = strings.TrimSpace(string(body[:min(len(body), 200)]))
	}
	p.Status = resp.StatusCode
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
		p.RetryAfter = time.Duration(s) * time.Second
	}
	return p
}
