package policy_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/core"
)

// subjects are every role, API keys first, by the name the matrix uses.
func subjects() []policy.Role {
	return append([]policy.Role{policy.APIKey}, policy.Roles...)
}

func roleName(r policy.Role) string {
	if r == policy.APIKey {
		return "key"
	}
	return string(r)
}

// grants describes what s may do: "action:scope" for each allowed action,
// in the order of policy.Actions.
func grants(s policy.Subject) string {
	var out []string
	for _, a := range policy.Actions() {
		if sc := policy.Scope(s, a); sc != "" {
			if !policy.Allowed(s, a) {
				panic("Scope and Allowed disagree")
			}
			out = append(out, string(a)+":"+string(sc))
		} else if policy.Allowed(s, a) {
			panic("Scope and Allowed disagree")
		}
	}
	return strings.Join(out, " ")
}

// TestMatrix checks every role (and API keys) in every kind of
// organisation against the matrix below, written out in full so that a
// change to the table shows up here as a deliberate, reviewed change. A
// combination missing from the matrix must be allowed nothing.
func TestMatrix(t *testing.T) {
	const (
		keyCommon   = "api.describe:all match:all lists.read:all changes.read:all"
		keySubmit   = "indicators.submit:all indicators.read:all"
		consoleRead = "lists.read:all changes.read:all"
	)
	want := map[string]string{
		"key/provider": keyCommon + " reports.read:own-org reports.submit:own-org match.feedback:all complaints.submit:own-org complaints.read:own-org",
		"key/hotline": keyCommon + " " + keySubmit + " indicators.withdraw:own-attestations" +
			" urlreports.submit:all cases.read:own-queue cases.assess:own-queue takedown.figures:all",
		"key/lea":     keyCommon + " " + keySubmit + " indicators.withdraw:own-attestations inbox.read:routed-to-org reports.feedback:routed-to-org",
		"key/europol": keyCommon + " " + keySubmit + " indicators.withdraw:own-attestations inbox.read:routed-to-org reports.feedback:routed-to-org",
		"key/centre": keyCommon + " " + keySubmit + " indicators.withdraw:all cases.read:all cases.assess:all takedown.figures:all" +
			" quarantine.read:all quarantine.add:all quarantine.review:all",
		"key/host": "api.describe:all notices.answer:own-queue complaints.submit:own-org complaints.read:own-org",

		"admin/centre": consoleRead + " indicators.read:all users.manage:all keys.manage:all audit.read:all console.home:all jobs.manage:all takedown.figures:all",
		"analyst/centre": "match:all " + consoleRead + " indicators.submit:all indicators.read:all indicators.withdraw:all" +
			" console.home:all reports.read:all reports.decide:all jobs.manage:all cases.read:all cases.assess:all takedown.figures:all" +
			" quarantine.read:all quarantine.add:all",
		"analyst/hotline": "match:all " + consoleRead + " indicators.submit:all indicators.read:all" +
			" indicators.withdraw:own-attestations console.home:all cases.read:own-queue cases.assess:own-queue takedown.figures:all",
		"reviewer/centre": consoleRead + " indicators.read:all indicators.withdraw:all console.home:all reports.read:all reports.decide:all cases.read:all takedown.figures:all" +
			" quarantine.read:all quarantine.add:all quarantine.review:all complaints.read:all complaints.decide:all",
		"lea_officer/lea":         "lists.read:all console.home:all reports.read:routed-to-org inbox.read:routed-to-org reports.feedback:routed-to-org",
		"lea_officer/europol":     "lists.read:all console.home:all reports.read:routed-to-org inbox.read:routed-to-org reports.feedback:routed-to-org",
		"provider_admin/provider": "lists.read:all users.manage:own-org keys.manage:own-org console.home:all reports.read:own-org",
		"auditor/centre":          consoleRead + " indicators.read:all audit.read:all console.home:all takedown.figures:all quarantine.read:all",
	}
	seen := 0
	for _, r := range subjects() {
		for _, k := range org.Kinds {
			name := roleName(r) + "/" + string(k)
			w, ok := want[name]
			if ok {
				seen++
			}
			if ok != r.Fits(k) {
				t.Errorf("%s: in the matrix %v, but Fits says %v", name, ok, r.Fits(k))
			}
			if got := grants(policy.Subject{Role: r, Kind: k, OrgID: 7}); got != w {
				t.Errorf("%s may:\n  %s\nwant:\n  %s", name, got, w)
			}
		}
	}
	if seen != len(want) {
		t.Errorf("the matrix names %d combinations that are not a role and a kind", len(want)-seen)
	}
}

func TestEveryActionHasRule(t *testing.T) {
	ruled := map[policy.Action]bool{}
	for _, r := range policy.Rules() {
		ruled[r.Action] = true
	}
	for _, a := range policy.Actions() {
		if !ruled[a] {
			t.Errorf("action %s has no rule", a)
		}
	}
	if len(policy.Actions()) < 13 {
		t.Errorf("only %d actions", len(policy.Actions()))
	}
}

func TestAuditorsNeverWrite(t *testing.T) {
	reads := 0
	for _, r := range policy.Rules() {
		if r.Role == policy.Auditor {
			if r.Action.Writes() {
				t.Errorf("auditors are granted %s, which writes", r.Action)
			}
			reads++
		}
	}
	if reads == 0 || !policy.Allowed(policy.Subject{Role: policy.Auditor, Kind: org.Centre}, policy.AuditRead) {
		t.Error("auditors may not even read the audit trail")
	}
	for _, k := range org.Kinds {
		for _, a := range policy.Actions() {
			if a.Writes() && policy.Allowed(policy.Subject{Role: policy.Auditor, Kind: k}, a) {
				t.Errorf("an auditor of a %s may %s", k, a)
			}
		}
	}
	if !policy.Action("no.such").Writes() {
		t.Error("an unknown action does not count as a write")
	}
}

func TestRulesWellFormed(t *testing.T) {
	type key struct {
		a policy.Action
		r policy.Role
		k org.Kind
	}
	seen := map[key]bool{}
	scopes := []policy.DataScope{policy.AllData, policy.OwnOrg, policy.RoutedToOrg, policy.OwnAttestations, policy.OwnQueue}
	for _, r := range policy.Rules() {
		k := key{r.Action, r.Role, r.Kind}
		if seen[k] {
			t.Errorf("rule %+v repeated", r)
		}
		seen[k] = true
		if _, err := policy.ParseAction(string(r.Action)); err != nil {
			t.Errorf("rule %+v: %v", r, err)
		}
		if !r.Role.Fits(r.Kind) {
			t.Errorf("rule %+v: the role does not exist in that kind of organisation", r)
		}
		if !slices.Contains(scopes, r.Scope) {
			t.Errorf("rule %+v: unknown data scope", r)
		}
	}
	// Rules returns a copy.
	rs := policy.Rules()
	rs[0].Scope = "tampered"
	if policy.Rules()[0].Scope == "tampered" {
		t.Error("Rules returns the table itself")
	}
}

func TestKeyScopesNarrow(t *testing.T) {
	hot := policy.Subject{Kind: org.Hotline, Scopes: []policy.Action{policy.Match}}
	if !policy.Allowed(hot, policy.Match) || policy.Allowed(hot, policy.IndicatorsSubmit) || policy.Allowed(hot, policy.ListsRead) {
		t.Errorf("a hotline key scoped to match may: %s", grants(hot))
	}
	// A scope the kind does not have grants nothing.
	prov := policy.Subject{Kind: org.Provider, Scopes: []policy.Action{policy.IndicatorsSubmit, policy.Match}}
	if got := grants(prov); got != "match:all" {
		t.Errorf("a provider key scoped to submit and match may: %s", got)
	}
	// Scopes are for keys; a person's are ignored rather than widening.
	p := policy.Subject{Role: policy.Auditor, Kind: org.Centre, Scopes: []policy.Action{policy.UsersManage}}
	if policy.Allowed(p, policy.UsersManage) {
		t.Error("scopes widened an auditor's rights")
	}
	err := policy.Require(hot, policy.ListsRead)
	if !errors.Is(err, core.ErrForbidden) || !strings.Contains(err.Error(), "restricted to match") {
		t.Errorf("Require of a scoped key: %v", err)
	}
	err = policy.Require(policy.Subject{Role: policy.Auditor, Kind: org.Centre}, policy.UsersManage)
	if !errors.Is(err, core.ErrForbidden) || !strings.Contains(err.Error(), "auditor") {
		t.Errorf("Require of an auditor: %v", err)
	}
	if err := policy.Require(policy.Subject{Kind: org.Centre}, policy.IndicatorsWithdraw); err != nil {
		t.Errorf("Require of a centre key: %v", err)
	}
}

func TestKeyScopes(t *testing.T) {
	got, err := policy.KeyScopes(org.Hotline, []string{"match", " lists.read", "match"})
	if err != nil || fmt.Sprint(got) != "[lists.read match]" {
		t.Errorf("KeyScopes = %v, %v", got, err)
	}
	for _, tc := range []struct {
		kind  org.Kind
		names []string
	}{
		{org.Provider, []string{"indicators.submit"}}, // not for providers
		{org.Hotline, []string{"users.manage"}},       // not for keys at all
		{org.Hotline, []string{"frobnicate"}},
		{org.Hotline, []string{""}},
	} {
		if _, err := policy.KeyScopes(tc.kind, tc.names); !errors.Is(err, core.ErrInvalid) {
			t.Errorf("KeyScopes(%s, %q) = %v, want ErrInvalid", tc.kind, tc.names, err)
		}
	}
	if got, err := policy.KeyScopes(org.Provider, nil); err != nil || got != nil {
		t.Errorf("no scopes: %v, %v", got, err)
	}
}

func TestForPrincipal(t *testing.T) {
	s := policy.ForPrincipal(org.Principal{OrgID: 3, Kind: org.LEA, Scopes: []string{"match"}})
	if s.Role != policy.APIKey || s.Kind != org.LEA || s.OrgID != 3 || !slices.Equal(s.Scopes, []policy.Action{policy.Match}) {
		t.Errorf("ForPrincipal = %+v", s)
	}
}

func TestParseRole(t *testing.T) {
	for _, r := range policy.Roles {
		if got, err := policy.ParseRole(string(r)); err != nil || got != r {
			t.Errorf("ParseRole(%q) = %q, %v", r, got, err)
		}
	}
	for _, s := range []string{"", "Admin", "root", "lea-officer"} {
		if _, err := policy.ParseRole(s); !errors.Is(err, core.ErrInvalid) {
			t.Errorf("ParseRole(%q) = %v, want ErrInvalid", s, err)
		}
	}
	if !policy.APIKey.Fits(org.Europol) || policy.APIKey.Fits("nobody") {
		t.Error("API keys should fit every kind, and only kinds")
	}
}
