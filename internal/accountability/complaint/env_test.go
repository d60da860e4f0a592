package complaint_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/core/coretest"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/accountability/complaint"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/platform/seal"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/reporting/forward"
	"github.com/wardhq/ward/internal/reporting/report"
	"github.com/wardhq/ward/internal/takedown"
)

// receiver is a webhook on loopback that keeps what it is sent.
type receiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []received
}

type received struct {
	body   []byte
	header http.Header
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{b, r.Header.Clone()})
		rc.mu.Unlock()
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) all() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// quarantiner is a small real Quarantiner that records its calls, once
// each, as package quarantine's idempotent one quarantines an indicator
// once.
type quarantiner struct {
	mu    sync.Mutex
	calls []string
}

func (q *quarantiner) QuarantineForComplaint(_ context.Context, ind int64, complaintID string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if c := fmt.Sprintf("%d/%s", ind, complaintID); !slices.Contains(q.calls, c) {
		q.calls = append(q.calls, c)
	}
	return nil
}

func (q *quarantiner) all() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]string(nil), q.calls...)
}

var start = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// env is a complaint service on a database of one engine, with a
// provider (webhook: provHook), another provider, a host, an authority
// with a webhook (leaHook) and Europol, which pulls.
type env struct {
	ctx      context.Context
	db       *store.DB
	svc      *complaint.Service
	clock    *coretest.Clock
	key      ed25519.PrivateKey
	sealer   *seal.Sealer
	reports  *report.Service
	fwd      *forward.Service
	quar     *quarantiner
	provHook *receiver
	leaHook  *receiver

	centre, provider, other, host, lea, europol, hotlineNL, hotlineDE org.Organisation
}

// engines runs test on a new database of each engine, in parallel.
func engines(t *testing.T, test func(t *testing.T, e *env)) {
	storetest.OnEachEngine(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		t.Parallel()
		test(t, newEnv(t, open(t)))
	})
}

func newEnv(t *testing.T, db *store.DB) *env {
	t.Helper()
	ctx := t.Context()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{ctx: ctx, db: db, clock: coretest.NewClock(start), key: key, provHook: newReceiver(t), leaHook: newReceiver(t)}
	e.sealer = seal.NewSealer(seal.NewKeyring(), db)
	e.reports = report.NewService(db.Reports(), e.sealer)
	e.fwd = forward.NewService(db.Forward(), e.reports, key)
	e.fwd.AllowPrivateWebhooks()
	e.fwd.Clock = e.clock.Now
	e.quar = &quarantiner{}
	storetest.CreateOrgs(t, db,
		storetest.NewOrg(&e.centre, "Centre", org.Centre, "BE"),
		storetest.NewOrg(&e.provider, "Photos", org.Provider, "IE"),
		storetest.NewOrg(&e.other, "Other Provider", org.Provider, "FR"),
		storetest.NewOrg(&e.host, "Hosting NL", org.Host, "NL"),
		storetest.NewOrg(&e.lea, "BKA", org.LEA, "DE"),
		storetest.NewOrg(&e.europol, "Europol", org.Europol, "NL"),
		storetest.NewOrg(&e.hotlineNL, "Hotline NL", org.Hotline, "NL"),
		storetest.NewOrg(&e.hotlineDE, "Hotline DE", org.Hotline, "DE"),
	)
	for o, hook := range map[int64]string{e.provider.ID: e.provHook.srv.URL + "/complaints?token=s3cret", e.lea.ID: e.leaHook.srv.URL + "/ward"} {
		if err := forward.SetWebhook(ctx, db, e.sealer, o, hook); err != nil {
			t.Fatal(err)
		}
	}
	e.svc = complaint.New(db.Complaints(), complaint.Options{Sealer: e.sealer, Key: key, Audit: audit.NewLog(db, nil),
		Clock: e.clock.Now, Quarantiner: e.quar, AllowPrivateWebhooks: true})
	return e
}

func (e *env) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	err := e.db.ReadWrite(e.ctx, func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.Exec(ctx, q, args...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// reviewer is a reviewer of the centre.
func (e *env) reviewer() complaint.Reviewer {
	return complaint.Reviewer{Actor: "user:7", Org: e.centre.ID, OrgName: e.centre.Name, Scope: policy.AllData}
}

// key is o acting through an API key.
func key(o org.Organisation) org.Principal {
	p := o.Principal()
	p.KeyID = "k" + o.Name[:1]
	return p
}

// indicators makes n active indicators of the known list, attested by
// the two hotlines, and returns their IDs.
func (e *env) indicators(t *testing.T, n int) []int64 {
	t.Helper()
	inds := indicator.NewService(e.db)
	var subs []indicator.Submission
	for i := range n {
		subs = append(subs, indicator.Submission{Signal: indicator.SHA256, Value: fmt.Sprintf("%064x", 0xc0ffee00+i), Category: indicator.A1})
	}
	var ids []int64
	for _, o := range []org.Organisation{e.hotlineNL, e.hotlineDE} {
		res, err := inds.Submit(e.ctx, indicator.Known, o.Principal(), subs)
		if err != nil {
			t.Fatal(err)
		}
		ids = ids[:0]
		for _, r := range res {
			ids = append(ids, r.IndicatorID)
		}
	}
	return ids
}

// Personal data of the test report, which no correction may carry.
const reportEmail = "offender.4711@example.org"

// report makes a finished report of the provider with Idempotency-Key
// idem, whose item 0 matched inds (as triage records it), and returns its
// ID.
func (e *env) report(t *testing.T, idem string, inds ...int64) string {
	t.Helper()
	at := start.Add(-48 * time.Hour)
	d := report.Draft{
		IncidentTime: at, Type: report.TypeKnown,
		Items:     []report.Item{{Kind: report.ItemFile, FileName: "IMG_1.JPG"}},
		User:      report.User{ID: "u-1", Emails: []string{reportEmail}, Country: "DE"},
		Service:   report.OnlineService{Type: report.Hosting},
		Awareness: report.Awareness{Method: report.AutomatedMatch},
	}
	r, _, err := e.reports.CreateDraft(e.ctx, e.provider.ID, idem, d)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.reports.AddFile(e.ctx, e.provider.ID, r.ID, 0, []byte("the file 4711")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.reports.Finish(e.ctx, e.provider.ID, r.ID); err != nil {
		t.Fatal(err)
	}
	for _, ind := range inds {
		e.exec(t, `INSERT INTO report_matches (report_id, item_index, indicator_id, list, signal, category, distance)
			VALUES ($1, 0, $2, 'known', 'sha256', 'A1', 0)`, r.ID, ind)
	}
	return r.ID
}

// forwarded forwards report id and routes it (to the authority of DE and
// Europol).
func (e *env) forwarded(t *testing.T, id string) {
	t.Helper()
	storetest.SetReportState(t, e.db, id, report.StateForwarded)
	if err := e.fwd.Route(e.ctx, id); err != nil {
		t.Fatal(err)
	}
}

// noticed makes takedown case caseID, whose page (item 0) and embedded
// image (item 1, matching inds) are illegal and noticed to the host by
// notice noticeID, and item 2 not illegal, matching notIllegal.
func (e *env) noticed(t *testing.T, caseID, noticeID string, inds []int64, notIllegal int64) {
	t.Helper()
	err := e.db.Takedown().Update(e.ctx, func(ctx context.Context, tx takedown.Tx) error {
		r := takedown.Record{Case: takedown.Case{ID: caseID, URL: "https://files.example/" + caseID, ReceivedAt: start}}
		if _, _, _, err := tx.AddCase(ctx, r); err != nil {
			return err
		}
		if err := tx.SetFetched(ctx, takedown.Case{ID: caseID, State: takedown.Noticed, FetchedAt: start,
			Hosting: takedown.Hosting{Country: "NL", Host: e.host.ID}}); err != nil {
			return err
		}
		var ms []takedown.Match
		for _, ind := range inds {
			ms = append(ms, takedown.Match{Indicator: ind, List: indicator.Known, Signal: indicator.SHA256, Category: indicator.A1})
		}
		items := []struct {
			it takedown.Item
			cl takedown.Classification
		}{
			{takedown.Item{Index: 0, URL: r.URL}, takedown.Baseline},
			{takedown.Item{Index: 1, URL: r.URL + ".jpg", Matches: ms}, takedown.Baseline},
			{takedown.Item{Index: 2, URL: r.URL + ".png", Matches: []takedown.Match{{Indicator: notIllegal, List: indicator.Known,
				Signal: indicator.SHA256, Category: indicator.A1}}}, takedown.NotIllegal},
		}
		for _, x := range items {
			if err := tx.AddItem(ctx, caseID, x.it, nil); err != nil {
				return err
			}
			if err := tx.Classify(ctx, caseID, x.it.Index, x.cl, false, time.Time{}); err != nil {
				return err
			}
		}
		return tx.AddNotice(ctx, takedown.Notice{ID: noticeID, Case: caseID, Host: e.host.ID, Channel: takedown.ByWebhook,
			URLs: []string{r.URL + ".jpg"}, Classification: takedown.Baseline, CreatedAt: start})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// file files f as the public and fails the test on error.
func (e *env) file(t *testing.T, f complaint.Filing) complaint.Receipt {
	t.Helper()
	rc, err := e.svc.File(e.ctx, org.Principal{}, f)
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

// pending returns the refs of the pending jobs of kind.
func (e *env) pending(t *testing.T, kind string) []string {
	t.Helper()
	return storetest.Strings(t, e.db, `SELECT ref FROM jobs WHERE kind = $1 AND done_at IS NULL AND dead_at IS NULL ORDER BY id`, kind)
}

// verify checks a signature header over body in domain.
func verify(t *testing.T, pub ed25519.PublicKey, domain string, body []byte, header string) {
	t.Helper()
	b64, ok := strings.CutPrefix(header, "ed25519=")
	sig, err := base64.StdEncoding.DecodeString(b64)
	if !ok || err != nil || !ed25519.Verify(pub, append([]byte(domain), body...), sig) {
		t.Errorf("signature %q does not verify over %s", header, body)
	}
}
