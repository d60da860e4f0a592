package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/internal/access/ratelimit"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/httpapi"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/victim"
)

func victimMD5(i int) string { return fmt.Sprintf("%032x", 0xabc000+i) }

// victimBody is a request body of the hashes MD5s from..to-1.
func victimBody(from, to int, extra string) string {
	var hs []string
	for i := from; i < to; i++ {
		hs = append(hs, `{"signal":"md5","value":"`+victimMD5(i)+`"}`)
	}
	return `{"hashes":[` + strings.Join(hs, ",") + `]` + extra + `}`
}

func decodeAs[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return v
}

// TestVictimCases: bad input is a problem naming each field and changes
// nothing; a case is opened, followed, added to and withdrawn from with
// its secret; a wrong secret is an unknown case; providers' matches of
// its hashes, through the API or confirmed from a mirror, are counted.
func TestVictimCases(t *testing.T) {
	engines(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		e := start(t, open(t), true)
		count := func() int {
			return storetest.Count(t, e.db, `SELECT count(*) FROM victim_cases`) + storetest.Count(t, e.db, `SELECT count(*) FROM indicators`)
		}
		for _, tc := range []struct {
			name, body string
			status     int
			pointers   []string
		}{
			{"empty", `{}`, 400, []string{"/hashes"}},
			{"too many", victimBody(0, 101, ""), 400, []string{"/hashes"}},
			{"bad hashes", `{"hashes":[{"signal":"md5","value":"` + victimMD5(0) + `"},{"signal":"sha1","value":"00"},{"signal":"pdq","value":"xyz"}]}`,
				400, []string{"/hashes/1/signal", "/hashes/2/value"}},
			{"bad contact", victimBody(0, 1, `,"contact":"my house"`), 400, []string{"/contact"}},
			{"an address is not asked", victimBody(0, 1, `,"name":"A. Person"`), 400, nil},
			{"not JSON", `hashes=1`, 400, nil},
			{"too large", victimBody(0, 1, `,"contact":"`+strings.Repeat("c", 40<<10)+`"`), 413, nil},
		} {
			status, h, b := post(t, e, "/v1/public/victim-cases", "", tc.body)
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
		}
		if n := count(); n != 0 {
			t.Fatalf("bad requests stored %d rows", n)
		}

		status, h, b := post(t, e, "/v1/public/victim-cases", "", victimBody(0, 3, `,"contact":"me@example.org"`))
		if status != 201 {
			t.Fatalf("opening: %d %s", status, b)
		}
		rc := decodeAs[client.VictimReceipt](t, b)
		if rc.Case == "" || rc.Secret == "" || rc.StatusURL != "/help/case" || len(rc.Hashes) != 3 || rc.Counts.Hashes != 3 ||
			h.Get("Location") != "/v1/public/victim-cases/"+rc.Case {
			t.Fatalf("receipt %s, Location %q", b, h.Get("Location"))
		}
		if bytes.Contains(b, []byte("me@example.org")) {
			t.Error("the answer repeats the contact")
		}
		path := "/v1/public/victim-cases/" + rc.Case
		get := func() client.VictimCase {
			t.Helper()
			status, _, b := send(t, e, "GET", path, rc.Secret, "")
			if status != 200 {
				t.Fatalf("status: %d %s", status, b)
			}
			return decodeAs[client.VictimCase](t, b)
		}
		if st := get(); st.Case != rc.Case || st.Hashes[0].State != "active" || st.Hashes[0].Value != victimMD5(0) || st.OpenedAt.IsZero() {
			t.Errorf("status %+v", st)
		}
		wrongStatus, _, wrong := send(t, e, "GET", path, rc.Secret+"x", "")
		unknownStatus, _, unknown := send(t, e, "GET", "/v1/public/victim-cases/VAAA-AAAA-AAAA-AAAA", rc.Secret, "")
		if wrongStatus != 404 || unknownStatus != 404 || !bytes.Equal(wrong, unknown) {
			t.Errorf("wrong secret %d %s; unknown case %d %s: want the same 404", wrongStatus, wrong, unknownStatus, unknown)
		}
		for _, rq := range []struct{ method, path, key string }{
			{"GET", path, ""},
			{"DELETE", path + "/hashes", ""},
			{"GET", path, e.keys["provider"]}, // an API key is no secret
			{"DELETE", path + "/hashes/1", e.keys["centre"]},
		} {
			if status, _, b := send(t, e, rq.method, rq.path, rq.key, ""); status != 401 && status != 404 {
				t.Errorf("%s %s with %q: %d %s", rq.method, rq.path, rq.key, status, b)
			}
		}

		// A provider matching through the API, naming the list, is
		// counted once; without the list, the hash is not matched.
		e.poll(t)
		match := func(lists string) []byte {
			t.Helper()
			status, _, b := post(t, e, "/v1/match", e.keys["provider"], `{"items":[{"md5":"`+victimMD5(0)+`"}]`+lists+`}`)
			if status != 200 {
				t.Fatalf("match: %d %s", status, b)
			}
			return b
		}
		if b := match(""); bytes.Contains(b, []byte("victim-reported")) {
			t.Errorf("matched without naming the list: %s", b)
		}
		for range 2 {
			if b := match(`,"lists":["victim-reported"]`); !bytes.Contains(b, []byte(`"category":"unverified"`)) {
				t.Errorf("no unverified match: %s", b)
			}
		}
		// A hotline's look-up is no match at a provider.
		if status, _, b := post(t, e, "/v1/match", e.keys["hotline-de"], `{"items":[{"md5":"`+victimMD5(1)+`"}],"lists":["victim-reported"]}`); status != 200 ||
			!bytes.Contains(b, []byte("unverified")) {
			t.Errorf("the hotline's match: %d %s", status, b)
		}
		// One from a mirror, confirmed; a false positive is not counted.
		for _, fb := range []struct {
			hash    int
			verdict string
		}{{1, "confirmed"}, {2, "false_positive"}} {
			ind := storetest.Count(t, e.db, `SELECT indicator_id FROM victim_hashes WHERE case_id = $1 AND idx = $2`, rc.Case, rc.Hashes[fb.hash].ID)
			if status, _, b := post(t, e, "/v1/match-feedback", e.keys["provider"], fmt.Sprintf(`{"indicator":%d,"verdict":%q}`, ind, fb.verdict)); status != 202 {
				t.Fatalf("feedback: %d %s", status, b)
			}
		}
		// Only a provider's confirmation counts.
		ind := storetest.Count(t, e.db, `SELECT indicator_id FROM victim_hashes WHERE case_id = $1 AND idx = $2`, rc.Case, rc.Hashes[0].ID)
		if status, _, b := post(t, e, "/v1/match-feedback", e.keys["hotline-de"], fmt.Sprintf(`{"indicator":%d,"verdict":"confirmed"}`, ind)); status != 403 {
			t.Errorf("a hotline's feedback: %d %s", status, b)
		}
		if c := get().Counts; c.ProviderMatches != 2 {
			t.Errorf("counts %+v, want 2 provider matches", c)
		}

		// Adding: a repeat is left as it is; bad input changes nothing.
		status, _, b = send(t, e, "POST", path+"/hashes", rc.Secret, victimBody(2, 5, ""))
		if st := decodeAs[client.VictimCase](t, b); status != 200 || len(st.Hashes) != 5 || st.Counts.Hashes != 5 {
			t.Errorf("adding: %d %s", status, b)
		}
		if status, _, b := send(t, e, "POST", path+"/hashes", rc.Secret, `{"hashes":[{"signal":"md5","value":"zz"}]}`); status != 400 {
			t.Errorf("adding a bad hash: %d %s", status, b)
		}
		if status, _, _ := send(t, e, "POST", path+"/hashes", "wrong", victimBody(9, 10, "")); status != 404 {
			t.Errorf("adding with a wrong secret: %d", status)
		}
		if n := storetest.Count(t, e.db, `SELECT count(*) FROM victim_hashes`); n != 5 {
			t.Errorf("%d hashes stored, want 5", n)
		}

		// Withdrawing one, then all.
		for _, bad := range []string{"x", "0"} {
			if status, _, b := send(t, e, "DELETE", path+"/hashes/"+bad, rc.Secret, ""); status != 400 {
				t.Errorf("withdrawing hash %q: %d %s", bad, status, b)
			}
		}
		if status, _, b := send(t, e, "DELETE", path+"/hashes/9", rc.Secret, ""); status != 404 {
			t.Errorf("withdrawing hash 9 of 5: %d %s", status, b)
		}
		status, _, b = send(t, e, "DELETE", path+"/hashes/1", rc.Secret, "")
		st := decodeAs[client.VictimCase](t, b)
		if status != 200 || st.Hashes[0].State != "withdrawn" || st.Hashes[0].WithdrawnAt.IsZero() || st.Counts.Withdrawn != 1 ||
			st.Counts.ProviderMatches != 1 {
			t.Errorf("withdrawing hash 1: %d %s", status, b)
		}
		e.poll(t)
		if b := match(`,"lists":["victim-reported"]`); bytes.Contains(b, []byte("unverified")) {
			t.Errorf("the withdrawn hash still matches: %s", b)
		}
		status, _, b = send(t, e, "DELETE", path+"/hashes", rc.Secret, "")
		if st := decodeAs[client.VictimCase](t, b); status != 200 || st.Counts.Withdrawn != 5 || st.Counts.Hashes != 0 {
			t.Errorf("withdrawing all: %d %s", status, b)
		}
	})
}

// TestVictimLimits: opening and adding share the public limit, status and
// withdrawals the look-up limit, help services their own; bad requests
// count too.
func TestVictimLimits(t *testing.T) {
	e := start(t, storetest.OpenSQLite(t), false, func(s *httpapi.Server) {
		s.PublicLimit, s.LookupLimit, s.HelpLimit = ratelimit.NewPublic(1e-9, 2), ratelimit.NewPublic(1e-9, 1), ratelimit.NewPublic(1e-9, 1)
	})
	if status, _, b := post(t, e, "/v1/public/victim-cases", "", `{}`); status != 400 {
		t.Fatalf("first: %d %s", status, b)
	}
	status, _, b := post(t, e, "/v1/public/victim-cases", "", victimBody(0, 1, ""))
	if status != 201 {
		t.Fatalf("second: %d %s", status, b)
	}
	rc := decodeAs[client.VictimReceipt](t, b)
	path := "/v1/public/victim-cases/" + rc.Case
	if code, _, b := send(t, e, "GET", path, rc.Secret, ""); code != 200 {
		t.Errorf("a look-up within its limit: %d %s", code, b)
	}
	if code, _, b := send(t, e, "GET", "/v1/public/help-services", "", ""); code != 200 {
		t.Errorf("help services within their limit: %d %s", code, b)
	}
	for _, rq := range []struct{ method, path, body string }{
		{"POST", "/v1/public/victim-cases", victimBody(1, 2, "")},
		{"POST", path + "/hashes", victimBody(1, 2, "")},
		{"GET", path, ""},
		{"DELETE", path + "/hashes", ""},
		{"GET", "/v1/public/help-services", ""},
	} {
		code, h, b := send(t, e, rq.method, rq.path, rc.Secret, rq.body)
		if code != 429 || h.Get("Retry-After") == "" || h.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s %s over the limit: %d %v %s", rq.method, rq.path, code, h, b)
		}
	}
	if n := storetest.Count(t, e.db, `SELECT count(*) FROM victim_hashes WHERE withdrawn_at IS NULL`); n != 1 {
		t.Errorf("%d hashes, want 1", n)
	}
}

func TestHelpServicesAPI(t *testing.T) {
	e := start(t, storetest.OpenSQLite(t), false)
	for _, h := range []victim.HelpService{
		{Country: "BE", Language: "nl", Name: "Child Focus", URL: "https://childfocus.example/nl", Phone: "116000"},
		{Country: "BE", Language: "fr", Name: "Child Focus FR", URL: "https://childfocus.example/fr"},
		{Country: "FR", Language: "fr", Name: "e-Enfance", Phone: "3018"},
	} {
		if _, err := e.victims.AddHelpService(t.Context(), audit.AdminCLI, h); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		query  string
		status int
		want   string
	}{
		{"?country=be&language=fr", 200, "Child Focus FR,Child Focus"},
		{"?country=FR", 200, "e-Enfance"},
		{"?country=DE", 200, ""},
		{"", 200, "Child Focus FR,Child Focus,e-Enfance"}, // by country, language, name
		{"?country=Belgium", 400, ""},
		{"?language=french", 400, ""},
	} {
		status, h, b := send(t, e, "GET", "/v1/public/help-services"+tc.query, "", "")
		if status != tc.status {
			t.Errorf("%s: %d %s", tc.query, status, b)
			continue
		}
		if status != 200 {
			if h.Get("Content-Type") != "application/problem+json" {
				t.Errorf("%s: %s", tc.query, h.Get("Content-Type"))
			}
			continue
		}
		var names []string
		for _, s := range decodeAs[client.HelpServices](t, b).Services {
			names = append(names, s.Name)
		}
		if g := strings.Join(names, ","); g != tc.want {
			t.Errorf("%s: %q, want %q (%s)", tc.query, g, tc.want, b)
		}
	}
}
