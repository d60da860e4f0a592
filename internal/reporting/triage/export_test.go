package triage

// Record and ApplyDecision are the transactions of Service.Triage and
// Service.Decide, ClearedDetails what Service.Retain clears and
// PendingJobs what it spares, for tests that assess, decide and purge
// directly.
var (
	Record         = record
	ApplyDecision  = applyDecision
	ClearedDetails = clearedDetails
	PendingJobs    = pending
)
