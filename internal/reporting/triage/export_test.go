package triage

// Record and ApplyDecision are the transactions of Service.Triage and
// Service.Decide, and ClearedDetails what Service.Retain clears, for
// tests that assess, decide and purge directly.
var (
	Record         = record
	ApplyDecision  = applyDecision
	ClearedDetails = clearedDetails
)
