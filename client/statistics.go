package client

import (
	"context"
	"net/http"
	"net/url"
)

// Statistics is the centre's transparency statistics of a period, the
// answer of GET /v1/public/statistics (anyone, no key). Each figure counts
// events on the UTC day they happened, from From to To; docs/statistics.md
// defines every one. Nothing in them is personal data.
type Statistics struct {
	From string `json:"from"` // YYYY-MM-DD
	To   string `json:"to"`   // YYYY-MM-DD, included
	// UpdatedAt is when the figures were last rolled up (RFC 3339, UTC):
	// events since are not counted yet; null before the first roll-up.
	UpdatedAt *string `json:"updated_at"`
	// FinalThrough is the last day whose figures are final; null if none
	// is.
	FinalThrough *string             `json:"final_through"`
	Reports      ReportStatistics    `json:"reports"`
	Indicators   IndicatorStatistics `json:"indicators"`
	Complaints   ComplaintStatistics `json:"complaints"`
	Takedown     TakedownStatistics  `json:"takedown"`
	// Months are the period's months in order, each with the counts of
	// its days in the period.
	Months []MonthStatistics `json:"months"`
}

// ReportStatistics are the figures of providers' reports.
type ReportStatistics struct {
	Received   int64            `json:"received"`
	ByProvider map[string]int64 `json:"by_provider"` // received, by the provider's name
	// ByCountry counts deliveries of forwarded reports to competent
	// authorities (Europol's excluded), by the authority's country.
	ByCountry map[string]int64 `json:"by_country"`
	// ByType counts the received by type as the provider stated it:
	// known, new, solicitation (always all three).
	ByType    map[string]int64 `json:"by_type"`
	Known     int64            `json:"known"` // triaged: known material found
	New       int64            `json:"new"`   // triaged: items, none known
	Urgent    int64            `json:"urgent"`
	Unfounded int64            `json:"unfounded"`
	Forwarded int64            `json:"forwarded"`
	// MedianHoursToForward is the median time from receipt to the
	// decision to forward, within 5 %; null if none was forwarded.
	MedianHoursToForward *float64 `json:"median_hours_to_forward"`
}

// IndicatorStatistics are the figures of the lists' indicators.
type IndicatorStatistics struct {
	// Active is how many were on the lists and not in quarantine at the
	// end of To; InQuarantine how many were in quarantine.
	Active                int64 `json:"active"`
	InQuarantine          int64 `json:"in_quarantine"`
	Added                 int64 `json:"added"`
	Withdrawn             int64 `json:"withdrawn"`
	Quarantined           int64 `json:"quarantined"` // quarantines begun
	FalsePositiveVerdicts int64 `json:"false_positive_verdicts"`
}

// ComplaintStatistics are the figures of complaints.
type ComplaintStatistics struct {
	Received int64 `json:"received"`
	Upheld   int64 `json:"upheld"`
	Rejected int64 `json:"rejected"`
}

// TakedownStatistics are the figures of the hotline channel.
type TakedownStatistics struct {
	URLsReported int64 `json:"urls_reported"`
	Notices      int64 `json:"notices"` // to hosts, each counted once
	Removed      int64 `json:"removed"` // cases whose removal was verified
	// MedianHoursToRemoval is the median time from report to verified
	// removal, within 5 %; null if none was removed.
	MedianHoursToRemoval *float64 `json:"median_hours_to_removal"`
	RemovedWithin3Days   int64    `json:"removed_within_3_days"`
}

// MonthStatistics are the counts of one month's days in the period.
type MonthStatistics struct {
	Month            string `json:"month"` // YYYY-MM
	ReportsReceived  int64  `json:"reports_received"`
	ReportsForwarded int64  `json:"reports_forwarded"`
	IndicatorsAdded  int64  `json:"indicators_added"`
	URLsReported     int64  `json:"urls_reported"`
	TakedownRemoved  int64  `json:"takedown_removed"`
}

// Statistics returns the transparency statistics from day from to day to
// (YYYY-MM-DD, both included); "" for the server's defaults (the last 365
// days, today included). No key is sent, even if the client has one.
func (c *Client) Statistics(ctx context.Context, from, to string) (*Statistics, error) {
	q := url.Values{}
	if from != "" {
		q.Set("from", from)
	}
	if to != "" {
		q.Set("to", to)
	}
	o := *c
	o.key = ""
	var out Statistics
	return &out, o.do(ctx, http.MethodGet, "/v1/public/statistics", q, nil, "", &out)
}
