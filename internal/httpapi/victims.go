package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/ratelimit"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/matching/matcher"
	"github.com/wardhq/ward/internal/victim"
)

// VictimMatches is told which indicators of the unverified list a
// provider matched: through the match routes, or from its mirror as it
// confirms with match-feedback. It must be idempotent; it is called only
// when such a match happened, which is rare. *victim.Service is one.
type VictimMatches interface {
	ProviderMatched(ctx context.Context, provider int64, indicators []int64) error
}

var _ VictimMatches = (*victim.Service)(nil)

// victimRoutes are the victims' cases and the directory of help services:
// no key. The case's secret, in Authorization, is what authorises the
// routes of a case, and is never taken as an API key.
func (s *Server) victimRoutes() []route {
	rs := []route{
		{"POST /v1/public/victim-cases", noKey, s.openVictimCase},
		{"GET /v1/public/victim-cases/{case}", noKey, s.victimCase},
		{"POST /v1/public/victim-cases/{case}/hashes", noKey, s.addVictimHashes},
		{"DELETE /v1/public/victim-cases/{case}/hashes/{id}", noKey, s.withdrawVictimHash},
		{"DELETE /v1/public/victim-cases/{case}/hashes", noKey, s.withdrawVictimHash},
		{"GET /v1/public/help-services", noKey, s.helpServices},
	}
	for i, rt := range rs {
		h := rt.handle
		rs[i].handle = func(w http.ResponseWriter, r *http.Request, p org.Principal) error {
			if s.Victims == nil {
				return errNoVictims
			}
			return h(w, r, p)
		}
	}
	return rs
}

var errNoVictims = core.Errorf(core.ErrUnavailable, "this server does not take victims' hashes")

// maxVictimBody bounds a victim's request body: 100 hashes of at most 64
// hex digits and their JSON, a contact, with room to spare.
const maxVictimBody = 32 << 10

// VictimStatusURL is where the person follows a case in a browser.
const VictimStatusURL = "/help/case"

// victimHashes checks the hashes of a request at the edge, naming each
// wrong one; the service checks them again.
func victimHashes(hs []client.VictimHash, errs *fieldErrors) []indicator.Hash {
	if len(hs) == 0 || len(hs) > victim.MaxHashesPerRequest {
		errs.add("/hashes", fmt.Errorf("send 1 to %d hashes at a time, not %d", victim.MaxHashesPerRequest, len(hs)))
		return nil
	}
	out := make([]indicator.Hash, len(hs))
	for i, h := range hs {
		sig, err := indicator.ParseSignal(h.Signal)
		if err != nil {
			errs.add(fmt.Sprintf("/hashes/%d/signal", i), err)
			continue
		}
		if _, err := indicator.NormalizeValue(sig, h.Value); err != nil {
			errs.add(fmt.Sprintf("/hashes/%d/value", i), err)
			continue
		}
		out[i] = indicator.Hash{Signal: sig, Value: h.Value}
	}
	return out
}

func (s *Server) openVictimCase(w http.ResponseWriter, r *http.Request, _ org.Principal) error {
	if err := s.publicAllow(r, s.PublicLimit); err != nil {
		return err
	}
	var req client.VictimCaseRequest
	if err := decodeJSONMax(w, r, &req, maxVictimBody); err != nil {
		return err
	}
	var errs fieldErrors
	hs := victimHashes(req.Hashes, &errs)
	if _, err := victim.CheckContact(req.Contact); err != nil {
		errs.add("/contact", err)
	}
	if err := errs.err(); err != nil {
		return err
	}
	rc, err := s.Victims.Open(r.Context(), hs, req.Contact)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/public/victim-cases/"+rc.Case)
	return writeJSON(w, http.StatusCreated, client.VictimReceipt{VictimCase: wireVictimCase(rc.Status), Secret: rc.Secret,
		StatusURL: VictimStatusURL})
}

// caseSecret returns the case's secret from Authorization.
func caseSecret(r *http.Request) (string, error) {
	scheme, secret, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(secret) == "" {
		return "", errNoCaseSecret
	}
	return secret, nil
}

// errNoCaseSecret asks for the case's secret; it says nothing of the case.
var errNoCaseSecret = core.Errorf(core.ErrUnauthenticated, "the case's secret is needed: send the header \"Authorization: Bearer <secret>\" with the secret given when the case was opened")

func (s *Server) victimCase(w http.ResponseWriter, r *http.Request, _ org.Principal) error {
	if err := s.publicAllow(r, s.LookupLimit); err != nil {
		return err
	}
	secret, err := caseSecret(r)
	if err != nil {
		return err
	}
	st, err := s.Victims.Status(r.Context(), r.PathValue("case"), secret)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, wireVictimCase(st))
}

func (s *Server) addVictimHashes(w http.ResponseWriter, r *http.Request, _ org.Principal) error {
	if err := s.publicAllow(r, s.PublicLimit); err != nil {
		return err
	}
	secret, err := caseSecret(r)
	if err != nil {
		return err
	}
	var req client.VictimHashesRequest
	if err := decodeJSONMax(w, r, &req, maxVictimBody); err != nil {
		return err
	}
	var errs fieldErrors
	hs := victimHashes(req.Hashes, &errs)
	if err := errs.err(); err != nil {
		return err
	}
	st, err := s.Victims.Add(r.Context(), r.PathValue("case"), secret, hs)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, wireVictimCase(st))
}

// withdrawVictimHash withdraws the hash {id} of the case, or all of them
// without {id}. Each try counts as a look-up, as it tries a secret.
func (s *Server) withdrawVictimHash(w http.ResponseWriter, r *http.Request, _ org.Principal) error {
	if err := s.publicAllow(r, s.LookupLimit); err != nil {
		return err
	}
	secret, err := caseSecret(r)
	if err != nil {
		return err
	}
	var n int64
	if v := r.PathValue("id"); v != "" {
		if n, err = strconv.ParseInt(v, 10, 64); err != nil || n < 1 {
			return fieldError("/id", fmt.Errorf("the hash's ID must be a whole number from 1, as the case's status gives it, not %q", clip(v, 40)))
		}
	}
	st, err := s.Victims.Withdraw(r.Context(), r.PathValue("case"), secret, n)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, wireVictimCase(st))
}

func (s *Server) helpServices(w http.ResponseWriter, r *http.Request, _ org.Principal) error {
	if s.HelpLimit != nil {
		if ok, wait := s.HelpLimit.Allow(r.RemoteAddr); !ok {
			return &core.RetryAfter{Err: ratelimit.ErrLimited, Wait: wait}
		}
	}
	q := r.URL.Query()
	var errs fieldErrors
	country, lang := q.Get("country"), q.Get("language")
	if country != "" {
		if _, err := victim.ParseCountry(country); err != nil {
			errs.add("/country", core.Errorf(core.ErrInvalid, "the country must be a two-letter ISO 3166-1 code such as BE, not %q", clip(country, 40)))
		}
	}
	if lang != "" {
		if _, err := victim.ParseLanguage(lang); err != nil {
			errs.add("/language", core.Errorf(core.ErrInvalid, "the language must be a two-letter ISO 639-1 code such as fr, not %q", clip(lang, 40)))
		}
	}
	if err := errs.err(); err != nil {
		return err
	}
	hs, err := s.Victims.HelpServices(r.Context(), country, lang)
	if err != nil {
		return err
	}
	out := client.HelpServices{Services: make([]client.HelpService, len(hs))}
	for i, h := range hs {
		out.Services[i] = client.HelpService(h)
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	return writeJSON(w, http.StatusOK, out)
}

// finalNote is the note of a hash withdrawn from the list by the centre.
const finalNote = "withdrawn from the list by the centre, not by this case: a withdrawal is final, so this hash is not matched"

func wireVictimCase(st victim.Status) client.VictimCase {
	out := client.VictimCase{Case: st.Case, OpenedAt: st.OpenedAt, Hashes: make([]client.VictimCaseHash, len(st.Hashes)),
		Counts: client.VictimCounts(st.Counts)}
	for i, h := range st.Hashes {
		out.Hashes[i] = client.VictimCaseHash{ID: h.ID, Signal: string(h.Signal), Value: h.Value, State: string(h.State),
			AddedAt: h.AddedAt, WithdrawnAt: h.WithdrawnAt}
		if h.State == victim.Withdrawn && h.WithdrawnAt.IsZero() {
			out.Hashes[i].Note = finalNote
		}
	}
	return out
}

// victimMatched tells s.VictimMatches that p matched the unverified
// indicators among ms; nothing when there are none, or when p is no
// provider (a hotline's or the centre's own look-up is not a match found
// at a provider).
func (s *Server) victimMatched(ctx context.Context, p org.Principal, ms []matcher.Match) error {
	if s.VictimMatches == nil || p.Kind != org.Provider {
		return nil
	}
	var ids []int64
	for _, m := range ms {
		if m.Category == indicator.Unverified {
			ids = append(ids, m.Indicator)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	return s.VictimMatches.ProviderMatched(ctx, p.OrgID, ids)
}
