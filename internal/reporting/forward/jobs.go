package forward

// The kinds of job whose handlers are this package's (Service.Route, Push
// and Notify). The store queues each in the transaction of the change that
// needs it: a JobRoute with a decision to forward, a JobPush with each
// delivery to an authority with a webhook, a JobNotify with each event a
// provider may see.
const (
	JobRoute  = "report.route"  // ref: a report decided to be forwarded: find its authorities
	JobPush   = "delivery.push" // ref: PushRef's "REPORT/ORG": push a report to an authority's webhook
	JobNotify = "report.notify" // ref: a report event's id, to tell the provider's webhook
)
