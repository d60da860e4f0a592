package report

// SetMaxReportSize lowers the bound on a report's files together, so that
// tests need not upload hundreds of megabytes.
func SetMaxReportSize(s *Service, n int64) { s.maxReportSize = n }
