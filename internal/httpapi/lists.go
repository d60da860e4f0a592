package httpapi

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/indicator/translog"
)

func (s *Server) lists(w http.ResponseWriter, r *http.Request, _ org.Principal) error {
	infos, err := s.Indicators.Lists(r.Context())
	if err != nil {
		return err
	}
	logs := map[string]translog.Log{}
	if s.Log != nil {
		all, err := s.Log.Logs(r.Context())
		if err != nil {
			return err
		}
		for _, g := range all {
			logs[g.List] = g
		}
	}
	resp := client.ListsResponse{Lists: []client.List{}}
	for _, l := range infos {
		out := client.List{
			Name: l.Name, Kind: string(l.Kind), Head: l.Head, Active: l.Active, MaxDistance: l.MaxDistance, Threshold: l.Threshold,
			MinAttestations: l.Policy.MinAttestations, DistinctCountries: l.Policy.DistinctCountries,
		}
		if g, ok := logs[l.Name]; ok {
			out.LogSize, out.LogRoot = g.Size, base64.StdEncoding.EncodeToString(g.Root[:])
		}
		resp.Lists = append(resp.Lists, out)
	}
	return writeJSON(w, http.StatusOK, resp)
}

// changes serves a page of a list's feed. Organisations that do not submit
// indicators see only activations, quarantines, releases and withdrawals
// of what was active: what a mirror adds and removes, and never a hash
// that was not distributed.
// Next always moves past the whole page read, so filtered pages still
// advance.
func (s *Server) changes(w http.ResponseWriter, r *http.Request, p org.Principal) error {
	list := r.PathValue("list")
	var errs fieldErrors
	after := int64(0)
	q := r.URL.Query()
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			errs.add("/after", fmt.Errorf("after must be a sequence number >= 0, got %q", v))
		}
		after = n
	}
	limit := errs.limit(q, defaultPageSize, indicator.MaxChanges)
	if err := errs.err(); err != nil {
		return err
	}
	info, err := s.listInfo(r, list)
	if err != nil {
		return err
	}
	changes, err := s.Indicators.Changes(r.Context(), list, after, limit)
	if err != nil {
		return err
	}
	page := client.ChangesPage{List: list, Changes: []client.Change{}, Next: after, Head: max(info.Head, after)}
	all := policy.Allowed(policy.ForPrincipal(p), policy.IndicatorsRead)
	for _, c := range changes {
		page.Next = c.Seq
		page.Head = max(page.Head, c.Seq)
		if !all && !distributed(c) {
			continue
		}
		page.Changes = append(page.Changes, client.Change{
			Seq: c.Seq, Kind: string(c.Kind), Indicator: c.IndicatorID, Signal: string(c.Signal),
			Value: c.Value, Category: string(c.Category), At: c.At.UTC(),
		})
	}
	return writeJSON(w, http.StatusOK, page)
}

// distributed reports whether c adds or removes an indicator of what
// providers match.
func distributed(c indicator.Change) bool {
	switch c.Kind {
	case indicator.Activate, indicator.Quarantine, indicator.Release:
		return true
	case indicator.Withdraw:
		return c.WasActive
	}
	return false
}

func (s *Server) listInfo(r *http.Request, name string) (indicator.ListInfo, error) {
	infos, err := s.Indicators.Lists(r.Context())
	if err != nil {
		return indicator.ListInfo{}, err
	}
	for _, l := range infos {
		if l.Name == name {
			return l, nil
		}
	}
	return indicator.ListInfo{}, core.Errorf(core.ErrNotFound, "no list named %q", name)
}

func (s *Server) submit(w http.ResponseWriter, r *http.Request, p org.Principal) error {
	var req client.SubmitRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	var errs fieldErrors
	if req.List == "" {
		errs.add("/list", fmt.Errorf("list is required (for example \"known\")"))
	}
	switch {
	case len(req.Items) == 0:
		errs.add("/items", fmt.Errorf("at least one item is needed"))
	case len(req.Items) > MaxItems:
		errs.add("/items", fmt.Errorf("at most %d items per request, got %d", MaxItems, len(req.Items)))
	}
	subs := make([]indicator.Submission, len(req.Items))
	for i, it := range req.Items {
		sub, err := indicator.Submission{
			Signal: indicator.Signal(it.Type), Value: it.Value,
			Category: indicator.Category(it.Category), Reference: it.Reference,
		}.Normalize()
		if err != nil {
			errs.add(fmt.Sprintf("/items/%d", i), err)
		}
		subs[i] = sub
	}
	if err := errs.err(); err != nil {
		return err
	}
	results, err := s.Indicators.Submit(r.Context(), req.List, p, subs)
	if err != nil {
		return err
	}
	if err := s.record(r, p, "indicator.submit", fmt.Sprintf("list:%s (%d items)", req.List, len(subs))); err != nil {
		return err
	}
	resp := client.SubmitResponse{Results: make([]client.SubmitResult, len(results))}
	for i, res := range results {
		resp.Results[i] = client.SubmitResult{
			Indicator: res.IndicatorID, State: string(res.State), Created: res.Created, Activated: res.Activated,
		}
	}
	return writeJSON(w, http.StatusOK, resp)
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, core.Errorf(core.ErrNotFound, "indicator id must be a positive whole number, got %q", r.PathValue("id"))
	}
	return id, nil
}

func (s *Server) indicator(w http.ResponseWriter, r *http.Request, _ org.Principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	in, _, err := s.Indicators.Get(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, wireIndicator(in))
}

func (s *Server) withdraw(w http.ResponseWriter, r *http.Request, p org.Principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req client.WithdrawRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	in, err := s.Indicators.Withdraw(r.Context(), id, p, req.Reason)
	if err != nil {
		return err
	}
	if err := s.record(r, p, "indicator.withdraw", fmt.Sprintf("indicator:%d", id)); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, wireIndicator(in))
}

func wireIndicator(in indicator.Indicator) client.Indicator {
	out := client.Indicator{
		ID: in.ID, List: in.List, Signal: string(in.Signal), Value: in.Value,
		Category: string(in.Category), State: string(in.State), CreatedAt: in.CreatedAt.UTC(),
	}
	if !in.ActivatedAt.IsZero() {
		t := in.ActivatedAt.UTC()
		out.ActivatedAt = &t
	}
	if !in.WithdrawnAt.IsZero() {
		t := in.WithdrawnAt.UTC()
		out.WithdrawnAt = &t
	}
	return out
}
