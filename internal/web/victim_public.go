package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/wardhq/ward/internal/access/auth"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/victim"
)

// The page /help/case: the person who sent hashes of their images
// (/help/remove) follows the case with its number and secret, posted in a
// form and never in the URL, sees what was found in plain language
// (counts, never where), and withdraws any hash or all of them. No
// session and no script: each button is a form that carries the number
// and the secret again. A wrong secret answers exactly as an unknown
// case, and every look-up and withdrawal counts against the look-up
// limit, as a complaint's status does.

// Messages the case page's code shows.
const (
	msgVictimNoCase       = "victim.error.notfound"
	msgVictimWithdrawn    = "victim.withdrawn.one"
	msgVictimWithdrawnAll = "victim.withdrawn.all"
)

// victimFlow is the case page's failures.
var victimFlow = publicFlow{"/help/case", "victim.error.title", "victim.busy.title", "victim.busy.text", "victim.error.internal", "victim.error.back"}

// The values of the case page's field "do": what a button asks.
const (
	victimShow        = ""
	victimWithdraw    = "withdraw"     // the hash of field "hash"
	victimWithdrawAll = "withdraw-all" // asks to confirm
	victimConfirmAll  = "withdraw-all-confirmed"
)

// victimForm asks for the case number and the secret; the secret is
// never shown back.
type victimForm struct {
	publicBase
	Case   string
	Errors map[string]string
	// NotFound: no case has the number and the secret given.
	NotFound string
}

// victimPage is a case's status, with the secret the page's buttons send
// again.
type victimPage struct {
	publicBase
	S        victim.Status
	Secret   string
	Opened   string
	Hashes   []victimHashRow
	Message  string // what the last button did
	Withdraw bool   // some hash can still be withdrawn
}

type victimHashRow struct {
	victim.Hash
	Added, Withdrawn string
	// Final: withdrawn from the list by the centre, not by this case.
	Final bool
}

func (s *Server) victimFormPage(w http.ResponseWriter, r *http.Request, _ *auth.User) error {
	cat := s.language(r)
	return s.renderPublic(w, http.StatusOK, cat, "public_victim_case", victimForm{publicBase: publicBase{cat.lang}, Errors: map[string]string{}})
}

func (s *Server) victimCase(w http.ResponseWriter, r *http.Request, _ *auth.User) error {
	cat := s.language(r)
	if err := form(w, r); err != nil {
		return s.publicFailure(w, r, cat, victimFlow, err)
	}
	if s.Victims == nil {
		return s.publicFailure(w, r, cat, victimFlow, core.Errorf(core.ErrUnavailable, "this server does not take victims' hashes"))
	}
	p := victimForm{publicBase: publicBase{cat.lang}, Case: strings.TrimSpace(r.PostFormValue("case")), Errors: map[string]string{}}
	secret := strings.TrimSpace(r.PostFormValue("secret"))
	if p.Case == "" {
		p.Errors["case"] = cat.t(msgCaseRequired)
	}
	if secret == "" {
		p.Errors["secret"] = cat.t(msgSecretRequired)
	}
	do := r.PostFormValue("do")
	var hash int64
	switch do {
	case victimShow, victimWithdrawAll, victimConfirmAll:
	case victimWithdraw:
		n, err := strconv.ParseInt(r.PostFormValue("hash"), 10, 64)
		if err != nil || n < 1 {
			return s.publicFailure(w, r, cat, victimFlow, core.Errorf(core.ErrInvalid, "the hash to withdraw must be a number from the case's list"))
		}
		hash = n
	default:
		return s.publicFailure(w, r, cat, victimFlow, core.Errorf(core.ErrInvalid, "the form asks for nothing this page does"))
	}
	if len(p.Errors) > 0 {
		return s.renderPublic(w, http.StatusBadRequest, cat, "public_victim_case", p)
	}
	// Every try counts, a wrong one too: the limit is what keeps secrets
	// from being tried by the thousand.
	if limited, err := s.publicLimited(w, r, cat, victimFlow, s.lookupLimit); limited {
		return err
	}
	var (
		st  victim.Status
		err error
		msg string
	)
	switch do {
	case victimWithdraw:
		st, err = s.Victims.Withdraw(r.Context(), p.Case, secret, hash)
		msg = cat.t(msgVictimWithdrawn, hash)
	case victimConfirmAll:
		st, err = s.Victims.Withdraw(r.Context(), p.Case, secret, 0)
		msg = cat.t(msgVictimWithdrawnAll)
	default:
		st, err = s.Victims.Status(r.Context(), p.Case, secret)
	}
	if errors.Is(err, core.ErrNotFound) && !errors.Is(err, victim.ErrNoHash) {
		p.NotFound = cat.t(msgVictimNoCase)
		return s.renderPublic(w, http.StatusNotFound, cat, "public_victim_case", p)
	}
	if err != nil {
		return s.publicFailure(w, r, cat, victimFlow, err)
	}
	vp := victimPage{publicBase: publicBase{cat.lang}, S: st, Secret: secret, Opened: publicTime(st.OpenedAt), Message: msg}
	for _, h := range st.Hashes {
		row := victimHashRow{Hash: h, Added: publicTime(h.AddedAt), Final: h.State == victim.Withdrawn && h.WithdrawnAt.IsZero()}
		if !h.WithdrawnAt.IsZero() {
			row.Withdrawn = publicTime(h.WithdrawnAt)
		}
		if h.State != victim.Withdrawn {
			vp.Withdraw = true
		}
		vp.Hashes = append(vp.Hashes, row)
	}
	if do == victimWithdrawAll {
		return s.renderPublic(w, http.StatusOK, cat, "public_victim_confirm", vp)
	}
	return s.renderPublic(w, http.StatusOK, cat, "public_victim_status", vp)
}
