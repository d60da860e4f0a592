package forward

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/reporting/report"
)

// CorrectionContext is the context string a pushed correction is signed
// in (see Correction).
const CorrectionContext = "ward report correction v1\n"

// CorrectionDetail is the sealed detail of an EventCorrected, sealed with
// report.EventAAD of the report corrected.
type CorrectionDetail struct {
	Complaint string `json:"complaint"` // the upheld complaint (package complaint)
	Reasons   string `json:"reasons"`   // the reviewer's
}

// Correction is a correction of a report as an authority receives it: in
// the report's package (Package.Corrections, without ReportID and Event)
// and pushed to its webhook, signed in CorrectionContext, with the
// headers Ward-Report-Id and Ward-Event-Id, by which it de-duplicates.
type Correction struct {
	ReportID string `json:"report_id,omitempty"`
	// Event identifies the correction for good.
	Event int64     `json:"event"`
	At    time.Time `json:"at"`
	// Complaint is the centre's complaint, upheld, that found the report
	// wrong: the content was lawful, the provider told to reinstate it,
	// the indicators involved taken out of matching for review.
	Complaint string `json:"complaint"`
	Reasons   string `json:"reasons"`
}

// Correct records, within tx, that report id was found wrong by an upheld
// complaint, for every authority it was delivered to: an
// report.EventCorrected by actor with detail (a CorrectionDetail, sealed),
// the delivery marked corrected at (Delivery.CorrectedAt: new to the
// authority again until it acknowledges), and, for an authority with a
// webhook, a JobCorrection. It returns how many authorities it reached:
// none for a report never delivered.
func Correct(ctx context.Context, tx Tx, id, actor string, detail []byte, at time.Time) (int, error) {
	orgs, err := tx.DeliveredTo(ctx, id)
	if err != nil {
		return 0, err
	}
	for _, o := range orgs {
		ev, err := tx.AddCorrection(ctx, report.Event{ReportID: id, At: at, Kind: report.EventCorrected, Actor: actor, Org: o, Detail: detail})
		if err != nil {
			return 0, err
		}
		hook, err := tx.HasWebhook(ctx, o)
		if err != nil {
			return 0, err
		}
		if hook {
			if err := tx.QueueJob(ctx, JobCorrection, strconv.FormatInt(ev, 10), at); err != nil {
				return 0, err
			}
		}
	}
	return len(orgs), nil
}

// corrections returns the corrections of report id delivered to orgID,
// oldest first, their details opened.
func (s *Service) corrections(ctx context.Context, id string, orgID int64) ([]Correction, error) {
	evs, err := s.store.ReportEvents(ctx, id)
	if err != nil {
		return nil, err
	}
	var out []Correction
	for _, ev := range evs {
		if ev.Kind != report.EventCorrected || ev.Org != orgID {
			continue
		}
		c, err := s.correction(ctx, ev)
		if err != nil {
			return nil, err
		}
		c.ReportID = ""
		out = append(out, c)
	}
	return out, nil
}

func (s *Service) correction(ctx context.Context, ev report.Event) (Correction, error) {
	var d CorrectionDetail
	if ev.Detail != nil {
		b, err := s.sealer.Open(ctx, ev.Detail, report.EventAAD(ev.ReportID))
		if err != nil {
			return Correction{}, fmt.Errorf("opening correction %d of report %s: %w", ev.ID, ev.ReportID, err)
		}
		if err := json.Unmarshal(b, &d); err != nil {
			return Correction{}, fmt.Errorf("correction %d of report %s: %w", ev.ID, ev.ReportID, err)
		}
	}
	return Correction{ReportID: ev.ReportID, Event: ev.ID, At: ev.At, Complaint: d.Complaint, Reasons: d.Reasons}, nil
}

// PushCorrection pushes the correction that is event ref (the ref of its
// JobCorrection) to the webhook of the authority it is for: the POST of a
// Correction, signed (CorrectionContext), with the headers Ward-Report-Id
// and Ward-Event-Id. An authority without a webhook any more needs
// nothing: it sees the correction in its inbox and the report's package.
// Errors are as Push's.
func (s *Service) PushCorrection(ctx context.Context, ref string) error {
	return permanent(s.pushCorrection(ctx, ref))
}

func (s *Service) pushCorrection(ctx context.Context, ref string) error {
	evID, err := strconv.ParseInt(ref, 10, 64)
	if err != nil {
		return core.Errorf(core.ErrInvalid, "correction job ref %q is not an event ID", ref)
	}
	ev, err := s.store.ReportEvent(ctx, evID)
	if err != nil {
		return err
	}
	if ev.Kind != report.EventCorrected {
		return core.Errorf(core.ErrInvalid, "report event %d is %s, not a correction", evID, ev.Kind)
	}
	if _, err := s.store.Delivery(ctx, ev.ReportID, ev.Org); err != nil {
		return err
	}
	hook, err := OpenWebhook(ctx, s.store, s.sealer, ev.Org)
	if err != nil || hook == "" {
		return err
	}
	c, err := s.correction(ctx, ev)
	if err != nil {
		return err
	}
	body, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if s.Audit != nil {
		_, err := s.Audit.Append(ctx, audit.Event{Actor: audit.System, Action: "report.correction.push", Object: "report:" + ev.ReportID,
			Purpose: "push to authority " + strconv.FormatInt(ev.Org, 10), Outcome: audit.OK})
		if err != nil {
			return err
		}
	}
	err = s.post(ctx, hook, body, s.sign(CorrectionContext, body), http.Header{
		"Ward-Report-Id": {ev.ReportID},
		"Ward-Event-Id":  {ref},
	})
	s.observe("push", err)
	if err != nil {
		return fmt.Errorf("pushing correction %d of report %s to organisation %d: %w", evID, ev.ReportID, ev.Org, err)
	}
	return nil
}
