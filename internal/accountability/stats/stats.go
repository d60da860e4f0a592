// Package stats is the centre's transparency statistics (CSAR Art 83, as
// NCMEC and INHOPE publish theirs every year): how many reports came in,
// were forwarded or found unfounded and how quickly, the indicators
// added, withdrawn and quarantined, complaints, and notices to hosts and
// the removals that followed. They are public: the API's
// GET /v1/public/statistics and the page /transparency, which
// docs/statistics.md explains figure by figure.
//
// # Counting
//
// Every figure counts events, each on the UTC day it happened, read from
// the tables of the flows (the time of each event is a column there):
//
//   - reports received: finished (submitted) by the provider, by
//     finished_at; by provider (the organisation's name), by type as
//     stated (known, new, solicitation), and the urgent ones among them;
//   - known and new: reports whose triage found known material, or items
//     none of which matched (a solicitation with no items is neither),
//     by triaged_at;
//   - forwarded and unfounded: the decision, by decided_at (a report
//     bundled into a case counts when the case's decision reaches it);
//     the time to forward runs from receipt to the decision;
//   - by country: deliveries of forwarded reports to competent
//     authorities (Europol's excluded, which receives them all), by the
//     authority's country, on the day of routing;
//   - indicators added: activated; withdrawn: withdrawn (pending ones
//     too); quarantined: quarantines begun; false-positive verdicts:
//     providers' verdicts that a match was wrong, on the day given (a
//     later verdict replaces a provider's earlier one; each is counted on
//     its own day); active: a stock, on the lists and not in quarantine at
//     the end of the period's last day;
//   - complaints received, upheld and rejected, by the day received and
//     decided;
//   - takedown: URLs reported, notices sent to hosts (each once, on its
//     first sending; re-notices are not counted), cases whose removal was
//     verified, and of them those removed within 3 days of the report;
//     the time to removal runs from the report to the verified removal
//     (as the console's takedown figures count it, which count by the
//     day of the report instead).
//
// # Roll-up
//
// Counting millions of rows for each request would be slow, so a periodic
// job (JobRollup, Service.Rollup) counts each day once into daily rows
// (and their monthly sums), which a request then adds up: a year is read
// from about 12 monthly and 60 daily rows per figure. The job recounts
// today and the days not yet final from the flows' tables by time-range
// queries over indexes, and finalises a day once it has settled (Settle
// after its end): a final day is never counted again. Counting is
// idempotent (a day's rows are replaced), so a job repeated after a crash
// does no harm, and a first roll-up over years of data resumes where it
// stopped.
//
// Medians cannot be added up, so times are kept as histograms: per day,
// how many fell into each of a fixed set of logarithmic buckets (about
// 10 % wide), merged over the period; a median read from them is within
// 5 % of the exact one (see Histogram).
//
// Nothing counted is personal data: counts by organisation, country, type
// and bucket.
package stats

import (
	"context"
	"time"

	"github.com/wardhq/ward/internal/core"
)

// JobRollup is the kind of the periodic roll-up job (ref ""); cmd/ward
// registers Service.Rollup as its handler.
const JobRollup = "stats.rollup"

// DefaultEvery is how often cmd/ward runs the roll-up unless told
// otherwise: the public figures are at most this old.
const DefaultEvery = 5 * time.Minute

// Settle is how long after its end a day is counted again before it is
// final: events committed just after midnight, with a time just before
// (a transaction under way, a node's clock a little behind), still reach
// their day.
const Settle = 24 * time.Hour

// The figures as stored, each with its keys (Statistics.Rows gives their
// published names).
const (
	figReceived      = "reports.received"
	figByProvider    = "reports.by_provider" // key: the provider's name
	figByType        = "reports.by_type"     // key: the type as stated
	figUrgent        = "reports.urgent"
	figMaterial      = "reports.material" // key: known, new or none
	figForwarded     = "reports.forwarded"
	figForwardTime   = "reports.forward_time" // key: a Histogram bucket
	figUnfounded     = "reports.unfounded"
	figByCountry     = "reports.by_country" // key: the authority's country
	figAdded         = "indicators.added"
	figWithdrawn     = "indicators.withdrawn"
	figQuarantined   = "indicators.quarantined"
	figFalsePositive = "indicators.false_positive_verdicts"
	figComplaints    = "complaints.received"
	figUpheld        = "complaints.upheld"
	figRejected      = "complaints.rejected"
	figURLs          = "takedown.reported"
	figNotices       = "takedown.notices"
	figRemoved       = "takedown.removed"
	figRemovalTime   = "takedown.removal_time" // key: a Histogram bucket
	figRemoved3d     = "takedown.removed_within_3_days"
)

// The stocks as stored: values at the end of a day.
const (
	stockListed     = "indicators.listed"        // activated, not withdrawn
	stockQuarantine = "indicators.in_quarantine" // in a quarantine not ended
)

// Count is one figure's count of a day or a month, for one key ("" if the
// figure has none).
type Count struct {
	Figure, Key string
	N           int64
}

// MonthCount is a figure's count over the days of one month (its first
// day) that lie in a period.
type MonthCount struct {
	Month time.Time
	Count
}

// Received is how many reports one provider finished on a day, of one
// type and urgency.
type Received struct {
	Provider string // the organisation's name
	Type     string
	Urgent   bool
	N        int64
}

// Events is what happened on one UTC day, as the store reads it from the
// flows' tables in one snapshot: the raw material of the day's figures.
type Events struct {
	Received []Received
	// Triaged counts the reports triaged, by material found (known, new,
	// none).
	Triaged map[string]int64
	// ToForward holds, for each report forwarded, the time from its
	// receipt to the decision.
	ToForward []time.Duration
	Unfounded int64
	// Routed counts deliveries to competent authorities (Europol's
	// excluded), by the authority's country.
	Routed map[string]int64
	// Activated and Withdrawn count indicators; WithdrawnListed those of
	// the withdrawn that had been activated.
	Activated, Withdrawn, WithdrawnListed int64
	// QuarantinesBegun and QuarantinesEnded count quarantines.
	QuarantinesBegun, QuarantinesEnded int64
	FalsePositives                     int64
	Complaints, Upheld, Rejected       int64
	URLsReported, Notices              int64
	// ToRemoval holds, for each case whose removal was verified, the time
	// from its report to the verification.
	ToRemoval []time.Duration
}

// DayCounts is the roll-up of one day, as saved.
type DayCounts struct {
	Day    time.Time
	Counts []Count
	// Stocks are the values at the end of the day, by stock.
	Stocks map[string]int64
	// Final: the day has settled and is not counted again.
	Final bool
	At    time.Time // when it was counted
}

// State is the progress of the roll-up.
type State struct {
	// FinalThrough is the last day that is final; zero before the first.
	FinalThrough time.Time
	// UpdatedAt is when a day was last counted; zero if never.
	UpdatedAt time.Time
}

// Totals is what the statistics of a period are made of, read in one
// snapshot.
type Totals struct {
	// Months holds the counts of the period's days, summed per month.
	Months []MonthCount
	// Stocks are the values at the end of the period: of its last day
	// rolled up, or the latest rolled up before it.
	Stocks map[string]int64
	State  State
}

// Store keeps the roll-ups and reads the flows' tables they are counted
// from. Package store implements it ((*store.DB).Stats); this package's
// tests check it on each engine. Days are UTC midnights.
type Store interface {
	// DayEvents reads what happened from day to day+24h (excluded), in
	// one snapshot.
	DayEvents(ctx context.Context, day time.Time) (Events, error)
	// FirstEvent returns the time of the earliest event any figure
	// counts, or zero if there is none.
	FirstEvent(ctx context.Context) (time.Time, error)
	// SaveDay replaces the counts and stocks of d.Day, and its month's
	// sums, and records d.At as the time of the last roll-up and, if
	// d.Final, d.Day as the last final day, in one transaction.
	SaveDay(ctx context.Context, d DayCounts) error
	// RollupState returns the roll-up's progress.
	RollupState(ctx context.Context) (State, error)
	// Stocks returns the stocks at the end of day: those saved for it, or
	// for the latest day saved before it; none before the first.
	Stocks(ctx context.Context, day time.Time) (map[string]int64, error)
	// Totals returns the counts of the days from from to to (both
	// included) per month, the stocks at the end of to, and the
	// roll-up's progress, in one snapshot.
	Totals(ctx context.Context, from, to time.Time) (Totals, error)
}

// Options configure a Service.
type Options struct {
	// Clock is the service's clock, the system's if nil.
	Clock core.Clock
	// Progress, if set, is told how a roll-up of many days goes (a first
	// one over years of data): every ProgressEvery, and at its end.
	Progress func(Progress)
}

// Progress is how far a long roll-up is.
type Progress struct {
	Day         time.Time // the last day counted
	Done, Total int       // days
	Elapsed     time.Duration
}

// ProgressEvery is how often a long roll-up reports its progress.
const ProgressEvery = 10 * time.Second

// progressDays is the least number of days whose roll-up reports its
// progress: the usual run, today and yesterday, is silent.
const progressDays = 7

// Service computes and reads the statistics.
type Service struct {
	st Store
	o  Options
}

// New returns a Service on st.
func New(st Store, o Options) *Service { return &Service{st: st, o: o} }

// dayOf is the UTC midnight starting t's day.
func dayOf(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// monthOf is the first day of t's month.
func monthOf(t time.Time) time.Time {
	y, m, _ := t.UTC().Date()
	return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
}
