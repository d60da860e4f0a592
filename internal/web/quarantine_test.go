package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/access/auth"
	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/accountability/quarantine"
	"github.com/wardhq/ward/internal/indicator"
)

// activeIndicators submits n PDQ indicators (seed, seed+1, ...) to the
// known list, attested by the hotline (DE) and the centre (BE): active.
func (c *console) activeIndicators(t *testing.T, seed, n int) []int64 {
	t.Helper()
	var subs []indicator.Submission
	for i := range n {
		subs = append(subs, indicator.Submission{Signal: indicator.PDQ, Value: fmt.Sprintf("%064x", seed+i), Category: indicator.A1, Reference: fmt.Sprintf("HL-%d", seed+i)})
	}
	var ids []int64
	for _, name := range []string{"hotline", "centre"} {
		res, err := c.indicators.Submit(context.Background(), indicator.Known, c.orgs[name].Principal(), subs)
		if err != nil {
			t.Fatal(err)
		}
		ids = ids[:0]
		for _, r := range res {
			ids = append(ids, r.IndicatorID)
		}
	}
	for _, id := range ids {
		if st := c.indicatorState(t, id); st != indicator.Active {
			t.Fatalf("indicator %d is %s", id, st)
		}
	}
	return ids
}

func (c *console) indicatorState(t *testing.T, id int64) indicator.State {
	t.Helper()
	ind, _, err := c.indicators.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return ind.State
}

// userOf is the user of role's client.
func (c *console) userOf(t *testing.T, role policy.Role) auth.User {
	t.Helper()
	u, err := c.users.UserByEmail(context.Background(), string(role)+"@"+orgFor[role]+".test")
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// auditedBy returns the purposes of the audit entries of action on
// object by actor, oldest first.
func auditedBy(t *testing.T, c *console, action, object, actor string) []string {
	t.Helper()
	entries, err := audit.NewLog(c.db, nil).Latest(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(entries) - 1; i >= 0; i-- {
		if e := entries[i]; e.Action == action && e.Object == object && e.Actor == actor && e.Outcome == audit.OK {
			out = append(out, e.Purpose)
		}
	}
	return out
}

// quarantineQueueIDs returns the indicators the quarantine queue links
// to, in order.
func quarantineQueueIDs(body string) []string {
	var ids []string
	for _, m := range regexp.MustCompile(`<a id="quarantine-(\d+)" href="/quarantine/(\d+)">`).FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// TestQuarantineReview: indicators quarantined by providers' verdicts and
// by hand, from the indicator's page, wait in the queue oldest first with
// their cause; the reviewer sees why, every provider's verdict with its
// note and the attestations, and confirms one back to active and
// withdraws the other; refused forms change nothing and say why; only
// those the policy allows see the forms; every step is audited as the
// user.
func TestQuarantineReview(t *testing.T) {
	eachEngine(t, func(t *testing.T, c *console) {
		ctx := context.Background()
		ids := c.activeIndicators(t, 1, 3)
		flagged, byHand, untouched := ids[0], ids[1], ids[2]
		beta, err := org.NewService(c.db).Create(ctx, "beta", org.Provider, "FR")
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []struct {
			by   org.Principal
			note string
		}{{c.orgs["acme"].Principal(), "a photo of a <beach>"}, {beta.Principal(), ""}} {
			v.by.KeyID = "k-" + v.by.OrgName
			if _, err := c.quarantine.Feedback(ctx, v.by, flagged, quarantine.FalsePositive, v.note); err != nil {
				t.Fatal(err)
			}
		}
		if st := c.indicatorState(t, flagged); st != indicator.Quarantined {
			t.Fatalf("after two false-positive verdicts the indicator is %s", st)
		}
		reviewer := c.clients[policy.Reviewer]
		ind := func(id int64) string { return fmt.Sprintf("%s/indicators/%d", c.url, id) }

		// The indicator's page: the quarantine form for those who may
		// quarantine, with the provenance.
		_, body := fetch(t, reviewer, ind(byHand))
		quarantineForm := fmt.Sprintf(`action="/indicators/%d/quarantine"`, byHand)
		for _, want := range []string{quarantineForm, `<label for="reason">`, "HL-2", "<td>hotline</td><td>DE</td>", "<td>centre</td><td>BE</td>", `href="/lists/known"`} {
			if !strings.Contains(body, want) {
				t.Errorf("the reviewer's indicator page lacks %q", want)
			}
		}
		for _, role := range []policy.Role{policy.Auditor, policy.Analyst} { // the hotline's analyst: no quarantine.add
			resp, body := fetch(t, c.clients[role], ind(byHand))
			if resp.StatusCode != 200 || strings.Contains(body, quarantineForm) || !strings.Contains(body, "HL-2") {
				t.Errorf("%s: indicator page %d, with the quarantine form %v: %s", role, resp.StatusCode, strings.Contains(body, quarantineForm), body)
			}
		}
		// A quarantine without a reason is refused at the form.
		resp, body := send(t, reviewer, ind(byHand)+"/quarantine", url.Values{"reason": {"  "}}, "same-origin")
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `id="quarantine-error">A reason is required`) || c.indicatorState(t, byHand) != indicator.Active {
			t.Fatalf("quarantine without a reason: %d, %s: %s", resp.StatusCode, c.indicatorState(t, byHand), body)
		}
		resp, _ = send(t, reviewer, ind(byHand)+"/quarantine", url.Values{"reason": {"the hash of a stock photo"}}, "same-origin")
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != fmt.Sprintf("/indicators/%d?quarantined=1", byHand) {
			t.Fatalf("quarantine by hand: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		if st := c.indicatorState(t, byHand); st != indicator.Quarantined {
			t.Fatalf("quarantined by hand, the indicator is %s", st)
		}
		me := fmt.Sprintf("user:%d", c.userOf(t, policy.Reviewer).ID)
		if got := auditedBy(t, c, "indicator.quarantine", fmt.Sprintf("indicator:%d", byHand), me); len(got) != 1 || got[0] != "cause manual" {
			t.Errorf("the quarantine by hand audited as %q", got)
		}
		_, body = fetch(t, reviewer, ind(byHand)+"?quarantined=1")
		if !strings.Contains(body, `role="status">The indicator is quarantined`) || strings.Contains(body, `id="reason"`) ||
			!strings.Contains(body, fmt.Sprintf(`href="/quarantine/%d"`, byHand)) {
			t.Errorf("the indicator's page after its quarantine: %s", body)
		}

		// The queue: oldest first, with cause, time and verdicts.
		_, body = fetch(t, reviewer, c.url+"/")
		if !strings.Contains(body, `<a href="/quarantine">Quarantine</a>`) {
			t.Error("the reviewer's menu has no quarantine")
		}
		if _, body := fetch(t, c.clients[policy.ProviderAdmin], c.url+"/"); strings.Contains(body, `href="/quarantine"`) {
			t.Error("the provider's menu offers the quarantine")
		}
		_, body = fetch(t, reviewer, c.url+"/quarantine")
		if got := quarantineQueueIDs(body); fmt.Sprint(got) != fmt.Sprint([]int64{flagged, byHand}) {
			t.Errorf("queue %v, want %d then %d", got, flagged, byHand)
		}
		row := func(body string, id int64) string {
			i := strings.Index(body, fmt.Sprintf(`id="quarantine-%d"`, id))
			if i < 0 {
				return ""
			}
			return body[i : i+strings.Index(body[i:], "</tr>")]
		}
		if r := row(body, flagged); !strings.Contains(r, "false-positive verdicts") || !strings.Contains(r, "<td>2</td>") || !strings.Contains(r, "min ago") {
			t.Errorf("flagged row: %s", r)
		}
		if r := row(body, byHand); !strings.Contains(r, "by hand") || !strings.Contains(r, "the hash of a stock photo") || !strings.Contains(r, "<td>0</td>") {
			t.Errorf("row of the quarantine by hand: %s", r)
		}
		if strings.Contains(body, fmt.Sprintf(`id="quarantine-%d"`, untouched)) {
			t.Error("an active indicator is in the queue")
		}

		// The detail: why, the verdicts with their notes, the forms.
		detail := fmt.Sprintf("%s/quarantine/%d", c.url, flagged)
		_, body = fetch(t, reviewer, detail)
		for _, want := range []string{`id="quarantine-cause">false-positive verdicts`, "false-positive verdicts of 2 providers", "Ward (automatic)",
			"<td>acme</td>", "<td>beta</td>", "a photo of a &lt;beach&gt;", "HL-1", `action="/quarantine/` + fmt.Sprint(flagged) + `/confirm"`,
			`action="/quarantine/` + fmt.Sprint(flagged) + `/withdraw"`, `<label for="note">`, `<label for="reason">`} {
			if !strings.Contains(body, want) {
				t.Errorf("the quarantine's page lacks %q", want)
			}
		}
		if got := auditedBy(t, c, "quarantine.view", fmt.Sprintf("indicator:%d", flagged), me); len(got) != 1 {
			t.Errorf("the view of the verdicts audited %d times", len(got))
		}
		if resp, body := fetch(t, c.clients[policy.Auditor], detail); resp.StatusCode != 200 || strings.Contains(body, "/confirm\"") || !strings.Contains(body, "a photo of a") {
			t.Errorf("the auditor's quarantine page: %d, with forms %v", resp.StatusCode, strings.Contains(body, "/confirm\""))
		}
		auditor := fmt.Sprintf("user:%d", c.userOf(t, policy.Auditor).ID)
		if resp, _ := send(t, c.clients[policy.Auditor], detail+"/confirm", url.Values{}, "same-origin"); resp.StatusCode != http.StatusForbidden ||
			c.indicatorState(t, flagged) != indicator.Quarantined || len(auditedBy(t, c, "indicator.release", fmt.Sprintf("indicator:%d", flagged), auditor)) != 0 {
			t.Errorf("the auditor's confirmation: %d, %s", resp.StatusCode, c.indicatorState(t, flagged))
		}

		// A withdrawal needs a reason; refused, nothing changes.
		resp, body = send(t, reviewer, detail+"/withdraw", url.Values{"reason": {""}}, "same-origin")
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `id="withdraw-error">A reason is required`) || c.indicatorState(t, flagged) != indicator.Quarantined {
			t.Errorf("withdrawal without a reason: %d, %s", resp.StatusCode, c.indicatorState(t, flagged))
		}
		// Confirmed: active again, out of the queue.
		resp, _ = send(t, reviewer, detail+"/confirm", url.Values{"note": {"a true match after all"}}, "same-origin")
		if resp.StatusCode != http.StatusSeeOther || c.indicatorState(t, flagged) != indicator.Active {
			t.Fatalf("confirmation: %d, %s", resp.StatusCode, c.indicatorState(t, flagged))
		}
		if got := auditedBy(t, c, "indicator.release", fmt.Sprintf("indicator:%d", flagged), me); len(got) != 1 {
			t.Errorf("the confirmation audited %d times as %s", len(got), me)
		}
		_, body = fetch(t, reviewer, c.url+resp.Header.Get("Location"))
		if !strings.Contains(body, fmt.Sprintf("Indicator %d was confirmed", flagged)) || fmt.Sprint(quarantineQueueIDs(body)) != fmt.Sprint([]int64{byHand}) {
			t.Errorf("the queue after the confirmation: %s", body)
		}
		_, body = fetch(t, reviewer, detail)
		if !strings.Contains(body, "not quarantined now") || !strings.Contains(body, "a true match after all") || strings.Contains(body, "/confirm\"") {
			t.Errorf("the page of the ended quarantine: %s", body)
		}
		// Confirming again is a conflict, and changes nothing.
		if resp, _ := send(t, reviewer, detail+"/confirm", url.Values{}, "same-origin"); resp.StatusCode != http.StatusConflict {
			t.Errorf("second confirmation: %d", resp.StatusCode)
		}
		// Withdrawn, with the reason.
		resp, _ = send(t, reviewer, fmt.Sprintf("%s/quarantine/%d/withdraw", c.url, byHand), url.Values{"reason": {"a stock photo"}}, "same-origin")
		if resp.StatusCode != http.StatusSeeOther || c.indicatorState(t, byHand) != indicator.Withdrawn {
			t.Fatalf("withdrawal: %d, %s", resp.StatusCode, c.indicatorState(t, byHand))
		}
		if got := auditedBy(t, c, "indicator.withdraw", fmt.Sprintf("indicator:%d", byHand), me); len(got) != 1 || got[0] != "quarantine review" {
			t.Errorf("the withdrawal audited as %q", got)
		}
		_, body = fetch(t, reviewer, c.url+"/quarantine")
		if len(quarantineQueueIDs(body)) != 0 || !strings.Contains(body, "No indicator waits for review") {
			t.Errorf("the queue after the reviews: %v", quarantineQueueIDs(body))
		}
		_, body = fetch(t, reviewer, ind(byHand))
		if !strings.Contains(body, `id="indicator-state">withdrawn`) || !strings.Contains(body, "a stock photo") {
			t.Errorf("the withdrawn indicator's page: %s", body)
		}
		// The indicator page links from the list's.
		if _, body := fetch(t, reviewer, c.url+"/lists/known"); !strings.Contains(body, fmt.Sprintf(`<a href="/indicators/%d">`, untouched)) {
			t.Error("the list's page does not link to its indicators")
		}
	})
}
