package triage

import "github.com/wardhq/ward/internal/reporting/report"

// The kinds of job whose handlers are this package's (Service.Triage and
// Service.Retain). Package report queues a JobTriage in the transaction
// that finishes a report.
const (
	JobTriage    = report.JobTriage    // ref: a finished report's id
	JobRetention = "reports.retention" // ref: "": delete the content of reports past the retention period
)
