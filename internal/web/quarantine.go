package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/wardhq/ward/internal/access/auth"
	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/accountability/quarantine"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/indicator"
)

// The review of quarantined indicators: the queue of open quarantines,
// oldest first, and an indicator's page with its quarantines, the
// providers' verdicts and the two ends of a review. The service audits
// every step, and every view of the verdicts (their notes are personal
// data).

// causeLabels name the causes of a quarantine.
var causeLabels = map[quarantine.Cause]string{
	quarantine.FalsePositiveCause: "false-positive verdicts", quarantine.Flood: "flood of matches",
	quarantine.Manual: "by hand", quarantine.Complaint: "complaint",
}

// causeLabel names cause c for the pages.
func causeLabel(c quarantine.Cause) string {
	if l, ok := causeLabels[c]; ok {
		return l
	}
	return string(c)
}

type quarantineQueuePage struct {
	base
	Rows  []quarantineRow
	Next  string
	First string // the first page, when not on it
}

type quarantineRow struct {
	quarantine.Entry
	CauseLabel, Age string
}

func (s *Server) quarantineQueue(w http.ResponseWriter, r *http.Request, u *auth.User) error {
	qs := r.URL.Query()
	var after int64
	if v := qs.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return core.Errorf(core.ErrInvalid, "after: not a quarantine's number")
		}
		after = n
	}
	// One more than shown tells whether there is a next page.
	entries, err := s.Quarantine.Queue(r.Context(), quarantineActor(u, policy.QuarantineRead), quarantine.DefaultLimit+1, after)
	if err != nil {
		return err
	}
	p := quarantineQueuePage{base: s.base(r, u, "Quarantine")}
	if len(entries) > quarantine.DefaultLimit {
		entries = entries[:quarantine.DefaultLimit]
		p.Next = "/quarantine?after=" + strconv.FormatInt(entries[len(entries)-1].Quarantine, 10)
	}
	if after != 0 {
		p.First = "/quarantine"
	}
	if id, err := strconv.ParseInt(qs.Get("done"), 10, 64); err == nil && id > 0 {
		switch qs.Get("outcome") {
		case string(quarantine.ConfirmedOutcome):
			p.Flash = fmt.Sprintf("Indicator %d was confirmed: it is active again.", id)
		case string(quarantine.WithdrawnOutcome):
			p.Flash = fmt.Sprintf("Indicator %d was withdrawn.", id)
		}
	}
	now := time.Now()
	for _, e := range entries {
		p.Rows = append(p.Rows, quarantineRow{Entry: e, CauseLabel: causeLabel(e.Cause), Age: age(now.Sub(e.Since))})
	}
	return s.render(w, http.StatusOK, "quarantines", p)
}

type quarantinePage struct {
	base
	D quarantine.Detail
	// Attestations are the indicator's; everyone who may open the page
	// is of the centre, which sees every indicator's provenance.
	Attestations []indicator.Attestation
	// Open is the open quarantine, if any; Past the ended ones, latest
	// first.
	Open *quarantineRecord
	Past []quarantineRecord
	// Review: the user may end the open quarantine.
	Review bool
	// What a refused form sent, and why it was refused.
	Note, Reason, ConfirmError, WithdrawError string
	MaxNote, MaxReason                        int
}

type quarantineRecord struct {
	quarantine.Record
	CauseLabel, By, EndedBy, Age string
}

// quarantineData is the page of the indicator of the request's {id}.
func (s *Server) quarantineData(r *http.Request, u *auth.User) (quarantinePage, error) {
	id, err := pathInt(r, "id")
	if err != nil {
		return quarantinePage{}, err
	}
	d, err := s.Quarantine.Detail(r.Context(), quarantineActor(u, policy.QuarantineRead), id)
	if err != nil {
		return quarantinePage{}, err
	}
	p := quarantinePage{base: s.base(r, u, fmt.Sprintf("Quarantine of indicator %d", id)), D: d,
		MaxNote: quarantine.MaxNote, MaxReason: quarantine.MaxReason}
	if _, p.Attestations, err = s.Indicators.Get(r.Context(), id); err != nil {
		return p, err
	}
	users := map[string]string{}
	now := time.Now()
	for i := len(d.Quarantines) - 1; i >= 0; i-- {
		q := d.Quarantines[i]
		row := quarantineRecord{Record: q, CauseLabel: causeLabel(q.Cause), Age: age(now.Sub(q.At))}
		if row.By, err = s.actorName(r, users, q.Actor); err != nil {
			return p, err
		}
		if q.OrgName != "" {
			row.By += ", " + q.OrgName
		}
		if q.Open() {
			p.Open = &row
			continue
		}
		if row.EndedBy, err = s.actorName(r, users, q.EndedBy); err != nil {
			return p, err
		}
		if q.EndedOrgName != "" {
			row.EndedBy += ", " + q.EndedOrgName
		}
		p.Past = append(p.Past, row)
	}
	p.Review = p.Open != nil && d.Indicator.State == indicator.Quarantined && mayOpen(u, policy.QuarantineReview)
	return p, nil
}

func (s *Server) quarantinePage(w http.ResponseWriter, r *http.Request, u *auth.User) error {
	p, err := s.quarantineData(r, u)
	if err != nil {
		return err
	}
	return s.render(w, http.StatusOK, "quarantine", p)
}

// endQuarantine runs a review's end (confirm or withdraw) with the text
// of the form's field; a refusal of the text is shown at its form.
func (s *Server) endQuarantine(w http.ResponseWriter, r *http.Request, u *auth.User, field string, outcome quarantine.Outcome,
	end func(quarantine.Actor, int64, string) error) error {
	if err := form(w, r); err != nil {
		return err
	}
	id, err := pathInt(r, "id")
	if err != nil {
		return err
	}
	text := r.PostFormValue(field)
	err = end(quarantineActor(u, policy.QuarantineReview), id, text)
	if errors.Is(err, core.ErrInvalid) {
		p, derr := s.quarantineData(r, u)
		if derr != nil {
			return derr
		}
		if outcome == quarantine.ConfirmedOutcome {
			p.Note, p.ConfirmError = text, capitalise(err.Error())
		} else {
			p.Reason, p.WithdrawError = text, capitalise(err.Error())
		}
		return s.render(w, http.StatusBadRequest, "quarantine", p)
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, fmt.Sprintf("/quarantine?done=%d&outcome=%s", id, outcome), http.StatusSeeOther)
	return nil
}

func (s *Server) confirmQuarantine(w http.ResponseWriter, r *http.Request, u *auth.User) error {
	return s.endQuarantine(w, r, u, "note", quarantine.ConfirmedOutcome, func(a quarantine.Actor, id int64, note string) error {
		return s.Quarantine.Confirm(r.Context(), a, id, note)
	})
}

func (s *Server) withdrawQuarantine(w http.ResponseWriter, r *http.Request, u *auth.User) error {
	return s.endQuarantine(w, r, u, "reason", quarantine.WithdrawnOutcome, func(a quarantine.Actor, id int64, reason string) error {
		return s.Quarantine.Withdraw(r.Context(), a, id, reason)
	})
}
