package main

import (
	"context"
	"errors"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/accountability/quarantine"
	"github.com/wardhq/ward/internal/core"
)

// complaintQuarantine quarantines, for the centre, the indicators of an
// upheld complaint (complaint.Quarantiner).
type complaintQuarantine struct {
	q      *quarantine.Service
	centre func(context.Context) (int64, error)
}

func (c complaintQuarantine) QuarantineForComplaint(ctx context.Context, indicatorID int64, complaintID string) error {
	centre, err := c.centre(ctx)
	if err != nil {
		return err
	}
	a := quarantine.Actor{Org: centre, Actor: "system", Kind: org.Centre, Scope: policy.AllData}
	err = c.q.Quarantine(ctx, a, indicatorID, quarantine.Complaint, "complaint "+complaintID+" was upheld")
	if errors.Is(err, core.ErrConflict) {
		// Pending or withdrawn: it matches nothing, so there is nothing
		// to hold back (a retried job lands here too once withdrawn).
		return nil
	}
	return err
}
