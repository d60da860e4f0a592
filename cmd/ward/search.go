package main

import (
	"context"
	"time"

	"github.com/wardhq/ward/internal/platform/jobs"
	"github.com/wardhq/ward/internal/reporting/forward"
	"github.com/wardhq/ward/internal/takedown/crawl"
	"github.com/wardhq/ward/internal/takedown/search"
)

// searchCaseTimeout bounds the search's fetch of a page and what it
// embeds: longer than the takedown fetch's, as the spacing of the
// requests to a host counts in it.
const searchCaseTimeout = 10 * time.Minute

// searchFetcher is the fetcher of the centre's search: the takedown
// fetcher's limits and fetch memory, its requests to each host spaced by
// delay, across every run of the process.
func searchFetcher(cfg crawl.Config, delay time.Duration) *crawl.Fetcher {
	cfg.Pace = search.NewPacer(delay).Wait
	cfg.CaseTimeout = searchCaseTimeout
	return crawl.New(cfg)
}

// registerSearch gives the runner the search's jobs: the periodic look
// for due places, every c.SearchInterval, and the runs it queues.
func registerSearch(r *jobs.Runner, s *search.Service, c Config) {
	r.Register(jobs.Spec{Kind: search.JobDue, Handle: func(ctx context.Context, _ jobs.Job) error { return s.QueueDue(ctx) }})
	r.Periodic(search.JobDue, c.SearchInterval)
	r.Register(jobs.Spec{Kind: search.JobRun, Handle: func(ctx context.Context, j jobs.Job) error { return s.Run(ctx, j.Ref) },
		DeadAfter: c.DeadLetterAfter, MaxBackoff: forward.MaxBackoff})
}
