package translog_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/accountability/quarantine"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/indicator/translog"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
)

// TestStore runs the logs through the store, on a new database of each
// engine per subtest, in parallel.
func TestStore(t *testing.T) {
	storetest.OnEachEngine(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		for _, tc := range []struct {
			name string
			fn   func(t *testing.T, e *env)
		}{
			{"FollowsFeed", testFollowsFeed},
			{"ConcurrentChanges", testConcurrentChanges},
			{"RolledBack", testRolledBack},
			{"FailedLogFailsChange", testFailedLogFailsChange},
			{"CatchUp", testCatchUp},
			{"NewList", testNewList},
			{"Check", testCheck},
			{"Checkpoint", testServiceCheckpoint},
			{"Cosignatures", testCosignatures},
			{"AuditLog", testAuditLog},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				db := open(t)
				e := &env{ctx: t.Context(), db: db, orgs: org.NewService(db), ind: indicator.NewService(db)}
				var err error
				if e.logs, err = translog.New(db.Translog(), testKey, "ward.example.org"); err != nil {
					t.Fatal(err)
				}
				e.de = e.org(t, "hotline-de", org.Hotline, "DE")
				e.nl = e.org(t, "hotline-nl", org.Hotline, "NL")
				e.centre = e.org(t, "centre", org.Centre, "BE")
				tc.fn(t, e)
			})
		}
	})
}

type env struct {
	ctx            context.Context
	db             *store.DB
	orgs           *org.Service
	ind            *indicator.Service
	logs           *translog.Service
	de, nl, centre org.Principal
}

func (e *env) org(t *testing.T, name string, kind org.Kind, country string) org.Principal {
	t.Helper()
	o, err := e.orgs.Create(e.ctx, name, kind, country)
	if err != nil {
		t.Fatal(err)
	}
	return o.Principal()
}

func pdqValue(n int) string { return fmt.Sprintf("%064x", n+1) }

// activate makes n new active indicators of the known list, values from
// first on, and returns their IDs.
func (e *env) activate(t *testing.T, first, n int) []int64 {
	t.Helper()
	subs := make([]indicator.Submission, n)
	for i := range subs {
		subs[i] = indicator.Submission{Signal: indicator.PDQ, Value: pdqValue(first + i), Category: indicator.A1}
	}
	if _, err := e.ind.Submit(e.ctx, indicator.Known, e.de, subs); err != nil {
		t.Fatal(err)
	}
	res, err := e.ind.Submit(e.ctx, indicator.Known, e.nl, subs)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, n)
	for i, r := range res {
		if !r.Activated {
			t.Fatalf("indicator %d not activated: %+v", i, r)
		}
		ids[i] = r.IndicatorID
	}
	return ids
}

func (e *env) log(t *testing.T, name string) translog.Log {
	t.Helper()
	l, err := e.logs.Log(e.ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// feedEntries returns the entries the list's feed says its log holds.
func (e *env) feedEntries(t *testing.T, list string) [][]byte {
	t.Helper()
	var out [][]byte
	for after := int64(0); ; {
		cs, err := e.ind.Changes(e.ctx, list, after, indicator.MaxChanges)
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) == 0 {
			return out
		}
		for _, c := range cs {
			if translog.Logged(c) {
				out = append(out, translog.EntryOf(c).Marshal())
			}
			after = c.Seq
		}
	}
}

// checkLog checks that the named log holds exactly want, with the stored
// hashes and root that tlog computes for them.
func (e *env) checkLog(t *testing.T, name string, want [][]byte) {
	t.Helper()
	l := e.log(t, name)
	if l.Size != int64(len(want)) {
		t.Fatalf("log %s has %d entries, want %d", name, l.Size, len(want))
	}
	got, err := e.db.Translog().LogEntries(e.ctx, name, 0, len(want))
	if err != nil {
		t.Fatal(err)
	}
	ref := &memHashes{}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("log %s entry %d is %q, want %q", name, i, got[i], want[i])
		}
		hs, err := tlog.StoredHashes(int64(i), want[i], ref)
		if err != nil {
			t.Fatal(err)
		}
		ref.hashes = append(ref.hashes, hs...)
	}
	indexes := make([]int64, len(ref.hashes))
	for i := range indexes {
		indexes[i] = int64(i)
	}
	stored, err := e.db.Translog().LogHashes(e.ctx, name, indexes)
	if err != nil {
		t.Fatal(err)
	}
	for i := range stored {
		if stored[i] != ref.hashes[i] {
			t.Fatalf("log %s: stored hash %d differs from tlog's", name, i)
		}
	}
	root, err := tlog.TreeHash(l.Size, ref)
	if err != nil {
		t.Fatal(err)
	}
	if root != l.Root {
		t.Fatalf("log %s: root %v, tlog says %v", name, l.Root, root)
	}
}

// testFollowsFeed: activations, quarantines, releases and withdrawals of
// active indicators are logged in feed order as they happen; additions,
// attestations and withdrawals of pending indicators are not.
func testFollowsFeed(t *testing.T, e *env) {
	name := translog.ListLog(indicator.Known)
	if l := e.log(t, name); l.Size != 0 || l.Through != 0 || l.Behind != 0 || l.List != indicator.Known {
		t.Fatalf("new log %+v", l)
	}
	ids := e.activate(t, 0, 5)
	// A pending indicator, withdrawn: two changes of the feed, none logged.
	res, err := e.ind.Submit(e.ctx, indicator.Known, e.de, []indicator.Submission{{Signal: indicator.MD5, Value: strings.Repeat("ab", 16), Category: indicator.B1}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.ind.Withdraw(e.ctx, res[0].IndicatorID, e.de, "mistake"); err != nil {
		t.Fatal(err)
	}
	e.checkLog(t, name, e.feedEntries(t, indicator.Known))
	if l := e.log(t, name); l.Size != 5 {
		t.Fatalf("log of 5 activations has %d entries", l.Size)
	}
	// By hand and through the quarantine service's transactions.
	if _, err := e.ind.Withdraw(e.ctx, ids[0], e.de, "wrong"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Quarantine(e.ctx, ids[1], e.centre, "looks wrong", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Release(e.ctx, ids[1], e.centre, time.Now()); err != nil {
		t.Fatal(err)
	}
	q := quarantine.New(e.db.Quarantines(), quarantine.Options{Audit: audit.NewLog(e.db, nil)})
	staff := quarantine.Actor{Org: e.centre.OrgID, OrgName: e.centre.OrgName, Actor: "user:1", Kind: org.Centre, Scope: policy.AllData}
	for _, err := range []error{
		q.Quarantine(e.ctx, staff, ids[2], quarantine.Manual, "check"),
		q.Withdraw(e.ctx, staff, ids[2], "confirmed wrong"),
		q.Quarantine(e.ctx, staff, ids[3], quarantine.Manual, "check"),
		q.Confirm(e.ctx, staff, ids[3], "fine"),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	want := e.feedEntries(t, indicator.Known)
	e.checkLog(t, name, want)
	var kinds []string
	for _, b := range want[5:] {
		en, err := translog.ParseEntry(b)
		if err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, string(en.Kind))
	}
	if got := strings.Join(kinds, " "); got != "withdraw quarantine release quarantine withdraw quarantine release" {
		t.Errorf("logged after the activations: %s", got)
	}
	l := e.log(t, name)
	if head := listHead(t, e, indicator.Known); l.Through != head || l.Behind != 0 {
		t.Errorf("log through %d behind %d, feed head %d", l.Through, l.Behind, head)
	}
}

func listHead(t *testing.T, e *env, name string) int64 {
	t.Helper()
	lists, err := e.ind.Lists(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lists {
		if l.Name == name {
			return l.Head
		}
	}
	t.Fatalf("no list %s", name)
	return 0
}

// testConcurrentChanges: changes committed at once by many writers are
// logged in the order of the feed, each once.
func testConcurrentChanges(t *testing.T, e *env) {
	ids := e.activate(t, 0, 40)
	var wg sync.WaitGroup
	errs := make(chan error, len(ids))
	for i, id := range ids {
		wg.Go(func() {
			var err error
			switch i % 3 {
			case 0:
				_, err = e.ind.Withdraw(e.ctx, id, e.de, "concurrent")
			case 1:
				_, err = e.db.Quarantine(e.ctx, id, e.centre, "concurrent", time.Now())
			default:
				_, err = e.ind.Submit(e.ctx, indicator.Known, e.nl, []indicator.Submission{{Signal: indicator.PDQ, Value: pdqValue(1000 + i), Category: indicator.A2}})
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	e.checkLog(t, translog.ListLog(indicator.Known), e.feedEntries(t, indicator.Known))
}

// testRolledBack: a change rolled back leaves no entry in the log.
func testRolledBack(t *testing.T, e *env) {
	ids := e.activate(t, 0, 2)
	name := translog.ListLog(indicator.Known)
	before := e.log(t, name)
	boom := errors.New("boom")
	for _, fn := range []func(ctx context.Context, tx quarantine.Tx) error{
		func(ctx context.Context, tx quarantine.Tx) error {
			if _, _, err := tx.Begin(ctx, quarantine.Record{Indicator: ids[0], Cause: quarantine.Manual, Actor: audit.System, At: time.Now()}); err != nil {
				return err
			}
			return boom
		},
		func(ctx context.Context, tx quarantine.Tx) error {
			if _, _, err := tx.Begin(ctx, quarantine.Record{Indicator: ids[1], Cause: quarantine.Manual, Actor: audit.System, At: time.Now()}); err != nil {
				return err
			}
			if _, err := tx.End(ctx, ids[1], quarantine.Ending{Outcome: quarantine.WithdrawnOutcome, Org: e.centre.OrgID, Actor: audit.System, Note: "x", At: time.Now()}); err != nil {
				return err
			}
			return boom
		},
	} {
		if err := e.db.Quarantines().Update(e.ctx, fn); !errors.Is(err, boom) {
			t.Fatalf("update: %v", err)
		}
		if after := e.log(t, name); after.Size != before.Size || after.Root != before.Root || after.Through != before.Through {
			t.Fatalf("a rolled-back change moved the log from %+v to %+v", before, after)
		}
	}
	e.checkLog(t, name, e.feedEntries(t, indicator.Known))
}

// testFailedLogFailsChange: if the log cannot be appended to, the change
// fails too: the log and the list never disagree.
func testFailedLogFailsChange(t *testing.T, e *env) {
	ids := e.activate(t, 0, 3)
	name := translog.ListLog(indicator.Known)
	// Appending entry 3 needs the hash of the subtree of entries 0-1 and
	// of entry 2.
	exec(t, e.db, `DELETE FROM log_hashes WHERE idx = $1`, tlog.StoredHashIndex(0, 2))
	if _, err := e.ind.Withdraw(e.ctx, ids[0], e.de, "wrong"); err == nil {
		t.Fatal("the withdrawal succeeded without its log entry")
	}
	if ind, _, err := e.ind.Get(e.ctx, ids[0]); err != nil || ind.State != indicator.Active {
		t.Fatalf("after the failed withdrawal: %+v, %v", ind, err)
	}
	if _, err := e.ind.Submit(e.ctx, indicator.Known, e.de, []indicator.Submission{{Signal: indicator.PDQ, Value: pdqValue(0), Category: indicator.A1}}); err != nil {
		t.Fatal(err) // a repeat changes nothing, so logs nothing
	}
	subs := []indicator.Submission{{Signal: indicator.PDQ, Value: pdqValue(99), Category: indicator.A1}}
	if _, err := e.ind.Submit(e.ctx, indicator.Known, e.de, subs); err != nil {
		t.Fatal(err) // an add is not logged, but moves the log's through
	}
	if _, err := e.ind.Submit(e.ctx, indicator.Known, e.nl, subs); err == nil {
		t.Fatal("the activation succeeded without its log entry")
	}
	if l := e.log(t, name); l.Size != 3 || l.Through != listHead(t, e, indicator.Known) {
		t.Errorf("log %+v", l)
	}
}

func exec(t *testing.T, db *store.DB, q string, args ...any) {
	t.Helper()
	if err := db.ReadWrite(context.Background(), func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.Exec(ctx, q, args...)
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// testCatchUp: a log behind its feed (as migration 0021 creates them for
// the lists of a database from before) is not appended to by new changes
// until CatchUp has brought it, in order and in batches, to the feed's
// head; then it is what it would have been.
func testCatchUp(t *testing.T, e *env) {
	ids := e.activate(t, 0, 30)
	for _, id := range ids[:5] {
		if _, err := e.ind.Withdraw(e.ctx, id, e.de, "x"); err != nil {
			t.Fatal(err)
		}
	}
	name := translog.ListLog(indicator.Known)
	want := e.feedEntries(t, indicator.Known)
	full := e.log(t, name)
	// Forget the log, as if it had been created just now.
	exec(t, e.db, `DELETE FROM log_hashes`)
	exec(t, e.db, `DELETE FROM log_entries`)
	exec(t, e.db, `UPDATE logs SET size = 0, through = 0, root = $1`, emptyRoot(t))
	l := e.log(t, name)
	if l.Size != 0 || l.Behind != listHead(t, e, indicator.Known) {
		t.Fatalf("reset log %+v", l)
	}
	// A change meanwhile waits for the catch-up.
	if _, err := e.ind.Withdraw(e.ctx, ids[5], e.de, "x"); err != nil {
		t.Fatal(err)
	}
	if l := e.log(t, name); l.Size != 0 {
		t.Fatalf("a change was logged before the log caught up: %+v", l)
	}
	for l.Behind > 0 {
		before := l
		var err error
		if l, err = e.db.Translog().CatchUpLog(e.ctx, name, 7); err != nil {
			t.Fatal(err)
		}
		if l.Through != before.Through+min(7, before.Behind) {
			t.Fatalf("a batch of 7 moved through from %d to %d", before.Through, l.Through)
		}
	}
	want = append(want, e.feedEntries(t, indicator.Known)[len(want):]...)
	e.checkLog(t, name, want)
	if l := e.log(t, name); l.Size != full.Size+1 {
		t.Errorf("caught up to %d entries, want %d", l.Size, full.Size+1)
	}
	// Caught up: changes are logged at once again, and CatchUp has
	// nothing to do.
	if _, err := e.ind.Withdraw(e.ctx, ids[6], e.de, "x"); err != nil {
		t.Fatal(err)
	}
	var progress []translog.Progress
	if err := e.logs.CatchUp(e.ctx, func(p translog.Progress) { progress = append(progress, p) }); err != nil {
		t.Fatal(err)
	}
	if len(progress) != 0 {
		t.Errorf("CatchUp of logs caught up: %+v", progress)
	}
	e.checkLog(t, name, e.feedEntries(t, indicator.Known))
}

func emptyRoot(t *testing.T) []byte {
	t.Helper()
	h, err := tlog.TreeHash(0, nil)
	if err != nil {
		t.Fatal(err)
	}
	return h[:]
}

// testNewList: a list created later has its own log, empty, which
// follows its feed.
func testNewList(t *testing.T, e *env) {
	if _, err := e.ind.CreateList(e.ctx, indicator.List{Name: "solo", Policy: indicator.Policy{MinAttestations: 1}, MaxDistance: 31, Threshold: 31}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ind.Submit(e.ctx, "solo", e.de, []indicator.Submission{{Signal: indicator.SHA256, Value: strings.Repeat("cd", 32), Category: indicator.National}}); err != nil {
		t.Fatal(err)
	}
	name := translog.ListLog("solo")
	e.checkLog(t, name, e.feedEntries(t, "solo"))
	if l := e.log(t, name); l.Size != 1 {
		t.Errorf("log of a list of one indicator: %+v", l)
	}
	if _, err := e.logs.Log(e.ctx, translog.ListLog("nope")); !errors.Is(err, core.ErrNotFound) || !strings.Contains(err.Error(), `no list named "nope"`) {
		t.Errorf("log of no list: %v", err)
	}
}

// testCheck: Check finds what was edited behind the store's back, and
// nothing in an untouched database.
func testCheck(t *testing.T, e *env) {
	ids := e.activate(t, 0, 20)
	if _, err := e.ind.Withdraw(e.ctx, ids[3], e.de, "x"); err != nil {
		t.Fatal(err)
	}
	check := func(n int) []string {
		t.Helper()
		problems, err := e.logs.Check(e.ctx, e.ind, n)
		if err != nil {
			t.Fatal(err)
		}
		return problems
	}
	if p := check(1000); len(p) != 0 {
		t.Fatalf("problems in an untouched database: %q", p)
	}
	if p := check(3); len(p) != 0 {
		t.Fatalf("problems in an untouched database, checking 3 entries: %q", p)
	}
	for _, tc := range []struct {
		name, edit, undo, want string
	}{
		{"indicator value", `UPDATE indicators SET value = '` + pdqValue(500) + `' WHERE id = ` + fmt.Sprint(ids[19]),
			`UPDATE indicators SET value = '` + pdqValue(19) + `' WHERE id = ` + fmt.Sprint(ids[19]), "but the feed's change"},
		{"entry", `UPDATE log_entries SET entry = entry || 'x' WHERE idx = 5`, `UPDATE log_entries SET entry = substr(entry, 1, length(entry) - 1) WHERE idx = 5`,
			"entry 5 does not have its stored hash"},
		{"root", `UPDATE logs SET root = log_id_root.r FROM (SELECT root AS r FROM logs WHERE name = 'audit') AS log_id_root WHERE name = 'lists/known'`, "",
			"not the stored root"},
	} {
		exec(t, e.db, tc.edit)
		p := check(1000)
		if len(p) == 0 || !strings.Contains(strings.Join(p, "\n"), tc.want) {
			t.Errorf("%s edited: problems %q, want one saying %q", tc.name, p, tc.want)
		}
		if tc.undo != "" {
			exec(t, e.db, tc.undo)
			if p := check(1000); len(p) != 0 {
				t.Fatalf("%s restored: problems %q", tc.name, p)
			}
		}
	}
}

// testServiceCheckpoint: the service's checkpoint is a signed note of the
// log's size and root that opens with the log's verifier key, whose
// origin is fixed at the first signing.
func testServiceCheckpoint(t *testing.T, e *env) {
	e.activate(t, 0, 3)
	name := translog.ListLog(indicator.Known)
	signed, err := e.logs.Checkpoint(e.ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := e.logs.VerifierKey(e.ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		t.Fatal(err)
	}
	c, err := translog.ParseCheckpoint(n.Text)
	if err != nil {
		t.Fatal(err)
	}
	l := e.log(t, name)
	if c.Origin != "ward.example.org/lists/known" || c.Size != 3 || c.Root != l.Root || l.Origin != c.Origin {
		t.Errorf("checkpoint %+v of log %+v", c, l)
	}
	// Another prefix later: the origin stays, and Init says so.
	other, err := translog.New(e.db.Translog(), testKey, "other.example")
	if err != nil {
		t.Fatal(err)
	}
	notes, err := other.Init(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "keeps its origin ward.example.org/lists/known") {
		t.Errorf("notes %q", notes)
	}
	if k, _ := other.VerifierKey(e.ctx, name); k != vkey {
		t.Errorf("verifier key under another prefix: %s, want %s", k, vkey)
	}
	if l := e.log(t, translog.AuditLog); l.Origin != "other.example/audit" {
		t.Errorf("the audit log, first named by Init: %+v", l)
	}
	for _, bad := range []string{"", "a b", "a+b", "example.org/"} {
		if _, err := translog.New(e.db.Translog(), testKey, bad); err == nil {
			t.Errorf("prefix %q taken", bad)
		}
	}
	// Another key would sign checkpoints that clients of the log refuse.
	_, stranger, _ := ed25519.GenerateKey(nil)
	wrong, err := translog.New(e.db.Translog(), stranger, "ward.example.org")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wrong.Init(e.ctx); err == nil || !strings.Contains(err.Error(), "another key") {
		t.Errorf("Init with another key: %v", err)
	}
	if _, err := wrong.Checkpoint(e.ctx, name); err == nil {
		t.Error("another key signed a checkpoint of the log")
	}
}

// testCosignatures: witnesses' cosignature lines are kept per size, one
// per key, and served after the log's signature while the log has that
// size.
func testCosignatures(t *testing.T, e *env) {
	e.activate(t, 0, 2)
	name := translog.ListLog(indicator.Known)
	l := e.log(t, name)
	w1, w2 := "— witness.example/w1 AAAAAQE=", "— witness.example/w2 AAAAAgI="
	if err := e.logs.AddCosignatures(e.ctx, name, l.Size, []string{w2, w1}); err != nil {
		t.Fatal(err)
	}
	if err := e.logs.AddCosignatures(e.ctx, name, l.Size, []string{"— witness.example/w1 AAAAAwM="}); err != nil {
		t.Fatal(err)
	}
	if err := e.logs.AddCosignatures(e.ctx, name, l.Size, []string{"not a line"}); !errors.Is(err, core.ErrInvalid) {
		t.Errorf("a malformed line: %v", err)
	}
	if err := e.logs.AddCosignatures(e.ctx, translog.ListLog("nope"), 1, []string{w1}); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("a cosignature of no log: %v", err)
	}
	got, err := e.logs.Cosignatures(e.ctx, name, l.Size)
	if err != nil || strings.Join(got, "|") != w1+"|"+w2 {
		t.Fatalf("cosignatures %q, %v", got, err)
	}
	signed, err := e.logs.Checkpoint(e.ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(signed), "\n"+w1+"\n"+w2+"\n") {
		t.Errorf("checkpoint with cosignatures:\n%s", signed)
	}
	vkey, _ := e.logs.VerifierKey(e.ctx, name)
	v, _ := note.NewVerifier(vkey)
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil || len(n.Sigs) != 1 || len(n.UnverifiedSigs) != 2 || n.Sigs[0].Name != v.Name() {
		t.Fatalf("opening it: %+v, %v", n, err)
	}
	// The next size has none yet.
	e.activate(t, 10, 1)
	signed, err = e.logs.Checkpoint(e.ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(signed), "witness") {
		t.Errorf("a checkpoint of another size carries the cosignatures:\n%s", signed)
	}
}

// testAuditLog: the audit log holds the first checkpoint signed of each
// new head of the audit trail, as its checkpoint file line.
func testAuditLog(t *testing.T, e *env) {
	a := audit.NewLog(e.db, testKey)
	var want [][]byte
	for i := range 3 {
		if _, err := a.Append(e.ctx, audit.Event{Actor: audit.System, Action: "test.step", Object: fmt.Sprintf("step:%d", i), Outcome: audit.OK}); err != nil {
			t.Fatal(err)
		}
		c, err := a.Checkpoint(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, c.MarshalLine())
		if _, err := a.Checkpoint(e.ctx); err != nil { // the same head again
			t.Fatal(err)
		}
	}
	e.checkLog(t, translog.AuditLog, want)
	if !bytes.HasPrefix(want[0], []byte("ward-audit-checkpoint-v1 ")) || bytes.Count(want[0], []byte("\n")) != 1 {
		t.Errorf("audit entry %q", want[0])
	}
	// Caught up from scratch, it is the same log.
	exec(t, e.db, `DELETE FROM log_hashes WHERE log_id = (SELECT id FROM logs WHERE name = 'audit')`)
	exec(t, e.db, `DELETE FROM log_entries WHERE log_id = (SELECT id FROM logs WHERE name = 'audit')`)
	exec(t, e.db, `UPDATE logs SET size = 0, through = 0 WHERE name = 'audit'`)
	if l := e.log(t, translog.AuditLog); l.Behind != 3 {
		t.Fatalf("reset audit log %+v", l)
	}
	if err := e.logs.CatchUp(e.ctx, nil); err != nil {
		t.Fatal(err)
	}
	e.checkLog(t, translog.AuditLog, want)
}
