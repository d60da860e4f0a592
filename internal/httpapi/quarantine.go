package httpapi

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/accountability/quarantine"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/matching/matcher"
)

// Sightings is told of each match the match routes answer, for the flood
// rule; *quarantine.Tracker is one.
type Sightings interface {
	Saw(indicator, provider int64, item [16]byte)
}

var _ Sightings = (*quarantine.Tracker)(nil)

// saw tells s.Sightings that p's query of hashes (of one piece of content)
// matched each of ms, each by the hash that matched it: the digest for a
// digest, the queried PDQ hash for a PDQ hash (whatever variant matched).
// Another hash the request carried is no part of that match, so a caller
// cannot make one content many items by varying it.
func (s *Server) saw(p org.Principal, hashes []matcher.Item, ms []matcher.Match) {
	if s.Sightings == nil {
		return
	}
	for _, m := range ms {
		for _, h := range hashes {
			if h.Signal == m.Signal {
				s.Sightings.Saw(m.Indicator, p.OrgID, quarantine.ItemKey(h))
				break
			}
		}
	}
}

// quarantineRoutes are the providers' verdicts on their matches and the
// centre's quarantine: by hand, the queue, an indicator's quarantines and
// verdicts, and the review. The quarantine service records each step in
// the audit trail, in its transaction.
func (s *Server) quarantineRoutes() []route {
	rs := []route{
		{"POST /v1/match-feedback", policy.MatchFeedback, s.matchFeedback},
		{"POST /v1/indicators/{id}/quarantine", policy.QuarantineAdd, s.quarantineIndicator},
		{"GET /v1/quarantine", policy.QuarantineRead, s.quarantineQueue},
		{"GET /v1/quarantine/{id}", policy.QuarantineRead, s.quarantineDetail},
		{"POST /v1/quarantine/{id}/confirm", policy.QuarantineReview, s.confirmQuarantined},
		{"POST /v1/quarantine/{id}/withdraw", policy.QuarantineReview, s.withdrawQuarantined},
	}
	for i, rt := range rs {
		h := rt.handle
		rs[i].handle = func(w http.ResponseWriter, r *http.Request, p org.Principal) error {
			if s.Quarantine == nil {
				return errNoQuarantine
			}
			return h(w, r, p)
		}
	}
	return rs
}

var errNoQuarantine = core.Errorf(core.ErrUnavailable, "this server does not run quarantine")

// maxQuarantineBody bounds the bodies of these routes: a note or reason
// of at most 1000 characters, JSON-escaped.
const maxQuarantineBody = 16 << 10

// quarantineActor is the quarantine actor of a key's request for action a.
func quarantineActor(p org.Principal, a policy.Action) quarantine.Actor {
	return quarantine.Actor{Org: p.OrgID, OrgName: p.OrgName, Actor: "key:" + p.KeyID, Kind: p.Kind,
		Scope: policy.Scope(policy.ForPrincipal(p), a)}
}

func (s *Server) matchFeedback(w http.ResponseWriter, r *http.Request, p org.Principal) error {
	var req client.MatchFeedback
	if err := decodeJSONMax(w, r, &req, maxQuarantineBody); err != nil {
		return err
	}
	var errs fieldErrors
	if req.Indicator < 1 {
		errs.add("/indicator", fmt.Errorf("indicator must be the ID of a matched indicator, got %d", req.Indicator))
	}
	v, err := quarantine.ParseVerdict(req.Verdict)
	if err != nil {
		errs.add("/verdict", err)
	}
	if err := errs.err(); err != nil {
		return err
	}
	quarantined, err := s.Quarantine.Feedback(r.Context(), p, req.Indicator, v, req.Note)
	if err != nil {
		return err
	}
	// A provider matching offline, from its mirror, tells the centre of
	// a match of a victim's hash this way (a false positive does not
	// count: it feeds the quarantine, as for every list). Only a
	// provider's match counts, as for the match routes.
	if v == quarantine.Confirmed && s.VictimMatches != nil && p.Kind == org.Provider {
		if err := s.VictimMatches.ProviderMatched(r.Context(), p.OrgID, []int64{req.Indicator}); err != nil {
			return err
		}
	}
	return writeJSON(w, http.StatusAccepted, client.MatchFeedbackResult{Indicator: req.Indicator, Verdict: string(v), Quarantined: quarantined})
}

func (s *Server) quarantineIndicator(w http.ResponseWriter, r *http.Request, p org.Principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req client.QuarantineRequest
	if err := decodeJSONMax(w, r, &req, maxQuarantineBody); err != nil {
		return err
	}
	if err := s.Quarantine.Quarantine(r.Context(), quarantineActor(p, policy.QuarantineAdd), id, quarantine.Manual, req.Reason); err != nil {
		return err
	}
	return s.writeIndicator(w, r, id)
}

// writeIndicator answers with indicator id as it is now.
func (s *Server) writeIndicator(w http.ResponseWriter, r *http.Request, id int64) error {
	in, _, err := s.Indicators.Get(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, wireIndicator(in))
}

func (s *Server) quarantineQueue(w http.ResponseWriter, r *http.Request, p org.Principal) error {
	q := r.URL.Query()
	var errs fieldErrors
	limit := errs.limit(q, quarantine.DefaultLimit, quarantine.MaxLimit)
	var after int64
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			errs.add("/after", fmt.Errorf("after must be the quarantine of the previous page's next, got %q", v))
		}
		after = n
	}
	if err := errs.err(); err != nil {
		return err
	}
	es, err := s.Quarantine.Queue(r.Context(), quarantineActor(p, policy.QuarantineRead), limit, after)
	if err != nil {
		return err
	}
	out := client.QuarantineQueue{Quarantines: make([]client.QuarantineEntry, len(es))}
	for i, e := range es {
		out.Quarantines[i] = client.QuarantineEntry{
			Quarantine: e.Quarantine, Indicator: e.Indicator, List: e.List, Signal: string(e.Signal), Value: e.Value,
			Category: string(e.Category), Cause: string(e.Cause), Reason: e.Reason, Since: e.Since.UTC(), FalsePositives: e.FalsePositives,
		}
	}
	if len(es) == limit {
		out.Next = es[len(es)-1].Quarantine
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) quarantineDetail(w http.ResponseWriter, r *http.Request, p org.Principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	d, err := s.Quarantine.Detail(r.Context(), quarantineActor(p, policy.QuarantineRead), id)
	if err != nil {
		return err
	}
	out := client.QuarantineDetail{Indicator: wireIndicator(d.Indicator), Quarantines: []client.QuarantineRecord{},
		Verdicts: []client.ProviderVerdict{}}
	for _, q := range d.Quarantines {
		out.Quarantines = append(out.Quarantines, client.QuarantineRecord{
			ID: q.ID, Cause: string(q.Cause), Reason: q.Reason, Org: q.OrgName, Actor: q.Actor, At: q.At.UTC(),
			EndedAt: nullTime(q.EndedAt.UTC()), Outcome: string(q.Outcome), EndedBy: q.EndedBy, EndedOrg: q.EndedOrgName, Note: q.Note,
		})
	}
	for _, v := range d.Verdicts {
		out.Verdicts = append(out.Verdicts, client.ProviderVerdict{
			Provider: v.ProviderName, Verdict: string(v.Verdict), Note: v.Note, At: v.At.UTC(), AnsweredAt: nullTime(v.AnsweredAt.UTC()),
		})
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) confirmQuarantined(w http.ResponseWriter, r *http.Request, p org.Principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req client.ConfirmRequest
	if err := decodeJSONMax(w, r, &req, maxQuarantineBody); err != nil {
		return err
	}
	if err := s.Quarantine.Confirm(r.Context(), quarantineActor(p, policy.QuarantineReview), id, req.Note); err != nil {
		return err
	}
	return s.writeIndicator(w, r, id)
}

func (s *Server) withdrawQuarantined(w http.ResponseWriter, r *http.Request, p org.Principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req client.WithdrawRequest
	if err := decodeJSONMax(w, r, &req, maxQuarantineBody); err != nil {
		return err
	}
	if err := s.Quarantine.Withdraw(r.Context(), quarantineActor(p, policy.QuarantineReview), id, req.Reason); err != nil {
		return err
	}
	return s.writeIndicator(w, r, id)
}
