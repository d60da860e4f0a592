// Package policy is Ward's authorisation, in one table: for each action,
// which roles of which kinds of organisation may perform it, and on which
// data. Every API route and every console page names the action it needs,
// and the adapters of both ask Allowed before running a handler; services
// that own data (indicator, and the report handling to come) ask Scope to
// learn which of it the caller may touch.
//
// A subject is either a person (a staff user with a Role) or an API key
// (Role APIKey), acting for an organisation of some kind. A person's role
// must fit the organisation's kind (Role.Fits); a subject whose role does not
// fit is allowed nothing, whatever the table says. An API key may be
// restricted to some actions (its scopes): scopes only ever narrow what the
// key's kind allows.
//
// The table is the whole truth: there is no implicit grant, no "admin may
// do anything", and no action without a rule (the package's tests and the
// route tests of the API and the console fail otherwise). Auditors read and
// never change anything: no rule grants them an action that Writes.
package policy

import (
	"slices"
	"strings"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/core"
)

// Action is something a subject may be allowed to do. Its name is what
// API key scopes are written with.
type Action string

// The actions. A row may exist before the route that needs it.
const (
	APIDescribe        Action = "api.describe"        // read the API's OpenAPI description and the centre's public signing key
	Match              Action = "match"               // query the active indicators
	ListsRead          Action = "lists.read"          // see the indicator lists
	ChangesRead        Action = "changes.read"        // follow a list's change feed
	IndicatorsSubmit   Action = "indicators.submit"   // submit or attest indicators
	IndicatorsRead     Action = "indicators.read"     // see an indicator with its attestations, and pending ones
	IndicatorsWithdraw Action = "indicators.withdraw" // withdraw an indicator
	UsersManage        Action = "users.manage"        // add, list and disable staff users
	KeysManage         Action = "keys.manage"         // create, list and revoke API keys
	AuditRead          Action = "audit.read"          // browse and export the audit trail
	ConsoleHome        Action = "console.home"        // use the console at all (start page, logout)
	ReportsRead        Action = "reports.read"        // read provider reports
	InboxRead          Action = "inbox.read"          // pull the reports routed to the caller's authority (law enforcement, Europol)
	ReportsDecide      Action = "reports.decide"      // assess a report: forward it or return it as unfounded
	ReportsSubmit      Action = "reports.submit"      // create, upload, finish or retract a report; answer the centre's questions
	ReportsFeedback    Action = "reports.feedback"    // acknowledge a forwarded report and give feedback on it
	JobsManage         Action = "jobs.manage"         // see background jobs that failed (dead letters) and retry them
	URLReportsSubmit   Action = "urlreports.submit"   // report a URL to the takedown flow as a partner hotline
	CasesRead          Action = "cases.read"          // see takedown cases and their resources
	CasesAssess        Action = "cases.assess"        // assess a takedown case's resources, hand it over
	NoticesAnswer      Action = "notices.answer"      // say, as the host noticed, that content was removed
	TakedownFigures    Action = "takedown.figures"    // see the time-to-removal figures (no case data)
	MatchFeedback      Action = "match.feedback"      // say that a match was a false positive, or confirm it
	QuarantineRead     Action = "quarantine.read"     // see quarantined indicators, why, and the providers' verdicts
	QuarantineAdd      Action = "quarantine.add"      // quarantine an indicator by hand
	QuarantineReview   Action = "quarantine.review"   // end a quarantine: confirm the indicator back to active, or withdraw it
	ComplaintsSubmit   Action = "complaints.submit"   // file a complaint on a user's behalf
	ComplaintsRead     Action = "complaints.read"     // see complaints and their outcomes
	ComplaintsDecide   Action = "complaints.decide"   // uphold or reject a complaint
)

// actions lists every action with whether it changes data (the auditor
// test depends on this being honest).
var actions = []struct {
	action Action
	writes bool
}{
	{APIDescribe, false},
	{Match, false},
	{ListsRead, false},
	{ChangesRead, false},
	{IndicatorsSubmit, true},
	{IndicatorsRead, false},
	{IndicatorsWithdraw, true},
	{UsersManage, true},
	{KeysManage, true},
	{AuditRead, false},
	{ConsoleHome, false},
	{ReportsRead, false},
	{InboxRead, false},
	{ReportsDecide, true},
	{ReportsSubmit, true},
	{ReportsFeedback, true},
	{JobsManage, true},
	{URLReportsSubmit, true},
	{CasesRead, false},
	{CasesAssess, true},
	{NoticesAnswer, true},
	{TakedownFigures, false},
	{MatchFeedback, true},
	{QuarantineRead, false},
	{QuarantineAdd, true},
	{QuarantineReview, true},
	{ComplaintsSubmit, true},
	{ComplaintsRead, false},
	{ComplaintsDecide, true},
}

// Actions returns every action, in the order documented above.
func Actions() []Action {
	out := make([]Action, len(actions))
	for i, a := range actions {
		out[i] = a.action
	}
	return out
}

// Writes reports whether a changes data. Unknown actions count as writes,
// so that a mistake errs on the side of keeping auditors out.
func (a Action) Writes() bool {
	for _, x := range actions {
		if x.action == a {
			return x.writes
		}
	}
	return true
}

// ParseAction returns the action named s.
func ParseAction(s string) (Action, error) {
	for _, x := range actions {
		if string(x.action) == s {
			return x.action, nil
		}
	}
	return "", core.Errorf(core.ErrInvalid, "unknown action %q (known: %s)", s, joinActions(Actions()))
}

func joinActions(as []Action) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = string(a)
	}
	return strings.Join(s, ", ")
}

// Role is a staff user's role.
type Role string

// The roles. APIKey is the empty role: the subject is an API key, not a
// person.
const (
	APIKey        Role = ""
	Admin         Role = "admin"          // manages the centre's users and every organisation's users and keys
	Analyst       Role = "analyst"        // assesses material and attests indicators (centre or hotline)
	Reviewer      Role = "reviewer"       // second assessment of reports; reviews complaints (centre)
	LEAOfficer    Role = "lea_officer"    // receives the reports routed to a law-enforcement authority or Europol
	ProviderAdmin Role = "provider_admin" // manages a provider's users and keys and reads its reports
	Auditor       Role = "auditor"        // reads the audit trail; changes nothing (centre)
)

// Roles lists every role a person can have, in the order documented.
var Roles = []Role{Admin, Analyst, Reviewer, LEAOfficer, ProviderAdmin, Auditor}

// roleKinds is the kinds of organisation each role exists in.
var roleKinds = map[Role][]org.Kind{
	Admin:         {org.Centre},
	Analyst:       {org.Centre, org.Hotline},
	Reviewer:      {org.Centre},
	LEAOfficer:    {org.LEA, org.Europol},
	ProviderAdmin: {org.Provider},
	Auditor:       {org.Centre},
}

// ParseRole returns the role of a person named s.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	names := make([]string, len(Roles))
	for i, r := range Roles {
		names[i] = string(r)
	}
	return "", core.Errorf(core.ErrInvalid, "unknown role %q (want %s)", s, strings.Join(names, ", "))
}

// Fits reports whether a person of role r may belong to an organisation of
// kind k; APIKey fits every kind.
func (r Role) Fits(k org.Kind) bool {
	if r == APIKey {
		return slices.Contains(org.Kinds, k)
	}
	return slices.Contains(roleKinds[r], k)
}

// Kinds returns the kinds of organisation that people of role r belong to.
func (r Role) Kinds() []org.Kind { return slices.Clone(roleKinds[r]) }

// DataScope is which data an allowed action reaches. The services that own
// the data apply it; the adapters only check that the action is allowed.
type DataScope string

// The data scopes. The empty DataScope means the action is not allowed.
const (
	AllData         DataScope = "all"              // every organisation's data
	OwnOrg          DataScope = "own-org"          // the subject's organisation's own data (its users, keys, submitted reports)
	RoutedToOrg     DataScope = "routed-to-org"    // reports forwarded to the subject's authority
	OwnAttestations DataScope = "own-attestations" // indicators the subject's organisation attested
	// OwnQueue: the takedown cases in the queue of the subject's hotline
	// or submitted by it, the cases with a notice going through it (as
	// relay only: without the reporter's description and contact, the
	// content or the other notices), and, for a host, the notices sent to
	// it.
	OwnQueue DataScope = "own-queue"
)

// Subject is who asks: a person or an API key, of an organisation.
type Subject struct {
	Role  Role // APIKey for an API key
	Kind  org.Kind
	OrgID int64
	// Scopes restricts an API key to these actions; empty means every
	// action its kind allows. People have no scopes.
	Scopes []Action
}

// ForPrincipal returns the subject of an organisation acting through an API
// key, or directly (as "ward admin" does, with no scopes).
func ForPrincipal(p org.Principal) Subject {
	s := Subject{Role: APIKey, Kind: p.Kind, OrgID: p.OrgID}
	for _, sc := range p.Scopes {
		s.Scopes = append(s.Scopes, Action(sc))
	}
	return s
}

// Rule grants an action to the subjects of one role and kind of
// organisation, on the data of a scope.
type Rule struct {
	Action Action
	Role   Role
	Kind   org.Kind
	Scope  DataScope
}

// rules is the whole table. Reading it by role: API keys do what their
// organisation's kind does through the API; people do their job in the
// console, and nobody is granted report content who does not handle reports
// (the centre's administrators and auditors do not read reports).
var rules = []Rule{
	// API keys.
	{APIDescribe, APIKey, org.Provider, AllData},
	{APIDescribe, APIKey, org.Hotline, AllData},
	{APIDescribe, APIKey, org.LEA, AllData},
	{APIDescribe, APIKey, org.Europol, AllData},
	{APIDescribe, APIKey, org.Centre, AllData},
	{APIDescribe, APIKey, org.Host, AllData},
	{Match, APIKey, org.Provider, AllData},
	{Match, APIKey, org.Hotline, AllData},
	{Match, APIKey, org.LEA, AllData},
	{Match, APIKey, org.Europol, AllData},
	{Match, APIKey, org.Centre, AllData},
	{ListsRead, APIKey, org.Provider, AllData},
	{ListsRead, APIKey, org.Hotline, AllData},
	{ListsRead, APIKey, org.LEA, AllData},
	{ListsRead, APIKey, org.Europol, AllData},
	{ListsRead, APIKey, org.Centre, AllData},
	{ChangesRead, APIKey, org.Provider, AllData},
	{ChangesRead, APIKey, org.Hotline, AllData},
	{ChangesRead, APIKey, org.LEA, AllData},
	{ChangesRead, APIKey, org.Europol, AllData},
	{ChangesRead, APIKey, org.Centre, AllData},
	// Indicators come only from competent authorities and hotlines.
	{IndicatorsSubmit, APIKey, org.Hotline, AllData},
	{IndicatorsSubmit, APIKey, org.LEA, AllData},
	{IndicatorsSubmit, APIKey, org.Europol, AllData},
	{IndicatorsSubmit, APIKey, org.Centre, AllData},
	{IndicatorsRead, APIKey, org.Hotline, AllData},
	{IndicatorsRead, APIKey, org.LEA, AllData},
	{IndicatorsRead, APIKey, org.Europol, AllData},
	{IndicatorsRead, APIKey, org.Centre, AllData},
	// An organisation may withdraw what it attested; the centre anything.
	{IndicatorsWithdraw, APIKey, org.Hotline, OwnAttestations},
	{IndicatorsWithdraw, APIKey, org.LEA, OwnAttestations},
	{IndicatorsWithdraw, APIKey, org.Europol, OwnAttestations},
	{IndicatorsWithdraw, APIKey, org.Centre, AllData},
	// A provider follows its own reports; authorities pull their inbox,
	// an action of its own so that nobody else is even shown it empty.
	{ReportsRead, APIKey, org.Provider, OwnOrg},
	{InboxRead, APIKey, org.LEA, RoutedToOrg},
	{InboxRead, APIKey, org.Europol, RoutedToOrg},
	{ReportsSubmit, APIKey, org.Provider, OwnOrg},
	{ReportsFeedback, APIKey, org.LEA, RoutedToOrg},
	{ReportsFeedback, APIKey, org.Europol, RoutedToOrg},
	// Hotlines submit URLs and assess the cases of their queue through
	// their own systems; a host answers the notices sent to it.
	{URLReportsSubmit, APIKey, org.Hotline, AllData},
	{CasesRead, APIKey, org.Hotline, OwnQueue},
	{CasesAssess, APIKey, org.Hotline, OwnQueue},
	{TakedownFigures, APIKey, org.Hotline, AllData},
	{CasesRead, APIKey, org.Centre, AllData},
	{CasesAssess, APIKey, org.Centre, AllData},
	{TakedownFigures, APIKey, org.Centre, AllData},
	{NoticesAnswer, APIKey, org.Host, OwnQueue},
	// Providers, who see the matches, say which were wrong; the centre's
	// own systems may quarantine and review too. Complaints about removed
	// content are filed, and followed, by the provider (or host) that
	// removed it, about its own removals.
	{MatchFeedback, APIKey, org.Provider, AllData},
	{ComplaintsSubmit, APIKey, org.Provider, OwnOrg},
	{ComplaintsSubmit, APIKey, org.Host, OwnOrg},
	{ComplaintsRead, APIKey, org.Provider, OwnOrg},
	{ComplaintsRead, APIKey, org.Host, OwnOrg},
	{QuarantineRead, APIKey, org.Centre, AllData},
	{QuarantineAdd, APIKey, org.Centre, AllData},
	{QuarantineReview, APIKey, org.Centre, AllData},

	// The centre's administrators manage people and keys everywhere.
	{ConsoleHome, Admin, org.Centre, AllData},
	{ListsRead, Admin, org.Centre, AllData},
	{ChangesRead, Admin, org.Centre, AllData},
	{IndicatorsRead, Admin, org.Centre, AllData},
	{UsersManage, Admin, org.Centre, AllData},
	{KeysManage, Admin, org.Centre, AllData},
	{AuditRead, Admin, org.Centre, AllData},
	{TakedownFigures, Admin, org.Centre, AllData},
	{JobsManage, Admin, org.Centre, AllData},

	// The centre's analysts assess reports and material.
	{ConsoleHome, Analyst, org.Centre, AllData},
	{Match, Analyst, org.Centre, AllData},
	{ListsRead, Analyst, org.Centre, AllData},
	{ChangesRead, Analyst, org.Centre, AllData},
	{IndicatorsSubmit, Analyst, org.Centre, AllData},
	{IndicatorsRead, Analyst, org.Centre, AllData},
	{IndicatorsWithdraw, Analyst, org.Centre, AllData},
	{ReportsRead, Analyst, org.Centre, AllData},
	{ReportsDecide, Analyst, org.Centre, AllData},
	{JobsManage, Analyst, org.Centre, AllData},
	{CasesRead, Analyst, org.Centre, AllData},
	{CasesAssess, Analyst, org.Centre, AllData},
	{TakedownFigures, Analyst, org.Centre, AllData},
	{QuarantineRead, Analyst, org.Centre, AllData},
	{QuarantineAdd, Analyst, org.Centre, AllData},

	// A hotline's analysts assess material and attest indicators.
	{ConsoleHome, Analyst, org.Hotline, AllData},
	{Match, Analyst, org.Hotline, AllData},
	{ListsRead, Analyst, org.Hotline, AllData},
	{ChangesRead, Analyst, org.Hotline, AllData},
	{IndicatorsSubmit, Analyst, org.Hotline, AllData},
	{IndicatorsRead, Analyst, org.Hotline, AllData},
	{IndicatorsWithdraw, Analyst, org.Hotline, OwnAttestations},
	{CasesRead, Analyst, org.Hotline, OwnQueue},
	{CasesAssess, Analyst, org.Hotline, OwnQueue},
	{TakedownFigures, Analyst, org.Hotline, AllData},

	// Reviewers take the second look at reports, end quarantines, and
	// decide complaints about wrongful matches and removals.
	{ConsoleHome, Reviewer, org.Centre, AllData},
	{ListsRead, Reviewer, org.Centre, AllData},
	{ChangesRead, Reviewer, org.Centre, AllData},
	{IndicatorsRead, Reviewer, org.Centre, AllData},
	{IndicatorsWithdraw, Reviewer, org.Centre, AllData},
	{ReportsRead, Reviewer, org.Centre, AllData},
	{ReportsDecide, Reviewer, org.Centre, AllData},
	{CasesRead, Reviewer, org.Centre, AllData},
	{TakedownFigures, Reviewer, org.Centre, AllData},
	{QuarantineRead, Reviewer, org.Centre, AllData},
	{QuarantineAdd, Reviewer, org.Centre, AllData},
	{QuarantineReview, Reviewer, org.Centre, AllData},
	{ComplaintsRead, Reviewer, org.Centre, AllData},
	{ComplaintsDecide, Reviewer, org.Centre, AllData},

	// Officers see only what was routed to their authority.
	{ConsoleHome, LEAOfficer, org.LEA, AllData},
	{ListsRead, LEAOfficer, org.LEA, AllData},
	{ReportsRead, LEAOfficer, org.LEA, RoutedToOrg},
	{InboxRead, LEAOfficer, org.LEA, RoutedToOrg},
	{ReportsFeedback, LEAOfficer, org.LEA, RoutedToOrg},
	{ConsoleHome, LEAOfficer, org.Europol, AllData},
	{ListsRead, LEAOfficer, org.Europol, AllData},
	{ReportsRead, LEAOfficer, org.Europol, RoutedToOrg},
	{InboxRead, LEAOfficer, org.Europol, RoutedToOrg},
	{ReportsFeedback, LEAOfficer, org.Europol, RoutedToOrg},

	// A provider's administrator looks after its own organisation.
	{ConsoleHome, ProviderAdmin, org.Provider, AllData},
	{ListsRead, ProviderAdmin, org.Provider, AllData},
	{UsersManage, ProviderAdmin, org.Provider, OwnOrg},
	{KeysManage, ProviderAdmin, org.Provider, OwnOrg},
	{ReportsRead, ProviderAdmin, org.Provider, OwnOrg},

	// Auditors read; no rule of theirs may write.
	{ConsoleHome, Auditor, org.Centre, AllData},
	{ListsRead, Auditor, org.Centre, AllData},
	{ChangesRead, Auditor, org.Centre, AllData},
	{IndicatorsRead, Auditor, org.Centre, AllData},
	{AuditRead, Auditor, org.Centre, AllData},
	{TakedownFigures, Auditor, org.Centre, AllData},
	{QuarantineRead, Auditor, org.Centre, AllData},
}

type ruleKey struct {
	action Action
	role   Role
	kind   org.Kind
}

// index is rules by action, role and kind.
var index = func() map[ruleKey]DataScope {
	m := make(map[ruleKey]DataScope, len(rules))
	for _, r := range rules {
		m[ruleKey{r.Action, r.Role, r.Kind}] = r.Scope
	}
	return m
}()

// Rules returns a copy of the table, for tests and documentation.
func Rules() []Rule { return slices.Clone(rules) }

// Scope returns the data on which s may perform a, or "" if s may not
// perform it at all.
func Scope(s Subject, a Action) DataScope {
	if !s.Role.Fits(s.Kind) {
		return ""
	}
	if s.Role == APIKey && len(s.Scopes) > 0 && !slices.Contains(s.Scopes, a) {
		return ""
	}
	return index[ruleKey{a, s.Role, s.Kind}]
}

// Allowed reports whether s may perform a on some data.
func Allowed(s Subject, a Action) bool { return Scope(s, a) != "" }

// Require returns an core.ErrForbidden error unless s may perform a.
func Require(s Subject, a Action) error {
	if Allowed(s, a) {
		return nil
	}
	who := "API keys of " + string(s.Kind) + " organisations"
	switch {
	case s.Role != APIKey:
		who = "the role " + string(s.Role) + " in a " + string(s.Kind) + " organisation"
	case len(s.Scopes) > 0 && index[ruleKey{a, s.Role, s.Kind}] != "":
		return core.Errorf(core.ErrForbidden, "this API key is restricted to %s", joinActions(s.Scopes))
	}
	return core.Errorf(core.ErrForbidden, "%s may not %s", who, a)
}

// KeyScopes checks the scopes asked for a new API key of an organisation of
// kind k and returns them as actions, sorted and without repeats. Each must
// be an action that keys of kind k may perform; none means every such
// action.
func KeyScopes(k org.Kind, names []string) ([]Action, error) {
	var out []Action
	for _, n := range names {
		a, err := ParseAction(strings.TrimSpace(n))
		if err != nil {
			return nil, err
		}
		if index[ruleKey{a, APIKey, k}] == "" {
			return nil, core.Errorf(core.ErrInvalid, "API keys of %s organisations cannot do %s (they can: %s)",
				k, a, joinActions(KeyActions(k)))
		}
		out = append(out, a)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// KeyActions returns the actions API keys of kind k may perform, in the
// order of Actions.
func KeyActions(k org.Kind) []Action {
	var out []Action
	for _, a := range Actions() {
		if index[ruleKey{a, APIKey, k}] != "" {
			out = append(out, a)
		}
	}
	return out
}
