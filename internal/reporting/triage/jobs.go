package triage

// The kinds of job whose handlers are this package's (Service.Triage and
// Service.Retain). The store queues a JobTriage in the transaction that
// finishes a report.
const (
	JobTriage    = "report.triage"     // ref: a finished report's id
	JobRetention = "reports.retention" // ref: "": delete the content of reports past the retention period
)
