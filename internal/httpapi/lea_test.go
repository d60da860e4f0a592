package httpapi_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/reporting/forward"
	"github.com/wardhq/ward/internal/reporting/report"
)

// testSigningKey is the centre's key in these tests.
var testSigningKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{42}, ed25519.SeedSize))

// leaOrgs adds the authorities of the tests: BKA (DE), Police (FR) and
// Europol, each with a key.
func leaOrgs(t *testing.T, e *env) {
	t.Helper()
	orgs := org.NewService(e.db)
	for _, o := range []struct {
		name    string
		kind    org.Kind
		country string
	}{{"bka", org.LEA, "DE"}, {"police", org.LEA, "FR"}, {"europol", org.Europol, "NL"}} {
		created, err := orgs.Create(context.Background(), o.name, o.kind, o.country)
		if err != nil {
			t.Fatal(err)
		}
		e.orgs[o.name] = created
		if e.keys[o.name], _, err = orgs.CreateKey(context.Background(), o.name, org.KeyOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

const leaTestFile = "file content of report 4711"

// routedReport returns a report of the provider uploaded from ip, with a
// file, finished, forwarded and routed.
func routedReport(t *testing.T, e *env, ip string) string {
	t.Helper()
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 21, 40, 0, 0, time.UTC)
	d := report.Draft{
		IncidentTime: at,
		Type:         report.TypeNew,
		Items:        []report.Item{{Kind: report.ItemFile, FileName: "IMG_0042.JPG"}},
		User: report.User{ID: "u-4711", Emails: []string{"user.4711@example.org"},
			IPCaptures: []report.IPCapture{{IP: ip, Time: at, Event: report.CaptureUpload}}},
		Service:   report.OnlineService{Type: report.Hosting},
		Awareness: report.Awareness{Method: report.UserReport},
	}
	provider := e.orgs["provider"].ID
	r, _, err := e.reports.CreateDraft(ctx, provider, "", d)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.reports.AddFile(ctx, provider, r.ID, 0, []byte(leaTestFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.reports.Finish(ctx, provider, r.ID); err != nil {
		t.Fatal(err)
	}
	storetest.SetReportState(t, e.db, r.ID, report.StateForwarded)
	if err := forward.NewService(e.db.Forward(), e.reports, testSigningKey).Route(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	return r.ID
}

func inboxIDs(t *testing.T, c *client.Client, o client.InboxOptions) []string {
	t.Helper()
	in, err := c.LEAInbox(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range in.Reports {
		ids = append(ids, r.ReportID)
	}
	return ids
}

func TestLEA(t *testing.T) {
	engines(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		ctx := context.Background()
		e := start(t, open(t), true)
		leaOrgs(t, e)
		de1, de2 := routedReport(t, e, "5.9.0.1"), routedReport(t, e, "5.9.0.1")
		fr := routedReport(t, e, "212.27.48.10")
		bka, police, europol := e.client(t, "bka"), e.client(t, "police"), e.client(t, "europol")

		// Each inbox shows its own deliveries only, oldest first.
		if got := inboxIDs(t, bka, client.InboxOptions{}); !slices.Equal(got, []string{de1, de2}) {
			t.Errorf("BKA's inbox %v, want %v", got, []string{de1, de2})
		}
		if got := inboxIDs(t, police, client.InboxOptions{}); !slices.Equal(got, []string{fr}) {
			t.Errorf("the police's inbox %v, want %v", got, []string{fr})
		}
		if got := inboxIDs(t, europol, client.InboxOptions{Status: "all"}); len(got) != 3 {
			t.Errorf("Europol's inbox %v, want all three", got)
		}
		// Nobody but an authority has an inbox at all.
		if _, err := e.client(t, "provider").LEAInbox(ctx, client.InboxOptions{}); err == nil {
			t.Error("a provider was shown an inbox")
		} else {
			problemOf(t, err, http.StatusForbidden)
		}
		page, err := bka.LEAInbox(ctx, client.InboxOptions{Limit: 1})
		if err != nil || len(page.Reports) != 1 || page.Reports[0].ReportID != de1 || page.Next == "" {
			t.Fatalf("first page: %+v, %v", page, err)
		}
		if r := page.Reports[0]; r.Type != "new" || r.DeliveredAt.IsZero() || !r.AcknowledgedAt.IsZero() {
			t.Errorf("inbox entry %+v", r)
		}
		if got := inboxIDs(t, bka, client.InboxOptions{Limit: 1, After: page.Next}); !slices.Equal(got, []string{de2}) {
			t.Errorf("second page %v", got)
		}

		// The package: signed, complete, found only by its authorities.
		key, err := bka.SigningKey(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !key.PublicKey.Equal(testSigningKey.Public()) || key.Algorithm != "ed25519" || !strings.Contains(key.PEM, "BEGIN PUBLIC KEY") {
			t.Errorf("signing key %+v", key)
		}
		sp, err := bka.LEAReport(ctx, de1)
		if err != nil {
			t.Fatal(err)
		}
		p, err := client.VerifyPackage(key.PublicKey, sp.Body, sp.Signature)
		if err != nil {
			t.Fatal(err)
		}
		if p.ReportID != de1 || p.Provider.Name != "provider" || p.Provider.Country != "IE" || len(p.Files) != 1 ||
			p.Files[0].Size != int64(len(leaTestFile)) || len(p.Files[0].SHA256) != 64 || !bytes.Contains(p.Report, []byte("user.4711@example.org")) ||
			bytes.Contains(sp.Body, []byte(base64.StdEncoding.EncodeToString([]byte(leaTestFile)))) {
			t.Errorf("package %+v", p)
		}
		entries, err := audit.NewLog(e.db, nil).Latest(ctx, 1)
		if err != nil || len(entries) != 1 || entries[0].Action != "report.download" || entries[0].Object != "report:"+de1 ||
			entries[0].OrgID != e.orgs["bka"].ID {
			t.Errorf("audit trail %+v, %v; want the download", entries, err)
		}
		// Each file on its own, checked against the package, and audited.
		var got bytes.Buffer
		if err := bka.LEAReportFile(ctx, de1, p.Files[0], &got); err != nil || got.String() != leaTestFile {
			t.Errorf("file: %q, %v", got.String(), err)
		}
		entries, err = audit.NewLog(e.db, nil).Latest(ctx, 1)
		if err != nil || len(entries) != 1 || entries[0].Action != "report.download_file" || entries[0].Object != "report:"+de1+"/file:0" ||
			entries[0].OrgID != e.orgs["bka"].ID {
			t.Errorf("audit trail %+v, %v; want the file's download", entries, err)
		}
		for name, f := range map[string]client.PackageFile{
			"size":   {Index: 0, Size: p.Files[0].Size - 1, SHA256: p.Files[0].SHA256},
			"sha256": {Index: 0, Size: p.Files[0].Size, SHA256: strings.Repeat("0", 64)},
		} {
			if err := bka.LEAReportFile(ctx, de1, f, io.Discard); !errors.Is(err, client.ErrFileMismatch) {
				t.Errorf("a file of another %s: %v, want ErrFileMismatch", name, err)
			}
		}
		problemOf(t, police.LEAReportFile(ctx, de1, p.Files[0], io.Discard), http.StatusNotFound)
		problemOf(t, e.client(t, "provider").LEAReportFile(ctx, de1, p.Files[0], io.Discard), http.StatusForbidden)
		problemOf(t, bka.LEAReportFile(ctx, de1, client.PackageFile{Index: 1}, io.Discard), http.StatusNotFound)
		tampered := bytes.Replace(sp.Body, []byte("u-4711"), []byte("u-4712"), 1)
		if _, err := client.VerifyPackage(key.PublicKey, tampered, sp.Signature); !errors.Is(err, client.ErrBadSignature) {
			t.Errorf("tampered package: %v", err)
		}
		if _, err := client.VerifyNotification(key.PublicKey, sp.Body, sp.Signature); !errors.Is(err, client.ErrBadSignature) {
			t.Errorf("a package passed for a notification: %v", err)
		}
		// Another authority does not find it; a provider may not look.
		_, err = police.LEAReport(ctx, de1)
		problemOf(t, err, http.StatusNotFound)
		_, err = e.client(t, "provider").LEAReport(ctx, de1)
		problemOf(t, err, http.StatusForbidden)

		// Acknowledgement, repeatable.
		a1, err := bka.AckReport(ctx, de1)
		if err != nil || a1.AcknowledgedAt.IsZero() {
			t.Fatalf("ack: %+v, %v", a1, err)
		}
		a2, err := bka.AckReport(ctx, de1)
		if err != nil || !a2.AcknowledgedAt.Equal(a1.AcknowledgedAt) {
			t.Errorf("ack again: %+v, %v", a2, err)
		}
		if got := inboxIDs(t, bka, client.InboxOptions{}); !slices.Equal(got, []string{de2}) {
			t.Errorf("new after the ack: %v", got)
		}
		if got := inboxIDs(t, bka, client.InboxOptions{Status: "acknowledged"}); !slices.Equal(got, []string{de1}) {
			t.Errorf("acknowledged: %v", got)
		}
		_, err = police.AckReport(ctx, de1)
		problemOf(t, err, http.StatusNotFound)

		// Feedback, with a non-disclosure request within the limit.
		until := time.Now().AddDate(0, 12, 0).UTC().Truncate(time.Second)
		f, err := bka.SendFeedback(ctx, de1, client.FeedbackRequest{Outcome: client.OutcomeInvestigating, Note: "case 42", NonDisclosureUntil: until})
		if err != nil || f.ID == 0 || f.Outcome != "investigating" || !f.NonDisclosureUntil.Equal(until) {
			t.Fatalf("feedback: %+v, %v", f, err)
		}
		rec, err := e.db.ReportByID(ctx, de1)
		if err != nil || !rec.NonDisclosureUntil.Equal(until) {
			t.Errorf("the report's non-disclosure: %v, %v; want %v", rec.NonDisclosureUntil, err, until)
		}
		_, err = bka.SendFeedback(ctx, de1, client.FeedbackRequest{Outcome: client.OutcomeInvestigating, NonDisclosureUntil: time.Now().AddDate(0, 19, 0)})
		if p := problemOf(t, err, http.StatusBadRequest); !strings.Contains(p.Detail, "18 months") {
			t.Errorf("non-disclosure over the limit: %v", p)
		}
		_, err = bka.SendFeedback(ctx, de1, client.FeedbackRequest{Outcome: "arrested"})
		problemOf(t, err, http.StatusBadRequest)
		_, err = police.SendFeedback(ctx, de1, client.FeedbackRequest{Outcome: client.OutcomeNoAction})
		problemOf(t, err, http.StatusNotFound)
		_, err = e.client(t, "provider").SendFeedback(ctx, de1, client.FeedbackRequest{Outcome: client.OutcomeNoAction})
		problemOf(t, err, http.StatusForbidden)

		if got, want := e.auditActions(t), "report.feedback report.ack report.ack report.download"; !strings.HasPrefix(got, want) {
			t.Errorf("audit trail %q, want it to start with %q", got, want)
		}
		evs, err := e.db.ReportEvents(ctx, de1)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, ev := range evs {
			kinds = append(kinds, fmt.Sprintf("%s/%d", ev.Kind, ev.Org))
		}
		bkaID, europolID := e.orgs["bka"].ID, e.orgs["europol"].ID
		want := fmt.Sprintf("received/0 routed/%d routed/%d acknowledged/%d non_disclosure/%d feedback/%d", bkaID, europolID, bkaID, bkaID, bkaID)
		if strings.Join(kinds, " ") != want {
			t.Errorf("history %q, want %q", strings.Join(kinds, " "), want)
		}
	})
}

// TestLEAAnswersMatchSchemas checks the authorities' routes, successes and
// errors, against the API's description.
func TestLEAAnswersMatchSchemas(t *testing.T) {
	e := start(t, storetest.OpenSQLite(t), true)
	leaOrgs(t, e)
	id := routedReport(t, e, "5.9.0.1")
	bka := e.keys["bka"]
	e.send(t, "GET", "/v1/lea/reports", bka, nil)
	page := e.send(t, "GET", "/v1/lea/reports?status=all&limit=1", bka, nil)
	var in client.Inbox
	page.decode(t, &in)
	e.send(t, "GET", "/v1/lea/reports?after="+in.Next, bka, nil)
	for _, q := range []string{"status=old", "limit=0", "limit=x", "after=nonsense"} {
		e.send(t, "GET", "/v1/lea/reports?"+q, bka, nil).problem(t, http.StatusBadRequest)
	}
	if a := e.send(t, "GET", "/v1/lea/reports/"+id, bka, nil); a.status != http.StatusOK || !strings.HasPrefix(a.header.Get("Ward-Signature"), "ed25519=") {
		t.Errorf("package: %d %v", a.status, a.header)
	}
	e.send(t, "GET", "/v1/lea/reports/"+id, e.keys["police"], nil).problem(t, http.StatusNotFound)
	e.send(t, "GET", "/v1/lea/reports/"+id, e.keys["hotline-de"], nil).problem(t, http.StatusForbidden)
	e.send(t, "POST", "/v1/lea/reports/"+id+"/ack", bka, nil)
	e.send(t, "POST", "/v1/lea/reports/NOSUCH/ack", bka, nil).problem(t, http.StatusNotFound)
	e.send(t, "POST", "/v1/lea/reports/"+id+"/feedback", bka, strings.NewReader(`{"outcome":"received"}`))
	e.send(t, "POST", "/v1/lea/reports/"+id+"/feedback", bka, strings.NewReader(`{"outcome":"received","non_disclosure_until":"2099-01-01T00:00:00Z"}`)).
		problem(t, http.StatusBadRequest)
	e.send(t, "POST", "/v1/lea/reports/"+id+"/feedback", bka, strings.NewReader(`{"outcome":"received","notes":"x"}`)).
		problem(t, http.StatusBadRequest)
	e.send(t, "GET", "/v1/lea/signing-key", bka, nil)
	e.send(t, "GET", "/v1/lea/signing-key", "", nil).problem(t, http.StatusUnauthorized)
}
