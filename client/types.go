package client

import (
	"fmt"
	"strings"
	"time"
)

// Signal types of indicators.
const (
	PDQ    = "pdq"
	MD5    = "md5"
	SHA256 = "sha256"
)

// Item is one thing to match: one or more of PDQ, MD5 and SHA256, as hex,
// the hashes of one piece of content (such as a file's), matched together
// so that a suppress list's match of one removes the matches of all. ID is
// the caller's own reference, echoed back in the result.
type Item struct {
	ID     string `json:"id,omitempty"`
	PDQ    string `json:"pdq,omitempty"`
	MD5    string `json:"md5,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	// Dihedral carries the 7 variants of a PDQ hash, needed when the
	// request's Dihedral is set: they come from the image's DCT and cannot
	// be derived from the hash ("ward hash --dihedral" prints them).
	Dihedral *Dihedral `json:"dihedral,omitempty"`
}

// Dihedral holds the PDQ hashes of an image's rotations and reflections.
type Dihedral struct {
	Rot90  string `json:"rot90"`
	Rot180 string `json:"rot180"`
	Rot270 string `json:"rot270"`
	FlipX  string `json:"flipx"`
	FlipY  string `json:"flipy"`
	FlipP  string `json:"flipp"`
	FlipM  string `json:"flipm"`
}

// MatchRequest is the body of POST /v1/match.
type MatchRequest struct {
	Items []Item `json:"items"`
	// Threshold is the largest Hamming distance of a PDQ match; lists may
	// cap it lower. nil means each list's own threshold (List.Threshold).
	Threshold *int `json:"threshold,omitempty"`
	// Dihedral also matches the 7 rotations and reflections of PDQ items.
	Dihedral bool `json:"dihedral,omitempty"`
	// Lists to match against; empty means every list.
	Lists []string `json:"lists,omitempty"`
}

// Match is one active indicator that an item matched.
type Match struct {
	Indicator int64  `json:"indicator"`
	List      string `json:"list"`
	Category  string `json:"category"`
	Signal    string `json:"signal"`
	// Distance is the Hamming distance for PDQ, 0 for exact digests.
	Distance int `json:"distance"`
	// Variant names the rotation or reflection of the item that matched
	// (rot90, rot180, rot270, flipx, flipy, flipp, flipm); empty for the
	// item as given.
	Variant string `json:"variant,omitempty"`
}

// ItemResult holds one item's matches, in the order of the request.
type ItemResult struct {
	ID      string  `json:"id,omitempty"`
	Matches []Match `json:"matches"`
	// SuppressedBy are the indicators of suppress lists (known benign
	// content, List.Kind "suppress") the item matched, which removed its
	// matches of other lists: why Matches may be empty.
	SuppressedBy []Suppression `json:"suppressed_by,omitempty"`
}

// Suppression is one indicator of a suppress list that content matched.
type Suppression struct {
	Indicator int64  `json:"indicator"`
	List      string `json:"list"`
	Signal    string `json:"signal"`
	Distance  int    `json:"distance"`
}

// MatchResponse is the answer to POST /v1/match.
type MatchResponse struct {
	// Threshold is the one requested, or, if none was, the largest of
	// the thresholds of the lists matched: no PDQ match is farther.
	Threshold int          `json:"threshold"`
	Results   []ItemResult `json:"results"`
}

// HashMatchResponse is the answer to POST /v1/hash-match: the hashes of the
// uploaded image and its matches.
type HashMatchResponse struct {
	PDQ       string  `json:"pdq"`
	Quality   int     `json:"quality"`
	MD5       string  `json:"md5"`
	SHA256    string  `json:"sha256"`
	Width     int     `json:"width"`
	Height    int     `json:"height"`
	Threshold int     `json:"threshold"` // as in MatchResponse
	Matches   []Match `json:"matches"`
	// SuppressedBy is as in ItemResult, for the image's hashes together.
	SuppressedBy []Suppression `json:"suppressed_by,omitempty"`
}

// Kinds of list.
const (
	ListMatch    = "match"    // known material: its indicators are matches
	ListSuppress = "suppress" // known benign content: its matches remove the other lists' matches of the same content
)

// List describes an indicator list.
type List struct {
	Name string `json:"name"`
	Kind string `json:"kind"` // ListMatch or ListSuppress
	// Head is the sequence number of the list's latest change.
	Head   int64 `json:"head"`
	Active int64 `json:"active"`
	// MaxDistance caps the PDQ threshold used against this list.
	MaxDistance int `json:"max_distance"`
	// Threshold is the PDQ distance used against this list when a request
	// gives none, and always for a suppress list.
	Threshold         int  `json:"threshold"`
	MinAttestations   int  `json:"min_attestations"`
	DistinctCountries bool `json:"distinct_countries"`
	// LogSize and LogRoot are the size and root hash (standard base64) of
	// the list's transparency log as the server holds it now; its signed
	// checkpoint is at /v1/lists/{list}/log/checkpoint. LogRoot is absent
	// (and LogSize 0) if the server serves no logs.
	LogSize int64  `json:"log_size"`
	LogRoot string `json:"log_root,omitzero"`
}

// ListsResponse is the answer to GET /v1/lists.
type ListsResponse struct {
	Lists []List `json:"lists"`
}

// Change kinds in a list's feed. Providers see only activations,
// releases, quarantines and withdrawals: what a mirror must add (activate,
// release) and remove (quarantine, withdraw).
const (
	ChangeAdd        = "add"
	ChangeAttest     = "attest"
	ChangeActivate   = "activate"
	ChangeWithdraw   = "withdraw"
	ChangeQuarantine = "quarantine"
	ChangeRelease    = "release"
)

// Change is one entry of a list's change feed.
type Change struct {
	Seq       int64     `json:"seq"`
	Kind      string    `json:"kind"`
	Indicator int64     `json:"indicator"`
	Signal    string    `json:"signal"`
	Value     string    `json:"value"`
	Category  string    `json:"category"`
	At        time.Time `json:"at"`
}

// ChangesPage is the answer to GET /v1/lists/{list}/changes.
type ChangesPage struct {
	List    string   `json:"list"`
	Changes []Change `json:"changes"`
	// Next is the cursor for the following page (its "after").
	Next int64 `json:"next"`
	// Head is the list's latest sequence number when the page was read.
	Head int64 `json:"head"`
}

// Submission is one indicator submitted or attested by an organisation.
type Submission struct {
	Type      string `json:"type"` // pdq, md5 or sha256
	Value     string `json:"value"`
	Category  string `json:"category"` // A1, A2, B1, B2, baseline or national
	Reference string `json:"reference,omitempty"`
}

// SubmitRequest is the body of POST /v1/indicators.
type SubmitRequest struct {
	List  string       `json:"list"`
	Items []Submission `json:"items"`
}

// SubmitResult is the outcome for one submission.
type SubmitResult struct {
	Indicator int64  `json:"indicator"`
	State     string `json:"state"` // pending, active or withdrawn
	Created   bool   `json:"created"`
	Activated bool   `json:"activated"`
}

// SubmitResponse is the answer to POST /v1/indicators.
type SubmitResponse struct {
	Results []SubmitResult `json:"results"`
}

// WithdrawRequest is the body of POST /v1/indicators/{id}/withdraw.
type WithdrawRequest struct {
	Reason string `json:"reason"`
}

// Indicator is an indicator as the API shows it.
type Indicator struct {
	ID          int64      `json:"id"`
	List        string     `json:"list"`
	Signal      string     `json:"signal"`
	Value       string     `json:"value"`
	Category    string     `json:"category"`
	State       string     `json:"state"`
	CreatedAt   time.Time  `json:"created_at"`
	ActivatedAt *time.Time `json:"activated_at,omitempty"`
	WithdrawnAt *time.Time `json:"withdrawn_at,omitempty"`
}

// Problem is an error answer of the API (RFC 9457 problem details). It is
// the error type the client returns for every non-2xx response.
type Problem struct {
	Type   string `json:"type,omitempty"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Errors lists the invalid fields of a request, all at once up to
	// the server's cap (100); ErrorCount counts them all.
	Errors     []FieldError `json:"errors,omitempty"`
	ErrorCount int          `json:"error_count,omitempty"`
	// RetryAfter is set from the Retry-After header of a 429 or 503.
	RetryAfter time.Duration `json:"-"`
}

// FieldError names one invalid part of a request, as a JSON pointer.
type FieldError struct {
	Pointer string `json:"pointer"`
	Detail  string `json:"detail"`
}

func (p *Problem) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s", p.Status, p.Title)
	if p.Detail != "" {
		fmt.Fprintf(&b, ": %s", p.Detail)
	}
	for _, e := range p.Errors {
		fmt.Fprintf(&b, "; %s: %s", e.Pointer, e.Detail)
	}
	return b.String()
}
