package web

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"image/png"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/core"

	// The QR code of the enrolment: otp.Key.Image draws it with
	// github.com/boombuler/barcode, which pquerna/otp depends on already
	// (no new module); a QR encoder of our own would be more code to get
	// right than the page it serves.
	"github.com/pquerna/otp"

	"github.com/wardhq/ward/internal/access/auth"
	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/indicator"
)

// form parses a form body within the size limit.
func form(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	return r.ParseForm()
}

// record appends an audit entry for a console action. A failure to audit
// fails the action: nothing may happen unrecorded.
func (s *Server) record(r *http.Request, u *auth.User, action, object, outcome string) error {
	ev := audit.Event{At: time.Now(), Action: action, Object: object, Outcome: outcome, Actor: "anonymous"}
	if u != nil {
		ev.OrgID, ev.OrgName, ev.Actor = u.OrgID, u.OrgName, fmt.Sprintf("user:%d", u.ID)
	}
	_, err := s.Audit.Append(r.Context(), ev)
	return err
}

type loginPage struct {
	base
	Email, Error string
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request, u *auth.User) error {
	if u != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil
	}
	return s.render(w, http.StatusOK, "login", loginPage{base: s.base(r, nil, "Log in")})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request, _ *auth.User) error {
	if err := form(w, r); err != nil {
		return err
	}
	email := strings.TrimSpace(r.PostFormValue("email"))
	sess, u, err := s.Auth.Login(r.Context(), email, r.PostFormValue("password"), strings.TrimSpace(r.PostFormValue("code")), r.RemoteAddr)
	if err != nil {
		msg := "The e-mail, password or code is not right."
		var locked *auth.LockedError
		switch {
		case errors.As(err, &locked):
			msg = fmt.Sprintf("Too many failed attempts: try again after %s.", locked.Until.Format("15:04:05 MST"))
		case !errors.Is(err, auth.ErrBadCredentials):
			return err
		}
		if err := s.record(r, nil, "session.login", "", "denied"); err != nil {
			return err
		}
		return s.render(w, http.StatusUnauthorized, "login", loginPage{base: s.base(r, nil, "Log in"), Email: email, Error: msg})
	}
	if err := s.record(r, &u, "session.login", fmt.Sprintf("user:%d", u.ID), "ok"); err != nil {
		return err
	}
	setSession(w, sess.Token, sess.Expires)
	http.Redirect(w, r, "/", http.StatusSeeOther)
	return nil
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, u *auth.User) error {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if err := s.Auth.Logout(r.Context(), c.Value); err != nil {
			return err
		}
	}
	clearSession(w)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}

type enrolPage struct {
	base
	Token, Email, Role, OrgName, Secret, Error string
	// OTPAuthURL opens the authenticator app; html/template would blank
	// an otpauth: link, so it is marked safe here, where it is known to
	// be the one auth built.
	OTPAuthURL template.URL
}

func (s *Server) enrolData(r *http.Request) (enrolPage, error) {
	token := r.PathValue("token")
	u, secret, url, err := s.Auth.BeginEnrolment(r.Context(), token)
	if err != nil {
		return enrolPage{}, err
	}
	return enrolPage{
		base: s.base(r, nil, "Set up your account"), Token: token, Email: u.Email, Role: string(u.Role),
		OrgName: u.OrgName, Secret: secret, OTPAuthURL: otpAuthURL(url),
	}, nil
}

// otpAuthURL marks an otpauth:// URI safe for a link, and nothing else.
func otpAuthURL(u string) template.URL {
	if !strings.HasPrefix(u, "otpauth://") {
		return ""
	}
	return template.URL(u)
}

func (s *Server) enrolPage(w http.ResponseWriter, r *http.Request, _ *auth.User) error {
	p, err := s.enrolData(r)
	if err != nil {
		return err
	}
	return s.render(w, http.StatusOK, "enrol", p)
}

func (s *Server) enrol(w http.ResponseWriter, r *http.Request, _ *auth.User) error {
	if err := form(w, r); err != nil {
		return err
	}
	p, err := s.enrolData(r)
	if err != nil {
		return err
	}
	err = s.Auth.CompleteEnrolment(r.Context(), p.Token, r.PostFormValue("password"), strings.TrimSpace(r.PostFormValue("code")))
	if errors.Is(err, core.ErrInvalid) || errors.Is(err, auth.ErrBadCredentials) {
		p.Error = capitalise(err.Error())
		return s.render(w, http.StatusBadRequest, "enrol", p)
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/enrolled", http.StatusSeeOther)
	return nil
}

// enrolQR is the enrolment's otpauth:// URI as a QR code, for the
// authenticator app's camera. It is bound to the enrolment token (as the
// page is) and never cached.
func (s *Server) enrolQR(w http.ResponseWriter, r *http.Request, _ *auth.User) error {
	_, _, uri, err := s.Auth.BeginEnrolment(r.Context(), r.PathValue("token"))
	if err != nil {
		return err
	}
	key, err := otp.NewKeyFromURL(uri)
	if err != nil {
		return err
	}
	img, err := key.Image(qrSize, qrSize)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "image/png")
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	h.Set("Cache-Control", "no-store")
	_, err = w.Write(b.Bytes())
	return err
}

// qrSize is the QR code's side in pixels: large enough for a phone's
// camera across a desk.
const qrSize = 240

// enrolled confirms a finished enrolment.
func (s *Server) enrolled(w http.ResponseWriter, r *http.Request, u *auth.User) error {
	return s.render(w, http.StatusOK, "enrolled", s.base(r, u, "Your account is ready"))
}

// orgScope is the organisation whose data u may manage for action a:
// 0 for every organisation.
func orgScope(u *auth.User, a policy.Action) int64 {
	if policy.Scope(subject(u), a) == policy.AllData {
		return 0
	}
	return u.OrgID
}

// orgsFor lists the organisations u may manage for a.
func (s *Server) orgsFor(r *http.Request, u *auth.User, a policy.Action) ([]org.Organisation, error) {
	all, err := s.Orgs.List(r.Context())
	if err != nil {
		return nil, err
	}
	scope := orgScope(u, a)
	var out []org.Organisation
	for _, o := range all {
		if scope == 0 || o.ID == scope {
			out = append(out, o)
		}
	}
	return out, nil
}

type usersPage struct {
	base
	Users     []auth.User
	Orgs      []org.Organisation
	Roles     []auth.Role
	EnrolLink string
	Error     string
}

func (s *Server) usersData(r *http.Request, u *auth.User) (usersPage, error) {
	p := usersPage{base: s.base(r, u, "Users"), Roles: auth.Roles}
	var err error
	if p.Users, err = s.Auth.Users(r.Context(), orgScope(u, policy.UsersManage)); err != nil {
		return p, err
	}
	p.Orgs, err = s.orgsFor(r, u, policy.UsersManage)
	return p, err
}

func (s *Server) users(w http.ResponseWriter, r *http.Request, u *auth.User) error {
	p, err := s.usersData(r, u)
	if err != nil {
		return err
	}
	return s.render(w, http.StatusOK, "users", p)
}

func (s *Server) addUser(w http.ResponseWriter, r *http.Request, u *auth.User) error {
	if err := form(w, r); err != nil {
		return err
	}
	orgName := r.PostFormValue("org")
	if err := s.mayManageOrg(r, u, policy.UsersManage, orgName); err != nil {
		return err
	}
	nu, token, err := s.Auth.AddUser(r.Context(), orgName, auth.Role(r.PostFormValue("role")), strings.TrimSpace(r.PostFormValue("email")))
	if errors.Is(err, core.ErrInvalid) || errors.Is(err, core.ErrConflict) {
		p, derr := s.usersData(r, u)
		if derr != nil {
			return derr
		}
		p.Error = capitalise(err.Error())
		return s.render(w, http.StatusBadRequest, "users", p)
	}
	if err != nil {
		return err
	}
	if err := s.record(r, u, "user.add", fmt.Sprintf("user:%d", nu.ID), "ok"); err != nil {
		return err
	}
	p, err := s.usersData(r, u)
	if err != nil {
		return err
	}
	p.EnrolLink = strings.TrimRight(s.BaseURL, "/") + "/enrol/" + token
	return s.render(w, http.StatusOK, "users", p)
}

// mayManageOrg refuses to act on an organisation outside the user's scope.
func (s *Server) mayManageOrg(r *http.Request, u *auth.User, a policy.Action, orgName string) error {
	orgs, err := s.orgsFor(r, u, a)
	if err != nil {
		return err
	}
	for _, o := range orgs {
		if o.Name == orgName {
			return nil
		}
	}
	if _, err := s.Orgs.ByName(r.Context(), orgName); errors.Is(err, core.ErrNotFound) {
		return core.Errorf(core.ErrInvalid, "choose an organisation (there is none named %q)", orgName)
	}
	return core.Errorf(core.ErrForbidden, "you may not manage organisation %q", orgName)
}

func pathInt(r *http.Request, name string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id < 1 {
		return 0, errNoPage
	}
	return id, nil
}

func (s *Server) disableUser(w http.ResponseWriter, r *http.Request, u *auth.User) error {
	id, err := pathInt(r, "id")
	if err != nil {
		return err
	}
	target, err := s.Auth.User(r.Context(), id)
	if err != nil {
		return err
	}
	if err := s.mayManageOrg(r, u, policy.UsersManage, target.OrgName); err != nil {
		return err
	}
	if err := s.Auth.DisableUser(r.Context(), id); err != nil {
		return err
	}
	if err := s.record(r, u, "user.disable", fmt.Sprintf("user:%d", id), "ok"); err != nil {
		return err
	}
	http.Redirect(w, r, "/users", http.StatusSeeOther)
	return nil
}

type keysPage struct {
	base
	Keys   []keyRow
	Orgs   []org.Organisation
	NewKey string
	Error  string
}

type keyRow struct {
	org.Key
	OrgName string
	Revoked bool
}

func (s *Server) keysData(r *http.Request, u *auth.User) (keysPage, error) {
	p := keysPage{base: s.base(r, u, "API keys")}
	orgs, err := s.orgsFor(r, u, policy.KeysManage)
	if err != nil {
		return p, err
	}
	p.Orgs = orgs
	for _, o := range orgs {
		keys, err := s.Orgs.Keys(r.Context(), o.ID)
		if err != nil {
			return p, err
		}
		for _, k := range keys {
			p.Keys = append(p.Keys, keyRow{Key: k, OrgName: o.Name, Revoked: !k.RevokedAt.IsZero()})
		}
	}
	return p, nil
}

func (s *Server) keys(w http.ResponseWriter, r *http.Request, u *auth.User) error {
	p, err := s.keysData(r, u)
	if err != nil {
		return err
	}
	return s.render(w, http.StatusOK, "keys", p)
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request, u *auth.User) error {
	if err := form(w, r); err != nil {
		return err
	}
	orgName := r.PostFormValue("org")
	if err := s.mayManageOrg(r, u, policy.KeysManage, orgName); err != nil {
		return err
	}
	var opts org.KeyOptions
	switch r.PostFormValue("expires") {
	case "90d":
		opts.ExpiresAt = time.Now().AddDate(0, 0, 90)
	case "365d":
		opts.ExpiresAt = time.Now().AddDate(1, 0, 0)
	case "":
	default:
		return core.Errorf(core.ErrInvalid, "unknown expiry")
	}
	secret, k, err := s.Orgs.CreateKey(r.Context(), orgName, opts)
	if err != nil {
		return err
	}
	if err := s.record(r, u, "key.create", "key:"+k.ID, "ok"); err != nil {
		return err
	}
	p, err := s.keysData(r, u)
	if err != nil {
		return err
	}
	p.NewKey = secret
	return s.render(w, http.StatusOK, "keys", p)
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request, u *auth.User) error {
	id := r.PathValue("id")
	p, err := s.keysData(r, u)
	if err != nil {
		return err
	}
	found := false
	for _, k := range p.Keys {
		found = found || k.ID == id
	}
	if !found {
		return errNoPage // not a key the user may manage
	}
	if err := s.Orgs.RevokeKey(r.Context(), id); err != nil {
		return err
	}
	if err := s.record(r, u, "key.revoke", "key:"+id, "ok"); err != nil {
		return err
	}
	http.Redirect(w, r, "/keys", http.StatusSeeOther)
	return nil
}

type listsPage struct {
	base
	Lists []indicator.ListInfo
}

func (s *Server) lists(w http.ResponseWriter, r *http.Request, u *auth.User) error {
	infos, err := s.Indicators.Lists(r.Context())
	if err != nil {
		return err
	}
	return s.render(w, http.StatusOK, "lists", listsPage{base: s.base(r, u, "Indicator lists"), Lists: infos})
}

type listPage struct {
	base
	List           string
	Changes        []indicator.Change
	ShowProvenance bool
	Attesters      map[int64]string
}

// listChanges is how many of a list's latest changes its page shows.
const listChanges = 200

func (s *Server) list(w http.ResponseWriter, r *http.Request, u *auth.User) error {
	name := r.PathValue("list")
	infos, err := s.Indicators.Lists(r.Context())
	if err != nil {
		return err
	}
	head := int64(-1)
	for _, l := range infos {
		if l.Name == name {
			head = l.Head
		}
	}
	if head < 0 {
		return core.Errorf(core.ErrNotFound, "no list named %q", name)
	}
	changes, err := s.Indicators.Changes(r.Context(), name, max(0, head-listChanges), listChanges)
	if err != nil {
		return err
	}
	for i, j := 0, len(changes)-1; i < j; i, j = i+1, j-1 {
		changes[i], changes[j] = changes[j], changes[i]
	}
	p := listPage{base: s.base(r, u, "List "+name), List: name, Changes: changes, Attesters: map[int64]string{}}
	// Provenance (who attested) is shown to the centre and, per indicator,
	// to organisations that attested it.
	p.ShowProvenance = policy.Allowed(subject(u), policy.IndicatorsRead)
	if p.ShowProvenance {
		for _, c := range changes {
			if _, done := p.Attesters[c.IndicatorID]; done {
				continue
			}
			_, atts, err := s.Indicators.Get(r.Context(), c.IndicatorID)
			if err != nil {
				return err
			}
			var names []string
			mine := u.OrgKind == org.Centre
			for _, a := range atts {
				names = append(names, a.OrgName+" ("+a.OrgCountry+")")
				mine = mine || a.OrgID == u.OrgID
			}
			if mine {
				p.Attesters[c.IndicatorID] = strings.Join(names, ", ")
			} else {
				p.Attesters[c.IndicatorID] = "—"
			}
		}
	}
	return s.render(w, http.StatusOK, "list", p)
}

type auditPage struct {
	base
	Entries []audit.Entry
}

// auditShown is how many of the latest audit entries the page shows.
const auditShown = 500

func (s *Server) auditPage(w http.ResponseWriter, r *http.Request, u *auth.User) error {
	entries, err := s.Audit.Latest(r.Context(), auditShown)
	if err != nil {
		return err
	}
	if err := s.record(r, u, "audit.view", "audit", "ok"); err != nil {
		return err
	}
	return s.render(w, http.StatusOK, "audit", auditPage{base: s.base(r, u, "Audit trail"), Entries: entries})
}

func (s *Server) auditExport(w http.ResponseWriter, r *http.Request, u *auth.User) error {
	if err := s.record(r, u, "audit.export", "audit", "ok"); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="ward-audit.csv"`)
	return s.Audit.Export(r.Context(), w, audit.Filter{}, "csv")
}
