package forward

import "github.com/wardhq/ward/internal/reporting/triage"

// The kinds of job whose handlers are this package's (Service.Route, Push,
// Notify and PushCorrection), each queued in the transaction of the
// change that needs it: a JobRoute with a decision to forward (by package
// triage, which names it, and JobPush, to keep the content of a report
// until it is delivered), a JobPush with each delivery to an authority
// with a webhook, a JobNotify with each event a provider may see (by the
// store), a JobCorrection with each correction (Correct) for an authority
// with a webhook.
const (
	JobRoute      = triage.JobRoute     // ref: a report decided to be forwarded: find its authorities
	JobPush       = triage.JobPush      // ref: PushRef's "REPORT/ORG": push a report to an authority's webhook
	JobNotify     = "report.notify"     // ref: a report event's id, to tell the provider's webhook
	JobCorrection = "report.correction" // ref: an EventCorrected's id, to push it to the authority's webhook
)
