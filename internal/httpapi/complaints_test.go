package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/access/ratelimit"
	"github.com/wardhq/ward/internal/accountability/complaint"
	"github.com/wardhq/ward/internal/httpapi"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
)

// post sends body to path with key (none if "") and returns the status,
// the headers and the answer.
func post(t *testing.T, e *env, path, key, body string) (int, http.Header, []byte) {
	t.Helper()
	return send(t, e, http.MethodPost, path, key, body)
}

// send is post with method; key is sent as "Authorization: Bearer key",
// a case's secret as well as an API key.
func send(t *testing.T, e *env, method, path, key, body string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// TestPublicComplaint: the public files with no key and follows with the
// secret; bad input is a problem naming each field and changes nothing;
// a wrong secret is an unknown case; an API key is no secret.
func TestPublicComplaint(t *testing.T) {
	engines(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		e := start(t, open(t), false)
		count := func() int { return storetest.Count(t, e.db, `SELECT count(*) FROM complaints`) }
		for _, tc := range []struct {
			name, body string
			status     int
			pointers   []string
		}{
			{"empty", `{}`, 400, []string{"/provider", "/reference", "/description"}},
			{"bad fields", `{"provider":"provider","reference":"` + strings.Repeat("r", 300) + `","description":"x","contact":"not an address"}`,
				400, []string{"/reference", "/contact"}},
			{"unknown provider", `{"provider":"nobody","reference":"R-1","description":"x"}`, 400, []string{"/provider"}},
			{"a hotline is no provider", `{"provider":"hotline-de","reference":"R-1","description":"x"}`, 400, []string{"/provider"}},
			{"unknown field", `{"provider":"provider","reference":"R-1","description":"x","ip":"1.2.3.4"}`, 400, nil},
			{"not JSON", `provider=provider`, 400, nil},
			{"too large", `{"provider":"provider","reference":"R","description":"` + strings.Repeat("d", 20<<10) + `"}`, 413, nil},
		} {
			status, h, b := post(t, e, "/v1/public/complaints", "", tc.body)
			var p client.Problem
			if status != tc.status || h.Get("Content-Type") != "application/problem+json" || json.Unmarshal(b, &p) != nil || p.Detail == "" {
				t.Errorf("%s: %d %s %s, want %d problem+json", tc.name, status, h.Get("Content-Type"), b, tc.status)
				continue
			}
			var got []string
			for _, fe := range p.Errors {
				got = append(got, fe.Pointer)
			}
			if tc.pointers != nil && strings.Join(got, " ") != strings.Join(tc.pointers, " ") {
				t.Errorf("%s: fields %v, want %v", tc.name, got, tc.pointers)
			}
			if strings.HasPrefix(tc.name, "unknown provider") && (len(p.Errors) != 1 || !strings.Contains(p.Errors[0].Detail, "is registered")) {
				t.Errorf("%s: %+v does not say the provider is not registered", tc.name, p.Errors)
			}
		}
		if n := count(); n != 0 {
			t.Fatalf("bad requests stored %d complaints", n)
		}

		c := e.client(t, "provider") // its key is not sent by FileComplaint
		rc, err := c.FileComplaint(context.Background(), client.ComplaintRequest{Provider: "provider", Reference: "R-1",
			Description: "My photo was removed.", Contact: "me@example.org"})
		if err != nil {
			t.Fatal(err)
		}
		if rc.Case == "" || rc.Secret == "" || rc.Resolved != nil || !rc.DueAt.After(rc.ReceivedAt) {
			t.Errorf("receipt %+v", rc)
		}
		if n := storetest.Count(t, e.db, `SELECT count(*) FROM complaints WHERE filed_by IS NULL`); n != 1 {
			t.Errorf("%d public complaints stored, want 1", n)
		}
		st, err := c.ComplaintStatus(context.Background(), rc.Case, rc.Secret)
		if err != nil || st.State != "open" || st.Case != rc.Case || st.Reasons != "" {
			t.Errorf("status %+v, %v", st, err)
		}
		path := "/v1/public/complaints/" + rc.Case
		wrongStatus, _, wrong := send(t, e, "GET", path, rc.Secret+"x", "")
		unknownStatus, _, unknown := send(t, e, "GET", "/v1/public/complaints/AAAA-AAAA-AAAA-AAAA", rc.Secret, "")
		if wrongStatus != 404 || unknownStatus != 404 || !bytes.Equal(wrong, unknown) {
			t.Errorf("wrong secret %d %s; unknown case %d %s: want the same 404", wrongStatus, wrong, unknownStatus, unknown)
		}
		// The route reads no API key: the provider's key is a wrong
		// secret, and none at all asks for the secret.
		if status, _, b := send(t, e, "GET", path, e.keys["provider"], ""); status != 404 {
			t.Errorf("an API key as the secret: %d %s, want 404", status, b)
		}
		if status, h, _ := send(t, e, "GET", path, "", ""); status != 401 || h.Get("WWW-Authenticate") == "" {
			t.Errorf("no secret: %d, want 401", status)
		}
	})
}

// TestPublicComplaintLimit: the public routes are limited per address,
// bad requests counted too, before anything is read or stored.
func TestPublicComplaintLimit(t *testing.T) {
	e := start(t, storetest.OpenSQLite(t), false, func(s *httpapi.Server) {
		s.PublicLimit, s.LookupLimit = ratelimit.NewPublic(1e-9, 2), ratelimit.NewPublic(1e-9, 1)
	})
	body := `{"provider":"provider","reference":"R-1","description":"x"}`
	if status, _, b := post(t, e, "/v1/public/complaints", "", `{}`); status != 400 {
		t.Fatalf("first: %d %s", status, b)
	}
	if status, _, b := post(t, e, "/v1/public/complaints", "", body); status != 201 {
		t.Fatalf("second: %d %s", status, b)
	}
	// Filing is over its limit; a look-up has its own, and is over it
	// after one.
	const status = "/v1/public/complaints/AAAA-AAAA-AAAA-AAAA"
	if code, _, b := send(t, e, "GET", status, "secret", ""); code != 404 {
		t.Errorf("a look-up within its limit: %d %s", code, b)
	}
	for _, rq := range []struct{ method, path string }{{"POST", "/v1/public/complaints"}, {"GET", status}} {
		code, h, b := send(t, e, rq.method, rq.path, "secret", body)
		if code != 429 || h.Get("Retry-After") == "" || h.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s %s over the limit: %d %v %s", rq.method, rq.path, code, h, b)
		}
	}
	if n := storetest.Count(t, e.db, `SELECT count(*) FROM complaints`); n != 1 {
		t.Errorf("%d complaints, want 1", n)
	}
}

// TestProviderComplaints: a provider files on a person's behalf with its
// key and follows its own complaints only; other kinds may not.
func TestProviderComplaints(t *testing.T) {
	e := start(t, storetest.OpenSQLite(t), false)
	ctx := context.Background()
	prov := e.client(t, "provider")
	if _, err := prov.SubmitComplaint(ctx, client.ComplaintRequest{Provider: "hotline-de", Reference: "R", Description: "d"}); err == nil {
		t.Error("a provider filed about another organisation")
	} else {
		problemOf(t, err, 400)
	}
	_, err := prov.SubmitComplaint(ctx, client.ComplaintRequest{Reference: "R", Description: "d", Contact: "bad"})
	if p := problemOf(t, err, 400); len(p.Errors) != 1 || p.Errors[0].Pointer != "/contact" {
		t.Errorf("bad contact: %+v", p)
	}
	rc, err := prov.SubmitComplaint(ctx, client.ComplaintRequest{Reference: "R-7", Description: "The user says it is a cat."})
	if err != nil {
		t.Fatal(err)
	}
	if rc.Resolved == nil || *rc.Resolved {
		t.Errorf("the filing provider is told whether its reference resolved (here not): %+v", rc.Resolved)
	}
	// The person the provider gave the receipt to follows it.
	if st, err := prov.ComplaintStatus(ctx, rc.Case, rc.Secret); err != nil || st.State != "open" {
		t.Errorf("status %+v, %v", st, err)
	}
	page, err := prov.Complaints(ctx, client.ComplaintsOptions{})
	if err != nil || len(page.Complaints) != 1 || page.Complaints[0].Case != rc.Case || !page.Complaints[0].FiledByYou || page.Next != "" {
		t.Fatalf("list %+v, %v", page, err)
	}
	reviewer := complaint.Reviewer{Actor: "user:1", Org: e.orgs["centre"].ID, Scope: policy.AllData}
	if _, err := e.complaints.Decide(ctx, reviewer, rc.Case, complaint.Decision{Outcome: complaint.Upheld, Reasons: "It is a cat."}); err != nil {
		t.Fatal(err)
	}
	got, err := prov.GetComplaint(ctx, rc.Case)
	if err != nil || got.State != "upheld" || !got.Reinstate || got.Reasons != "It is a cat." {
		t.Errorf("complaint %+v, %v", got, err)
	}
	if _, _, b := send(t, e, "GET", "/v1/complaints/"+rc.Case, e.keys["provider"], ""); strings.Contains(string(b), "The user says") {
		t.Errorf("the provider's view holds the description: %s", b)
	}
	if _, err := prov.Complaints(ctx, client.ComplaintsOptions{State: "closed"}); err == nil {
		t.Error("state closed accepted")
	} else {
		problemOf(t, err, 400)
	}
	// Others do not see it: a hotline's key may not read complaints.
	if _, err := e.client(t, "hotline-de").GetComplaint(ctx, rc.Case); err == nil {
		t.Error("a hotline read a complaint")
	} else {
		problemOf(t, err, 403)
	}
}
