package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/docs"
	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/hashing/filehash"
	"github.com/wardhq/ward/internal/hashing/synth"
	"github.com/wardhq/ward/internal/httpapi"
	"github.com/wardhq/ward/internal/platform/seal"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/reporting/report"
)

// maxTestFile is the servers' limit on a report's file in these tests,
// small enough to send one over it.
const maxTestFile = 1 << 20

// specRouter finds the operations of docs/openapi.yaml, to check answers
// against it.
var specRouter = sync.OnceValues(func() (routers.Router, error) {
	doc, err := openapi3.NewLoader().LoadFromData(docs.OpenAPI)
	if err != nil {
		return nil, err
	}
	doc.Servers = nil // match any host
	return gorillamux.NewRouter(doc)
})

// answer is a response, read.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// decode unmarshals the answer's body into v.
func (a answer) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("answer %d %q: %v", a.status, a.body, err)
	}
}

// status decodes a report's status from the answer, which must have the
// given HTTP status.
func (a answer) report(t *testing.T, status int) client.ReportStatus {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d: %s", a.status, status, a.body)
	}
	var st client.ReportStatus
	a.decode(t, &st)
	return st
}

// problem checks that the answer is a problem with the given status and
// returns it.
func (a answer) problem(t *testing.T, status int) client.Problem {
	t.Helper()
	if a.status != status || a.header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("status %d (%s), want a %d problem: %s", a.status, a.header.Get("Content-Type"), status, a.body)
	}
	var p client.Problem
	a.decode(t, &p)
	return p
}

// send makes a request with API key key and checks the answer against the
// API's description. header is pairs of names and values.
func (e *env) send(t *testing.T, method, path, key string, body io.Reader, header ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, e.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	switch {
	case method == http.MethodPut:
		req.Header.Set("Content-Type", "application/octet-stream")
	case body != nil:
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	router, err := specRouter()
	if err != nil {
		t.Fatal(err)
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		t.Fatalf("%s %s is not in the document: %v", method, path, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, header: resp.Header}
	if a.body, err = io.ReadAll(resp.Body); err != nil {
		t.Fatal(err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: a.status, Header: a.header, Body: io.NopCloser(bytes.NewReader(a.body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	})
	if err != nil {
		t.Errorf("%s %s: answer %d does not match the document: %v\n%s", method, path, a.status, err, a.body)
	}
	return a
}

// jsonOf marshals v.
func jsonOf(t *testing.T, v any) io.Reader {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(b)
}

// fileDraft returns a valid report with an item of kind file (index 0)
// and one of kind hash (index 1).
func fileDraft() report.Draft {
	at := time.Date(2026, 3, 2, 21, 40, 0, 0, time.FixedZone("", 3600))
	return report.Draft{
		IncidentTime: at,
		Type:         report.TypeNew,
		Items: []report.Item{
			{Kind: report.ItemFile, FileName: "IMG_0042.JPG", Viewed: true, Annotations: []report.Annotation{report.SelfGenerated}},
			{Kind: report.ItemHash, Hashes: report.Hashes{MD5: "1930bfa2fb0943e2205b5fdb1d3d422c"}},
		},
		User: report.User{ID: "u-77120", Emails: []string{"mike.77120@example.org"},
			IPCaptures: []report.IPCapture{{IP: "2001:db8:4711::42", Port: 47110, Time: at, Event: report.CaptureUpload}}},
		Service:   report.OnlineService{Type: report.Interpersonal},
		Awareness: report.Awareness{Method: report.UserReport},
		Urgency:   report.Urgency{Urgent: true, Reason: "A meeting with the child is planned."},
		Victims:   []report.Victim{{Age: &report.AgeRange{Min: 12, Max: 14}}},
	}
}

// hashDraft returns a valid report of known material with hashes only;
// n makes it differ from others.
func hashDraft(n int) report.Draft {
	return report.Draft{
		IncidentTime: time.Date(2026, 3, 1, 9, 14, 0, 0, time.UTC),
		Type:         report.TypeKnown,
		Items:        []report.Item{{Kind: report.ItemHash, Hashes: report.Hashes{SHA256: fmt.Sprintf("%064x", n+1)}}},
		Service:      report.OnlineService{Type: report.Hosting},
		Awareness:    report.Awareness{Method: report.AutomatedMatch},
	}
}

func testPNG(t *testing.T, seed uint64) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, synth.Image(256, 256, seed)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// handle plays the centre's part, which other packages write: it moves
// report id to state and records events as triage and forwarding do,
// sealing their details.
func (e *env) handle(t *testing.T, id string, state report.State, evs ...report.Event) {
	t.Helper()
	ctx := context.Background()
	for i, ev := range evs {
		if ev.Detail != nil {
			sealed, err := e.reports.SealDetail(ctx, id, ev.Detail)
			if err != nil {
				t.Fatal(err)
			}
			evs[i].Detail = sealed
		}
	}
	err := e.db.ReadWrite(ctx, func(ctx context.Context, tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE reports SET state = $1 WHERE id = $2`, string(state), id); err != nil {
			return err
		}
		for _, ev := range evs {
			var orgID any
			if ev.Org != 0 {
				orgID = ev.Org
			}
			if _, err := tx.Exec(ctx, `INSERT INTO report_events (report_id, at, kind, actor, org_id, detail_sealed)
				VALUES ($1, $2, $3, $4, $5, $6)`, id, ev.At.UTC(), string(ev.Kind), ev.Actor, orgID, ev.Detail); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func historyOf(st client.ReportStatus) string {
	var kinds []string
	for _, ev := range st.History {
		kinds = append(kinds, ev.Kind)
	}
	return strings.Join(kinds, " ")
}

// auditActions returns the actions of the latest audit entries, newest
// first.
func (e *env) auditActions(t *testing.T) string {
	t.Helper()
	entries, err := audit.NewLog(e.db, nil).Latest(context.Background(), 20)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, en := range entries {
		actions = append(actions, en.Action)
	}
	return strings.Join(actions, " ")
}

// TestReportFlow is a provider's report with a file: draft, upload,
// finish, status, with every step retried.
func TestReportFlow(t *testing.T) {
	engines(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		e := start(t, open(t), true)
		prov := e.keys["provider"]
		d := fileDraft()

		a := e.send(t, "POST", "/v1/reports", prov, jsonOf(t, d), "Idempotency-Key", "case-1")
		st := a.report(t, http.StatusCreated)
		if st.ID == "" || st.State != client.ReportDraft || st.CreatedAt.IsZero() || !st.FinishedAt.IsZero() ||
			len(st.Files) != 0 || len(st.History) != 0 || a.header.Get("Location") != "/v1/reports/"+st.ID {
			t.Fatalf("created %+v, Location %q", st, a.header.Get("Location"))
		}
		id := st.ID
		// A retry, in another but equivalent form, is the same report.
		d.User.IPCaptures[0].IP = "2001:0db8:4711:0:0:0:0:42"
		if again := e.send(t, "POST", "/v1/reports", prov, jsonOf(t, d), "Idempotency-Key", "case-1").report(t, http.StatusOK); again.ID != id {
			t.Errorf("retry created %s, want %s", again.ID, id)
		}
		// The same key with another report.
		d.AdditionalInfo = "another report"
		e.send(t, "POST", "/v1/reports", prov, jsonOf(t, d), "Idempotency-Key", "case-1").problem(t, http.StatusConflict)

		// Not finished without its file.
		p := e.send(t, "POST", "/v1/reports/"+id+"/finish", prov, nil).problem(t, http.StatusBadRequest)
		if len(p.Errors) != 1 || p.Errors[0].Pointer != "/items/0" {
			t.Errorf("finish without the file: %+v", p)
		}

		img := testPNG(t, 3)
		want := filehash.Bytes(img, filehash.Options{})
		a = e.send(t, "PUT", "/v1/reports/"+id+"/files/0", prov, bytes.NewReader(img))
		if a.status != http.StatusCreated {
			t.Fatalf("upload: %d %s", a.status, a.body)
		}
		var f client.ReportFile
		a.decode(t, &f)
		if f.Index != 0 || f.Size != int64(len(img)) || f.MD5 != want.MD5 || f.SHA256 != want.SHA256 ||
			f.PDQ != want.PDQ.String() || f.Quality != want.Quality || f.CreatedAt.IsZero() {
			t.Errorf("file %+v, want the hashes %+v", f, want)
		}
		// A retry of the upload, sent without its length.
		a = e.send(t, "PUT", "/v1/reports/"+id+"/files/0", prov, iotest.HalfReader(bytes.NewReader(img)))
		var f2 client.ReportFile
		if a.decode(t, &f2); a.status != http.StatusOK || f2 != f {
			t.Errorf("upload again: %d %+v", a.status, f2)
		}
		e.send(t, "PUT", "/v1/reports/"+id+"/files/0", prov, bytes.NewReader(testPNG(t, 4))).problem(t, http.StatusConflict)
		e.send(t, "PUT", "/v1/reports/"+id+"/files/1", prov, bytes.NewReader(img)).problem(t, http.StatusBadRequest) // kind hash
		e.send(t, "PUT", "/v1/reports/"+id+"/files/2", prov, bytes.NewReader(img)).problem(t, http.StatusBadRequest) // no item 2
		e.send(t, "PUT", "/v1/reports/"+id+"/files/x", prov, bytes.NewReader(img)).problem(t, http.StatusNotFound)
		e.send(t, "PUT", "/v1/reports/"+id+"/files/0", prov, strings.NewReader("")).problem(t, http.StatusBadRequest)

		st = e.send(t, "POST", "/v1/reports/"+id+"/finish", prov, nil).report(t, http.StatusOK)
		if st.State != client.ReportReceived || st.FinishedAt.IsZero() || historyOf(st) != "received" ||
			!st.History[0].At.Equal(st.FinishedAt) || len(st.Files) != 1 || st.Files[0] != f {
			t.Errorf("finished: %+v", st)
		}
		again := e.send(t, "POST", "/v1/reports/"+id+"/finish", prov, nil).report(t, http.StatusOK)
		if !again.FinishedAt.Equal(st.FinishedAt) || historyOf(again) != "received" {
			t.Errorf("finish again: %+v", again)
		}
		e.send(t, "POST", "/v1/reports/"+id+"/retract", prov, nil).problem(t, http.StatusConflict)
		e.send(t, "PUT", "/v1/reports/"+id+"/files/0", prov, bytes.NewReader(img)).problem(t, http.StatusConflict)

		got := e.send(t, "GET", "/v1/reports/"+id, prov, nil).report(t, http.StatusOK)
		if got.ID != id || got.State != client.ReportReceived || len(got.Files) != 1 || got.Files[0] != f ||
			!got.CreatedAt.Equal(st.CreatedAt) || !got.FinishedAt.Equal(st.FinishedAt) {
			t.Errorf("status %+v", got)
		}
		// The report's steps are in its history, not in the audit trail.
		if actions := e.auditActions(t); strings.Contains(actions, "report.") {
			t.Errorf("audit trail %q has report steps", actions)
		}
	})
}

// TestReportSubmitFinished is the hash-only reporters' one request.
func TestReportSubmitFinished(t *testing.T) {
	engines(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		e := start(t, open(t), true)
		prov := e.keys["provider"]
		a := e.send(t, "POST", "/v1/reports?finish=true", prov, jsonOf(t, hashDraft(1)), "Idempotency-Key", "h1")
		st := a.report(t, http.StatusCreated)
		if st.State != client.ReportReceived || st.FinishedAt.IsZero() || historyOf(st) != "received" || len(st.Files) != 0 {
			t.Fatalf("submitted %+v", st)
		}
		// What the answer said is what the report is.
		if got := e.send(t, "GET", a.header.Get("Location"), prov, nil).report(t, http.StatusOK); !equalStatus(got, st) {
			t.Errorf("status\n%+v\nwant\n%+v", got, st)
		}
		if again := e.send(t, "POST", "/v1/reports?finish=true", prov, jsonOf(t, hashDraft(1)), "Idempotency-Key", "h1").report(t, http.StatusOK); !equalStatus(again, st) {
			t.Errorf("retry:\n%+v\nwant\n%+v", again, st)
		}
		// A draft created with a key is finished by a retry with finish.
		draft := e.send(t, "POST", "/v1/reports", prov, jsonOf(t, hashDraft(2)), "Idempotency-Key", "h2").report(t, http.StatusCreated)
		fin := e.send(t, "POST", "/v1/reports?finish=true", prov, jsonOf(t, hashDraft(2)), "Idempotency-Key", "h2").report(t, http.StatusOK)
		if fin.ID != draft.ID || fin.State != client.ReportReceived {
			t.Errorf("draft finished by a retry: %+v", fin)
		}
		// Without a key, every request is a report.
		x := e.send(t, "POST", "/v1/reports?finish=1", prov, jsonOf(t, hashDraft(3))).report(t, http.StatusCreated)
		y := e.send(t, "POST", "/v1/reports?finish=1", prov, jsonOf(t, hashDraft(3))).report(t, http.StatusCreated)
		if x.ID == y.ID {
			t.Error("two reports without a key are one")
		}
		// Items of kind file need a draft.
		p := e.send(t, "POST", "/v1/reports?finish=true", prov, jsonOf(t, fileDraft())).problem(t, http.StatusBadRequest)
		if len(p.Errors) != 1 || p.Errors[0].Pointer != "/items/0/kind" {
			t.Errorf("finish with a file item: %+v", p)
		}
		e.send(t, "POST", "/v1/reports?finish=maybe", prov, jsonOf(t, hashDraft(4))).problem(t, http.StatusBadRequest)
	})
}

func equalStatus(a, b client.ReportStatus) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// TestReportConcurrentRetries sends the same report with the same key
// from many connections at once: one report is created.
func TestReportConcurrentRetries(t *testing.T) {
	engines(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		e := start(t, open(t), true)
		c := e.client(t, "provider")
		var (
			wg  sync.WaitGroup
			mu  sync.Mutex
			ids = map[string]int{}
		)
		for range 16 {
			wg.Go(func() {
				st, err := c.CreateReport(context.Background(), hashDraft(7), "same-key", true)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				ids[st.ID]++
			})
		}
		wg.Wait()
		if n := storetest.Count(t, e.db, `SELECT count(*) FROM reports`); len(ids) != 1 || n != 1 {
			t.Errorf("concurrent retries gave reports %v, %d stored", ids, n)
		}
	})
}

// TestReportInvalid checks that every error of a report is reported at
// once, and the other refusals of intake.
func TestReportInvalid(t *testing.T) {
	e := start(t, storetest.OpenSQLite(t), true)
	prov := e.keys["provider"]
	body := `{"incident_time":"yesterday","type":"old","items":[{"kind":"hash"},{"kind":"file","hashes":{"md5":"xyz"},"Url":"x"}],
		"reported_user":{"emails":["not an address"],"ip_captures":[{"ip":"999.1.1.1","port":70000}]},
		"service":{"type":"hosting"},"awareness":{"method":"other"},"urgency":{"urgent":true},"victims":[{"age_range":{"min":15,"max":30}}]}`
	p := e.send(t, "POST", "/v1/reports", prov, strings.NewReader(body)).problem(t, http.StatusBadRequest)
	var pointers []string
	for _, fe := range p.Errors {
		pointers = append(pointers, fe.Pointer)
	}
	// Decoding reports the fields of the wrong shape first, all of them.
	if want := "/incident_time /items/1/Url"; strings.Join(pointers, " ") != want {
		t.Errorf("shape errors %q, want %q", strings.Join(pointers, " "), want)
	}
	body = strings.NewReplacer(`"yesterday"`, `"2026-03-01T10:00:00Z"`, `,"Url":"x"`, ``).Replace(body)
	p = e.send(t, "POST", "/v1/reports", prov, strings.NewReader(body)).problem(t, http.StatusBadRequest)
	pointers = nil
	for _, fe := range p.Errors {
		if fe.Detail == "" {
			t.Errorf("error without detail: %+v", fe)
		}
		pointers = append(pointers, fe.Pointer)
	}
	want := "/type /items/0/hashes /items/1/hashes/md5 /reported_user/emails/0 /reported_user/ip_captures/0/ip " +
		"/reported_user/ip_captures/0/port /reported_user/ip_captures/0/event /awareness/detail /urgency/reason /victims/0/age_range"
	if strings.Join(pointers, " ") != want {
		t.Errorf("pointers\n%q, want\n%q", strings.Join(pointers, " "), want)
	}

	for _, tc := range []struct {
		name, body, key string
		status          int
	}{
		{"not JSON", `{"type":`, "", http.StatusBadRequest},
		{"empty", ``, "", http.StatusBadRequest},
		{"array", `[]`, "", http.StatusBadRequest},
		{"bad key", `{}`, "a key with spaces", http.StatusBadRequest},
		{"huge", `{"additional_info":"` + strings.Repeat("x", 5<<20) + `"}`, "", http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.send(t, "POST", "/v1/reports", prov, strings.NewReader(tc.body), "Idempotency-Key", tc.key).problem(t, tc.status)
		})
	}
	e.send(t, "POST", "/v1/reports", prov, jsonOf(t, hashDraft(1)), "Content-Type", "text/plain").problem(t, http.StatusBadRequest)

	// Nothing refused left anything behind.
	for _, table := range []string{"reports", "report_events", "jobs"} {
		if n := storetest.Count(t, e.db, `SELECT count(*) FROM `+table); n != 0 {
			t.Errorf("%d rows in %s after refused reports", n, table)
		}
	}
}

// TestReportFileTooLarge checks the limit on uploads, whether the client
// says the size or not.
func TestReportFileTooLarge(t *testing.T) {
	engines(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		e := start(t, open(t), true)
		prov := e.keys["provider"]
		id := e.send(t, "POST", "/v1/reports", prov, jsonOf(t, fileDraft())).report(t, http.StatusCreated).ID
		big := make([]byte, maxTestFile+1)
		for _, body := range []io.Reader{bytes.NewReader(big), iotest.HalfReader(bytes.NewReader(big))} {
			p := e.send(t, "PUT", "/v1/reports/"+id+"/files/0", prov, body).problem(t, http.StatusRequestEntityTooLarge)
			if !strings.Contains(p.Detail, fmt.Sprint(maxTestFile)) {
				t.Errorf("problem %+v does not say the limit", p)
			}
		}
		// A file at the limit is taken.
		e.send(t, "PUT", "/v1/reports/"+id+"/files/0", prov, bytes.NewReader(big[1:])).report(t, http.StatusCreated)
	})
}

// TestReportAccess checks that a provider reaches only its own reports,
// and other organisations none.
func TestReportAccess(t *testing.T) {
	engines(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		ctx := context.Background()
		e := start(t, open(t), true)
		orgs := org.NewService(e.db)
		if _, err := orgs.Create(ctx, "other-provider", org.Provider, "NL"); err != nil {
			t.Fatal(err)
		}
		other, _, err := orgs.CreateKey(ctx, "other-provider", org.KeyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		prov := e.keys["provider"]
		id := e.send(t, "POST", "/v1/reports", prov, jsonOf(t, fileDraft()), "Idempotency-Key", "k").report(t, http.StatusCreated).ID
		img := testPNG(t, 1)
		for _, tc := range []struct {
			method, path string
			body         func() io.Reader
		}{
			{"GET", "/v1/reports/" + id, nil},
			{"PUT", "/v1/reports/" + id + "/files/0", func() io.Reader { return bytes.NewReader(img) }},
			{"POST", "/v1/reports/" + id + "/finish", nil},
			{"POST", "/v1/reports/" + id + "/retract", nil},
			{"POST", "/v1/reports/" + id + "/info", func() io.Reader { return strings.NewReader(`{"message":"hello"}`) }},
		} {
			body := func() io.Reader {
				if tc.body == nil {
					return nil
				}
				return tc.body()
			}
			e.send(t, tc.method, tc.path, other, body()).problem(t, http.StatusNotFound)
			for _, name := range []string{"hotline-de", "centre"} {
				e.send(t, tc.method, tc.path, e.keys[name], body()).problem(t, http.StatusForbidden)
			}
		}
		e.send(t, "POST", "/v1/reports", e.keys["hotline-de"], jsonOf(t, hashDraft(1))).problem(t, http.StatusForbidden)
		// The same key is another provider's own.
		if st := e.send(t, "POST", "/v1/reports", other, jsonOf(t, fileDraft()), "Idempotency-Key", "k").report(t, http.StatusCreated); st.ID == id {
			t.Error("another provider's report with the same key is the same report")
		}
		// Nothing of that changed the report.
		if st := e.send(t, "GET", "/v1/reports/"+id, prov, nil).report(t, http.StatusOK); st.State != client.ReportDraft || len(st.Files) != 0 {
			t.Errorf("after the others' attempts: %+v", st)
		}
	})
}

func TestReportRetract(t *testing.T) {
	engines(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		e := start(t, open(t), true)
		prov := e.keys["provider"]
		id := e.send(t, "POST", "/v1/reports", prov, jsonOf(t, fileDraft())).report(t, http.StatusCreated).ID
		st := e.send(t, "POST", "/v1/reports/"+id+"/retract", prov, nil).report(t, http.StatusOK)
		if st.State != client.ReportRetracted || st.RetractedAt.IsZero() || historyOf(st) != "retracted" {
			t.Errorf("retracted: %+v", st)
		}
		if again := e.send(t, "POST", "/v1/reports/"+id+"/retract", prov, nil).report(t, http.StatusOK); !again.RetractedAt.Equal(st.RetractedAt) {
			t.Errorf("retract again: %+v", again)
		}
		e.send(t, "POST", "/v1/reports/"+id+"/finish", prov, nil).problem(t, http.StatusConflict)
		e.send(t, "POST", "/v1/reports/nosuchreport/retract", prov, nil).problem(t, http.StatusNotFound)
		if actions := e.auditActions(t); !strings.HasPrefix(actions, "report.retract report.retract") {
			t.Errorf("audit trail %q lacks the retractions", actions)
		}
	})
}

// TestReportInfoAnswer is the provider's answer to the centre's request
// for more information.
func TestReportInfoAnswer(t *testing.T) {
	engines(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		ctx := context.Background()
		e := start(t, open(t), true)
		prov := e.keys["provider"]
		id := e.send(t, "POST", "/v1/reports?finish=true", prov, jsonOf(t, hashDraft(1))).report(t, http.StatusCreated).ID
		reply := func(msg string) answer {
			return e.send(t, "POST", "/v1/reports/"+id+"/info", prov, jsonOf(t, client.ReportInfoAnswer{Message: msg}))
		}
		// Not asked yet.
		reply("unasked").problem(t, http.StatusConflict)

		asked := time.Now().UTC().Truncate(time.Second)
		e.handle(t, id, report.StateInfoRequested,
			report.Event{Kind: report.EventQueued, At: asked.Add(-time.Minute), Actor: audit.System},
			report.Event{Kind: report.EventInfoRequested, At: asked, Actor: "user:7", Detail: []byte("Which IP address uploaded it?")})
		st := e.send(t, "GET", "/v1/reports/"+id, prov, nil).report(t, http.StatusOK)
		if st.State != client.ReportInfoRequested || st.InformationRequested != "Which IP address uploaded it?" ||
			historyOf(st) != "received queued info_requested" || !st.History[2].At.Equal(asked) {
			t.Errorf("asked: %+v", st)
		}

		for _, msg := range []string{"", strings.Repeat("x", report.MaxAnswer+1), "bell\a"} {
			if p := reply(msg).problem(t, http.StatusBadRequest); len(p.Errors) != 1 || p.Errors[0].Pointer != "/message" {
				t.Errorf("answer %.20q: %+v", msg, p)
			}
		}
		e.send(t, "POST", "/v1/reports/"+id+"/info", prov, strings.NewReader(`{"text":"x"}`)).problem(t, http.StatusBadRequest)

		msg := "203.0.113.7, port 51234.\nThe account is closed."
		st = reply(msg).report(t, http.StatusOK)
		if st.State != client.ReportReceived || historyOf(st) != "received queued info_requested info_provided" {
			t.Errorf("answered: %+v", st)
		}
		reply(msg).problem(t, http.StatusConflict)

		// The answer is in the report's history, sealed, for the analyst.
		evs, err := e.reports.Events(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		last := evs[len(evs)-1]
		if last.Kind != report.EventInfoProvided || string(last.Detail) != msg {
			t.Errorf("last event %+v", last)
		}
		var sealed []byte
		err = e.db.ReadOnly(ctx, func(ctx context.Context, tx *store.Tx) error {
			return tx.QueryRow(ctx, `SELECT detail_sealed FROM report_events WHERE id = $1`, last.ID).Scan(&sealed)
		})
		if err != nil || bytes.Contains(sealed, []byte("203.0.113.7")) {
			t.Errorf("the answer is stored in clear (%v)", err)
		}
		if actions := e.auditActions(t); !strings.HasPrefix(actions, "report.info") {
			t.Errorf("audit trail %q lacks the answer", actions)
		}
	})
}

// TestReportStatusView checks what a provider sees of the centre's
// handling: decisions and their reasons, the authorities in general
// terms, never who handled it.
func TestReportStatusView(t *testing.T) {
	engines(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		ctx := context.Background()
		e := start(t, open(t), true)
		prov := e.keys["provider"]
		orgs := org.NewService(e.db)
		var authorities []org.Organisation
		for _, o := range []struct {
			name    string
			kind    org.Kind
			country string
		}{{"BKA Referat SO 12", org.LEA, "DE"}, {"LKA Berlin", org.LEA, "DE"}, {"Europol EC3", org.Europol, "NL"}} {
			created, err := orgs.Create(ctx, o.name, o.kind, o.country)
			if err != nil {
				t.Fatal(err)
			}
			authorities = append(authorities, created)
		}

		id := e.send(t, "POST", "/v1/reports?finish=true", prov, jsonOf(t, hashDraft(1))).report(t, http.StatusCreated).ID
		t0 := time.Now().UTC().Truncate(time.Second)
		e.handle(t, id, report.StateForwarded,
			report.Event{Kind: report.EventQueued, At: t0, Actor: audit.System},
			report.Event{Kind: report.EventForwarded, At: t0.Add(time.Hour), Actor: "user:7", Detail: []byte("analyst notes")},
			report.Event{Kind: report.EventRouted, At: t0.Add(time.Hour), Actor: audit.System, Org: authorities[0].ID},
			report.Event{Kind: report.EventRouted, At: t0.Add(time.Hour), Actor: audit.System, Org: authorities[1].ID},
			report.Event{Kind: report.EventRouted, At: t0.Add(time.Hour), Actor: audit.System, Org: authorities[2].ID},
			report.Event{Kind: report.EventAcknowledged, At: t0.Add(2 * time.Hour), Actor: "key:ab12", Org: authorities[0].ID},
			report.Event{Kind: report.EventFeedback, At: t0.Add(3 * time.Hour), Actor: "key:ab12", Org: authorities[0].ID, Detail: []byte("suspect identified")})
		until := t0.Add(90 * 24 * time.Hour)
		setNonDisclosure := func(at time.Time) {
			err := e.db.ReadWrite(ctx, func(ctx context.Context, tx *store.Tx) error {
				_, err := tx.Exec(ctx, `UPDATE reports SET non_disclosure_until = $1 WHERE id = $2`, at, id)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		setNonDisclosure(until)

		a := e.send(t, "GET", "/v1/reports/"+id, prov, nil)
		st := a.report(t, http.StatusOK)
		if st.State != client.ReportForwarded || !st.ForwardedAt.Equal(t0.Add(time.Hour)) ||
			!slices.Equal(st.ForwardedTo, []string{"a law-enforcement authority in DE", "Europol"}) ||
			!st.DoNotInformUserUntil.Equal(until) || historyOf(st) != "received queued forwarded" {
			t.Errorf("forwarded: %+v", st)
		}
		for _, secret := range []string{"BKA", "LKA", "EC3", "user:7", "key:ab12", "analyst notes", "suspect identified",
			fmt.Sprintf(`:%d`, authorities[0].ID)} {
			if bytes.Contains(a.body, []byte(secret)) {
				t.Errorf("the status shows %q: %s", secret, a.body)
			}
		}
		// A request not to inform the user that has run out is not shown.
		setNonDisclosure(time.Now().Add(-time.Minute))
		if st := e.send(t, "GET", "/v1/reports/"+id, prov, nil).report(t, http.StatusOK); !st.DoNotInformUserUntil.IsZero() {
			t.Errorf("past non-disclosure shown: %v", st.DoNotInformUserUntil)
		}

		// Manifestly unfounded, with the reasons; and bundled.
		u := e.send(t, "POST", "/v1/reports?finish=true", prov, jsonOf(t, hashDraft(2))).report(t, http.StatusCreated).ID
		e.handle(t, u, report.StateUnfounded,
			report.Event{Kind: report.EventQueued, At: t0, Actor: audit.System},
			report.Event{Kind: report.EventUnfounded, At: t0.Add(time.Hour), Actor: "user:9", Detail: []byte("The person shown is an adult.")})
		st = e.send(t, "GET", "/v1/reports/"+u, prov, nil).report(t, http.StatusOK)
		if st.State != client.ReportUnfounded || st.UnfoundedReasons != "The person shown is an adult." ||
			historyOf(st) != "received queued unfounded" || st.ForwardedTo != nil || !st.ForwardedAt.IsZero() {
			t.Errorf("unfounded: %+v", st)
		}
		b := e.send(t, "POST", "/v1/reports?finish=true", prov, jsonOf(t, hashDraft(3))).report(t, http.StatusCreated).ID
		e.handle(t, b, report.StateBundled, report.Event{Kind: report.EventBundled, At: t0, Actor: audit.System})
		if st := e.send(t, "GET", "/v1/reports/"+b, prov, nil).report(t, http.StatusOK); st.State != client.ReportBundled || historyOf(st) != "received bundled" {
			t.Errorf("bundled: %+v", st)
		}
		// Queued is received, to the provider.
		q := e.send(t, "POST", "/v1/reports?finish=true", prov, jsonOf(t, hashDraft(4))).report(t, http.StatusCreated).ID
		e.handle(t, q, report.StateQueued, report.Event{Kind: report.EventQueued, At: t0, Actor: audit.System})
		if st := e.send(t, "GET", "/v1/reports/"+q, prov, nil).report(t, http.StatusOK); st.State != client.ReportReceived {
			t.Errorf("queued: %+v", st)
		}
	})
}

// TestReportClient runs the Go client's report calls against the server.
func TestReportClient(t *testing.T) {
	ctx := context.Background()
	e := start(t, storetest.OpenSQLite(t), true)
	c := e.client(t, "provider")
	st, err := c.CreateReport(ctx, fileDraft(), "client-1", false)
	if err != nil || st.State != client.ReportDraft {
		t.Fatalf("CreateReport: %+v %v", st, err)
	}
	img := testPNG(t, 5)
	// The reader is read from where it is, also when retried.
	r := bytes.NewReader(append([]byte("skip"), img...))
	r.Seek(4, io.SeekStart)
	f, err := c.UploadReportFile(ctx, st.ID, 0, r)
	if err != nil || f.SHA256 != filehash.Bytes(img, filehash.Options{}).SHA256 {
		t.Fatalf("UploadReportFile: %+v %v", f, err)
	}
	if st, err = c.FinishReport(ctx, st.ID); err != nil || st.State != client.ReportReceived || len(st.Files) != 1 {
		t.Fatalf("FinishReport: %+v %v", st, err)
	}
	if got, err := c.ReportStatus(ctx, st.ID); err != nil || !equalStatus(*got, *st) {
		t.Errorf("ReportStatus: %+v %v", got, err)
	}
	_, err = c.AnswerReportInfo(ctx, st.ID, "unasked")
	problemOf(t, err, http.StatusConflict)
	e.handle(t, st.ID, report.StateInfoRequested, report.Event{Kind: report.EventInfoRequested, At: time.Now(), Actor: "user:7", Detail: []byte("?")})
	if st, err = c.AnswerReportInfo(ctx, st.ID, "!"); err != nil || st.State != client.ReportReceived {
		t.Errorf("AnswerReportInfo: %+v %v", st, err)
	}
	_, err = c.RetractReport(ctx, st.ID)
	problemOf(t, err, http.StatusConflict)
	_, err = c.CreateReport(ctx, json.RawMessage(`{"type":"old"}`), "", true)
	if p := problemOf(t, err, http.StatusBadRequest); len(p.Errors) < 4 {
		t.Errorf("invalid report: %+v", p)
	}
}

// BenchmarkReportSubmit measures intake of hash-only reports in one
// request each, from parallel connections, as high-volume reporters send
// them; the target is 1000 reports/s on two cores.
func BenchmarkReportSubmit(b *testing.B) {
	ctx := context.Background()
	db := storetest.OpenSQLite(b)
	orgs := org.NewService(db)
	if _, err := orgs.Create(ctx, "provider", org.Provider, "IE"); err != nil {
		b.Fatal(err)
	}
	key, _, err := orgs.CreateKey(ctx, "provider", org.KeyOptions{})
	if err != nil {
		b.Fatal(err)
	}
	api := &httpapi.Server{Orgs: orgs, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Audit: audit.NewLog(db, nil), Reports: report.NewService(db.Reports(), seal.NewSealer(seal.NewKeyring(), db)), Directory: orgs}
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	c, err := client.New(srv.URL, key, client.WithRetries(0),
		client.WithHTTPClient(&http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}))
	if err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(n.Add(1))
			if _, err := c.CreateReport(ctx, hashDraft(i), fmt.Sprint("bench-", i), true); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reports/s")
}

// TestDecodeBudget checks that hash-match and report uploads share the
// decode budget: while it is in use, both answer 503 with Retry-After and
// store nothing; an image whose decode needs more than the whole budget is
// a 413 to hash-match and is stored with its digests only as a report file.
func TestDecodeBudget(t *testing.T) {
	e := start(t, storetest.OpenSQLite(t), true)
	prov := e.keys["provider"]
	small := testPNG(t, 5)
	var buf bytes.Buffer
	png.Encode(&buf, synth.Image(1000, 1000, 6)) // 4 MB decoded, 1 megapixel
	large := buf.Bytes()
	d := fileDraft()
	d.Items = append(d.Items, report.Item{Kind: report.ItemFile, FileName: "large.png"})
	id := e.send(t, "POST", "/v1/reports", prov, jsonOf(t, d)).report(t, http.StatusCreated).ID

	release, err := e.decode.Acquire(context.Background(), testDecodeMemory)
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range []struct{ method, path string }{{"POST", "/v1/hash-match"}, {"PUT", "/v1/reports/" + id + "/files/0"}} {
		a := e.send(t, req.method, req.path, prov, bytes.NewReader(small), "Content-Type", "image/png")
		if a.problem(t, http.StatusServiceUnavailable); a.header.Get("Retry-After") == "" {
			t.Errorf("%s %s: 503 without Retry-After", req.method, req.path)
		}
	}
	if st := e.send(t, "GET", "/v1/reports/"+id, prov, nil).report(t, http.StatusOK); len(st.Files) != 0 {
		t.Errorf("files stored while busy: %+v", st.Files)
	}
	if s := e.decode.Stats(); s.Refused != 2 || s.Running != 1 || s.Waiting != 0 {
		t.Errorf("stats %+v", s)
	}
	release()

	e.send(t, "POST", "/v1/hash-match", prov, bytes.NewReader(small), "Content-Type", "image/png").report(t, http.StatusOK)
	e.send(t, "PUT", "/v1/reports/"+id+"/files/0", prov, bytes.NewReader(small)).report(t, http.StatusCreated)
	e.send(t, "POST", "/v1/hash-match", prov, bytes.NewReader(large), "Content-Type", "image/png").problem(t, http.StatusRequestEntityTooLarge)
	var f client.ReportFile
	e.send(t, "PUT", "/v1/reports/"+id+"/files/2", prov, bytes.NewReader(large)).decode(t, &f)
	if f.SHA256 == "" || f.PDQ != "" {
		t.Errorf("large file %+v, want digests and no PDQ", f)
	}
	if s := e.decode.Stats(); s.InUse != 0 || s.TooLarge != 2 {
		t.Errorf("stats %+v", s)
	}
}

// TestBodyBudget: the bodies of uploads and hash-match requests are held
// in memory, so they are admitted by a budget of their own before they are
// read. While it is full, both answer 503 with Retry-After at once, without
// reading the body: here the client sends 1 KiB of a declared 1 MiB and
// then nothing, which a server reading the body would wait on.
func TestBodyBudget(t *testing.T) {
	e := start(t, storetest.OpenSQLite(t), true)
	prov := e.keys["provider"]
	id := e.send(t, "POST", "/v1/reports", prov, jsonOf(t, fileDraft())).report(t, http.StatusCreated).ID
	release, err := e.bodies.Acquire(context.Background(), testBodyMemory)
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range []struct{ method, path string }{{"POST", "/v1/hash-match"}, {"PUT", "/v1/reports/" + id + "/files/0"}} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		pr, pw := io.Pipe()
		go func() {
			pw.Write(make([]byte, 1<<10)) // and no more, until the wait is over
			<-ctx.Done()
			pw.CloseWithError(ctx.Err())
		}()
		r, err := http.NewRequestWithContext(ctx, req.method, e.url+req.path, pr)
		if err != nil {
			t.Fatal(err)
		}
		r.ContentLength = maxTestFile
		r.Header.Set("Authorization", "Bearer "+prov)
		r.Header.Set("Content-Type", "application/octet-stream")
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			cancel()
			t.Errorf("%s %s: %v", req.method, req.path, err)
			continue
		}
		resp.Body.Close()
		cancel()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s %s: %s, Retry-After %q; want 503 with Retry-After", req.method, req.path, resp.Status, resp.Header.Get("Retry-After"))
		}
	}
	if s := e.bodies.Stats(); s.Refused != 2 {
		t.Errorf("stats %+v", s)
	}
	release()
	e.send(t, "PUT", "/v1/reports/"+id+"/files/0", prov, bytes.NewReader(testPNG(t, 5))).report(t, http.StatusCreated)
	if s := e.bodies.Stats(); s.InUse != 0 {
		t.Errorf("body memory still held after the request: %+v", s)
	}
}
