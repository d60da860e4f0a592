package triage

import "github.com/wardhq/ward/internal/reporting/report"

// The kinds of job whose handlers are this package's (Service.Triage and
// Service.Retain). Package report queues a JobTriage in the transaction
// that finishes a report.
const (
	JobTriage    = report.JobTriage    // ref: a finished report's id
	JobRetention = "reports.retention" // ref: "": delete the content of reports past the retention period
)

// The kinds of job, handled by package forward, that deliver a report
// decided to be forwarded: triage queues its JobRoute with the decision,
// and routing a JobPush per authority with a webhook. A report keeps its
// content until they are done (see pending).
const (
	JobRoute = "report.route"  // ref: the report's id
	JobPush  = "delivery.push" // ref: "REPORT/ORG" (forward.PushRef)
)

// Pending is a kind of job that, until done (pending, or dead and to be
// revived), keeps the content of the report it is for: its ref is the
// report's id or, with Sub, the id, "/", and more.
type Pending struct {
	Kind string
	Sub  bool
}

// pending are the jobs that keep a report's content from retention: a
// report still being routed or pushed keeps it until it is delivered.
var pending = []Pending{{Kind: JobRoute}, {Kind: JobPush, Sub: true}}
