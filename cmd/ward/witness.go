package main

import (
	"context"
	"time"

	"github.com/wardhq/ward/internal/accountability/witness"
	"github.com/wardhq/ward/internal/indicator/translog"
	"github.com/wardhq/ward/internal/platform/jobs"
)

// registerWitnessing makes a periodic job of sending every log's
// checkpoint to the witnesses ws and storing their cosignatures: one
// node does it at a time, and a witness that fails or refuses fails the
// job, which is retried and logged.
func registerWitnessing(r *jobs.Runner, logs *translog.Service, ws []witness.Witnessed, every time.Duration) {
	sub := witness.NewSubmitter(logs, ws, nil)
	r.Register(jobs.Spec{Kind: witness.JobSubmit, MaxBackoff: every, Handle: func(ctx context.Context, _ jobs.Job) error {
		all, err := logs.Logs(ctx)
		if err != nil {
			return err
		}
		names := make([]string, len(all))
		for i, l := range all {
			names[i] = l.Name
		}
		return sub.Submit(ctx, names)
	}})
	r.Periodic(witness.JobSubmit, every)
}
