package triage

// Record and ApplyDecision are the transactions of Service.Triage and
// Service.Decide, for tests that assess and decide directly.
var (
	Record        = record
	ApplyDecision = applyDecision
)
