package triage

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/reporting/report"
)

// View selects the reports a List shows, by state, and their order.
type View string

// The views. Queued and InfoRequested show case leads in the order of the
// queue (priority, then finish time); Decided, Unfounded and Forwarded
// the latest decided first; All every report a provider submitted, the
// latest received first.
const (
	ViewQueued        View = "queued"         // awaiting assessment
	ViewInfoRequested View = "info_requested" // waiting for the provider's answer
	ViewDecided       View = "decided"        // unfounded or forwarded
	ViewUnfounded     View = "unfounded"
	ViewForwarded     View = "forwarded"
	ViewAll           View = "all"
)

// Views lists every view, in the order the console shows them.
var Views = []View{ViewQueued, ViewInfoRequested, ViewDecided, ViewForwarded, ViewUnfounded, ViewAll}

// ParseView returns the view named s; "" is ViewQueued.
func ParseView(s string) (View, error) {
	if s == "" {
		return ViewQueued, nil
	}
	if v := View(s); slices.Contains(Views, v) {
		return v, nil
	}
	return "", core.Errorf(core.ErrInvalid, "state: must be one of queued, info_requested, decided, forwarded, unfounded or all, not %q", clip(s))
}

// Order is how a view is sorted, which its cursors follow.
type Order int

// The orders.
const (
	OrderQueue   Order = iota // priority, finish time, ID; ascending
	OrderDecided              // decision time, ID; descending
	OrderRecent               // finish time, ID; descending
)

// Order returns the order of view v.
func (v View) Order() Order {
	switch v {
	case ViewQueued, ViewInfoRequested:
		return OrderQueue
	case ViewDecided, ViewUnfounded, ViewForwarded:
		return OrderDecided
	}
	return OrderRecent
}

// States returns the report states view v shows.
func (v View) States() []report.State {
	switch v {
	case ViewQueued:
		return []report.State{report.StateQueued}
	case ViewInfoRequested:
		return []report.State{report.StateInfoRequested}
	case ViewDecided:
		return []report.State{report.StateUnfounded, report.StateForwarded}
	case ViewUnfounded:
		return []report.State{report.StateUnfounded}
	case ViewForwarded:
		return []report.State{report.StateForwarded}
	}
	return []report.State{report.StateFinished, report.StateQueued, report.StateBundled, report.StateInfoRequested,
		report.StateUnfounded, report.StateForwarded}
}

// Cursor is a position in a view: the sort key of a report (Priority is
// used by OrderQueue only; At is the finish or decision time).
type Cursor struct {
	Priority int
	At       time.Time
	ID       string
}

// String encodes c for a link; ParseCursor decodes it.
func (c Cursor) String() string {
	return strconv.Itoa(c.Priority) + "_" + strconv.FormatInt(c.At.UnixMicro(), 10) + "_" + c.ID
}

// ParseCursor decodes a Cursor.String, naming param in its error.
func ParseCursor(param, s string) (Cursor, error) {
	bad := core.Errorf(core.ErrInvalid, "%s: must be the position of a page link, not %q", param, clip(s))
	parts := strings.Split(s, "_")
	if len(parts) != 3 || !plainID(parts[2]) {
		return Cursor{}, bad
	}
	p, err1 := strconv.Atoi(parts[0])
	us, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil || p < -1 || p > PriorityKnown {
		return Cursor{}, bad
	}
	return Cursor{Priority: p, At: time.UnixMicro(us).UTC(), ID: parts[2]}, nil
}

// plainID reports whether s can be a report ID (base32, from rand.Text).
func plainID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// clip shortens what an error message echoes of a bad value.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// Urgency filters reports by urgency.
type Urgency string

// The urgencies; "" is either.
const (
	Urgent Urgency = "urgent" // the report, or its case, is urgent
	Normal Urgency = "normal"
)

// Limits of a List.
const (
	DefaultPage = 50
	MaxPage     = 200
	// MaxSearch bounds the search text, in bytes.
	MaxSearch = 200
)

// ListQuery selects a page of reports. Every filter set narrows it.
type ListQuery struct {
	View View
	// ReportID is a report's exact ID.
	ReportID string
	// Hash is the lower-case hex of an MD5 (32 digits), or of a SHA-256
	// or PDQ hash (64): reports with a file of that hash, or leading a
	// case with an item of that content.
	Hash string
	// Provider is part of the provider's name, any case.
	Provider string
	// Material is MaterialKnown, MaterialNew or MaterialNone, or "".
	Material string
	Urgency  Urgency
	// From and To bound the finish time: From <= t < To; zero for no
	// bound.
	From, To time.Time
	// After or Before (at most one) is where the page starts or ends.
	After, Before *Cursor
	Limit         int
}

// Decided says who decided a report, how and when: its latest decision
// event.
type Decided struct {
	Kind  report.EventKind // EventUnfounded, EventForwarded or EventInfoRequested
	At    time.Time
	Actor string
}

// DeliveryStatus is where a report's delivery to an authority is.
type DeliveryStatus struct {
	Org       int64
	OrgName   string
	OrgKind   org.Kind
	Country   string
	CreatedAt time.Time
	AckedAt   time.Time // zero until acknowledged
	PushedAt  time.Time // zero until pushed, or for an authority that pulls
	Attempts  int       // pushes tried
	LastError string    // the last failed push's
}

// ListEntry is a report as a list shows it.
type ListEntry struct {
	QueueEntry
	// DecidedAt is when it was forwarded or found unfounded; zero if not.
	DecidedAt time.Time
	// Decided is its latest decision; zero Kind if none.
	Decided Decided
	// Deliveries are those of a forwarded report, by kind and name of
	// the authority; none until it is routed.
	Deliveries []DeliveryStatus
}

// Page is a page of a list. Next and Prev are the cursors of the
// adjacent pages, nil where there is none.
type Page struct {
	Entries    []ListEntry
	Next, Prev *Cursor
}

// CursorOf returns the cursor of e in order o.
func CursorOf(e ListEntry, o Order) Cursor {
	switch o {
	case OrderQueue:
		return Cursor{Priority: e.Priority, At: e.FinishedAt, ID: e.ReportID}
	case OrderDecided:
		return Cursor{At: e.DecidedAt, ID: e.ReportID}
	}
	return Cursor{At: e.FinishedAt, ID: e.ReportID}
}

// Counts are what the console's start page counts.
type Counts struct {
	// Cases awaiting assessment (queued leads), by priority.
	Urgent, New, Known int
	InfoRequested      int
	// ForwardedSince: reports forwarded since the time asked for.
	ForwardedSince int
	// DeliveriesFailing: deliveries whose pushes failed and that the
	// authority has neither received nor acknowledged yet.
	DeliveriesFailing int
	DeadJobs          int
}

// Lister is the storage of List and Counts, part of Store.
type Lister interface {
	// ListReports returns up to q.Limit reports of q's view matching its
	// filters, in the view's order, after q.After; with q.Before, the
	// q.Limit reports before it, still in the view's order.
	ListReports(ctx context.Context, q ListQuery) ([]ListEntry, error)
	// ReportCounts counts the reports awaiting assessment, those
	// forwarded since since, failing deliveries and dead jobs.
	ReportCounts(ctx context.Context, since time.Time) (Counts, error)
}

// ParseHash returns s as the lower-case hex of a hash List searches, and
// whether it is one.
func ParseHash(s string) (string, bool) {
	if len(s) != 32 && len(s) != 64 {
		return "", false
	}
	s = strings.ToLower(s)
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", false
		}
	}
	return s, true
}

// List returns a page of reports. The caller has authorised and audited
// the access.
func (s *Service) List(ctx context.Context, q ListQuery) (Page, error) {
	if q.Limit == 0 {
		q.Limit = DefaultPage
	}
	switch {
	case q.Limit < 1 || q.Limit > MaxPage:
		return Page{}, core.Errorf(core.ErrInvalid, "a page holds 1 to %d reports", MaxPage)
	case q.After != nil && q.Before != nil:
		return Page{}, core.Errorf(core.ErrInvalid, "a page starts after a report or ends before one, not both")
	case len(q.Provider) > MaxSearch:
		return Page{}, core.Errorf(core.ErrInvalid, "the provider's name is at most %d bytes", MaxSearch)
	case q.Hash != "":
		if _, ok := ParseHash(q.Hash); !ok {
			return Page{}, core.Errorf(core.ErrInvalid, "a hash is 32 or 64 hex digits")
		}
	}
	if _, err := ParseView(string(q.View)); err != nil {
		return Page{}, err
	}
	switch q.Material {
	case "", MaterialKnown, MaterialNew, MaterialNone:
	default:
		return Page{}, core.Errorf(core.ErrInvalid, "material must be known, new or none, not %q", clip(q.Material))
	}
	switch q.Urgency {
	case "", Urgent, Normal:
	default:
		return Page{}, core.Errorf(core.ErrInvalid, "urgency must be urgent or normal, not %q", clip(string(q.Urgency)))
	}
	// One more than the page tells whether there is another beyond.
	want := q.Limit
	q.Limit++
	es, err := s.st.ListReports(ctx, q)
	if err != nil {
		return Page{}, err
	}
	more := len(es) > want
	var p Page
	o := q.View.Order()
	switch {
	case q.Before != nil:
		if more {
			es = es[1:]
		}
		p.Entries = es
		if more {
			c := CursorOf(es[0], o)
			p.Prev = &c
		}
		// The page before a report has that report after it.
		p.Next = q.Before
	default:
		if more {
			es = es[:want]
		}
		p.Entries = es
		if more {
			c := CursorOf(es[len(es)-1], o)
			p.Next = &c
		}
		if q.After != nil && len(es) > 0 {
			c := CursorOf(es[0], o)
			p.Prev = &c
		}
	}
	if len(p.Entries) == 0 {
		p.Next = nil
	}
	return p, nil
}

// Counts returns the start page's counts, of reports forwarded since
// since.
func (s *Service) Counts(ctx context.Context, since time.Time) (Counts, error) {
	return s.st.ReportCounts(ctx, since)
}
