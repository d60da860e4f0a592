package report_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/platform/seal"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/reporting/report"
)

// TestStore runs the report's rules, through report.Service and its
// transactions (report.Tx), on a new database of each engine per subtest,
// in parallel.
func TestStore(t *testing.T) {
	storetest.OnEachEngine(t, runStore)
}

func runStore(t *testing.T, open func(testing.TB) *store.DB) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, e *reportEnv)
	}{
		{"CreateGet", testReportCreateGet},
		{"Idempotency", testReportIdempotency},
		{"ConcurrentRetries", testReportConcurrentRetries},
		{"Lifecycle", testReportLifecycle},
		{"ConcurrentFinishRetract", testReportConcurrentFinishRetract},
		{"Files", testReportFiles},
		{"FileSegments", testReportFileSegments},
		{"OtherProvider", testReportOtherProvider},
		{"Dump", testReportDump},
		{"AnswerInfo", testReportAnswerInfo},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := open(t)
			sealer := seal.NewSealer(storetest.Keyring(t), db)
			e := &reportEnv{ctx: t.Context(), db: db, svc: report.NewService(db.Reports(), sealer), sealer: sealer}
			orgs := org.NewService(db)
			for i, name := range []string{"photos", "chat"} {
				o, err := orgs.Create(e.ctx, name, org.Provider, []string{"IE", "NL"}[i])
				if err != nil {
					t.Fatal(err)
				}
				e.providers[i] = o.ID
			}
			tc.fn(t, e)
		})
	}
}

type reportEnv struct {
	ctx       context.Context
	db        *store.DB
	svc       *report.Service
	providers [2]int64
	sealer    *seal.Sealer // svc's
}

func (e *reportEnv) create(t *testing.T, provider int64, key string, d report.Draft) report.Report {
	t.Helper()
	r, existed, err := e.svc.CreateDraft(e.ctx, provider, key, d)
	if err != nil {
		t.Fatal(err)
	}
	if existed {
		t.Fatalf("CreateDraft(%q): existed", key)
	}
	return r
}

// countReports returns how many reports the provider has.
func (e *reportEnv) countReports(t *testing.T, provider int64) int {
	t.Helper()
	var n int
	err := e.db.ReadOnly(e.ctx, func(ctx context.Context, tx *store.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM reports WHERE provider_id = $1`, provider).Scan(&n)
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func testReportCreateGet(t *testing.T, e *reportEnv) {
	d := storetest.Draft()
	r := e.create(t, e.providers[0], "k1", d)
	if r.ID == "" || r.State != report.StateDraft || r.Provider != e.providers[0] || r.IdempotencyKey != "k1" || r.CreatedAt.IsZero() {
		t.Errorf("created %+v", r)
	}
	got, err := e.svc.Get(e.ctx, e.providers[0], r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Errorf("Get:\n%+v\nwant\n%+v", got, r)
	}
	n, err := d.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Draft, n) {
		t.Errorf("Get returned draft\n%+v\nwant\n%+v", got.Draft, n)
	}
	rec, err := e.db.GetReport(e.ctx, e.providers[0], r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Type != report.TypeNew || !rec.Urgent || rec.State != report.StateDraft || len(rec.BodyIndex) != 32 {
		t.Errorf("record in clear: type %s, urgent %v, state %s, index %x", rec.Type, rec.Urgent, rec.State, rec.BodyIndex)
	}
	// An invalid draft is refused before it reaches the store.
	bad := storetest.Draft()
	bad.Type = "old"
	if _, _, err := e.svc.CreateDraft(e.ctx, e.providers[0], "k2", bad); !errors.Is(err, core.ErrInvalid) {
		t.Errorf("invalid draft: %v", err)
	}
	if _, _, err := e.svc.CreateDraft(e.ctx, e.providers[0], "a key", d); !errors.Is(err, core.ErrInvalid) {
		t.Errorf("key with a space: %v", err)
	}
	if _, err := e.svc.Get(e.ctx, e.providers[0], "NOSUCHREPORT"); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("Get of an unknown report: %v", err)
	}
	// Without a key, every call creates a report.
	a, b := e.create(t, e.providers[0], "", d), e.create(t, e.providers[0], "", d)
	if a.ID == b.ID || a.IdempotencyKey == b.IdempotencyKey {
		t.Errorf("two creations without a key gave %s (%s) and %s (%s)", a.ID, a.IdempotencyKey, b.ID, b.IdempotencyKey)
	}
}

func testReportIdempotency(t *testing.T, e *reportEnv) {
	d := storetest.Draft()
	r := e.create(t, e.providers[0], "retry-me", d)

	// A retry, even with the draft in another but equivalent form.
	d2 := storetest.Draft()
	d2.Items[1].Hashes.MD5 = "D41D8CD98F00B204E9800998ECF8427E"
	d2.User.Country = "be"
	again, existed, err := e.svc.CreateDraft(e.ctx, e.providers[0], "retry-me", d2)
	if err != nil || !existed {
		t.Fatalf("retry: existed %v, %v", existed, err)
	}
	if !reflect.DeepEqual(again, r) {
		t.Errorf("retry returned\n%+v\nwant\n%+v", again, r)
	}

	// Another draft with the same key.
	other := storetest.Draft()
	other.AdditionalInfo = "something else"
	if _, _, err := e.svc.CreateDraft(e.ctx, e.providers[0], "retry-me", other); !errors.Is(err, core.ErrConflict) {
		t.Errorf("another draft with the same key: %v", err)
	}

	// Keys are per provider.
	r2 := e.create(t, e.providers[1], "retry-me", d)
	if r2.ID == r.ID {
		t.Error("another provider's report with the same key is the same report")
	}
	if n := e.countReports(t, e.providers[0]); n != 1 {
		t.Errorf("provider has %d reports, want 1", n)
	}
}

func testReportConcurrentRetries(t *testing.T, e *reportEnv) {
	const n = 16
	d := storetest.Draft()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		ids     = map[string]int{}
		created int
	)
	for range n {
		wg.Go(func() {
			r, existed, err := e.svc.CreateDraft(e.ctx, e.providers[0], "same-key", d)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			ids[r.ID]++
			if !existed {
				created++
			}
		})
	}
	wg.Wait()
	if len(ids) != 1 || created != 1 {
		t.Errorf("%d concurrent retries gave reports %v, %d of them created", n, ids, created)
	}
	if got := e.countReports(t, e.providers[0]); got != 1 {
		t.Errorf("%d reports stored, want 1", got)
	}
}

func testReportLifecycle(t *testing.T, e *reportEnv) {
	p := e.providers[0]
	r := e.create(t, p, "finish-me", storetest.Draft())

	// The item of kind file has no file yet.
	_, err := e.svc.Finish(e.ctx, p, r.ID)
	var ve *report.ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, core.ErrInvalid) || len(ve.Errors) != 1 || ve.Errors[0].Pointer != "/items/0" {
		t.Fatalf("Finish without the file: %v", err)
	}
	if _, _, err := e.svc.AddFile(e.ctx, p, r.ID, 0, storetest.Image(t, 1)); err != nil {
		t.Fatal(err)
	}
	f, err := e.svc.Finish(e.ctx, p, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if f.State != report.StateFinished || f.FinishedAt.IsZero() || len(f.Files) != 1 {
		t.Errorf("finished: %+v", f)
	}
	// A retried finish returns the report as it is.
	f2, err := e.svc.Finish(e.ctx, p, r.ID)
	if err != nil || !f2.FinishedAt.Equal(f.FinishedAt) || f2.State != report.StateFinished {
		t.Errorf("Finish again: %v, %+v", err, f2)
	}
	if _, err := e.svc.Retract(e.ctx, p, r.ID); !errors.Is(err, core.ErrConflict) {
		t.Errorf("Retract after Finish: %v", err)
	}
	if _, _, err := e.svc.AddFile(e.ctx, p, r.ID, 0, storetest.Image(t, 2)); !errors.Is(err, core.ErrConflict) {
		t.Errorf("AddFile after Finish: %v", err)
	}
	// The store's part: a move's state condition, which a finished
	// report does not meet.
	if moved, err := e.move(p, r.ID, report.StateDraft, report.StateRetracted); moved || err != nil {
		t.Errorf("store MoveReport of a finished report from draft: %v, %v", moved, err)
	}

	// A draft can be retracted, and is then final.
	d := e.create(t, p, "retract-me", storetest.Draft())
	rr, err := e.svc.Retract(e.ctx, p, d.ID)
	if err != nil || rr.State != report.StateRetracted || rr.RetractedAt.IsZero() || !rr.FinishedAt.IsZero() {
		t.Fatalf("Retract: %v, %+v", err, rr)
	}
	if rr2, err := e.svc.Retract(e.ctx, p, d.ID); err != nil || !rr2.RetractedAt.Equal(rr.RetractedAt) {
		t.Errorf("Retract again: %v, %+v", err, rr2)
	}
	if _, err := e.svc.Finish(e.ctx, p, d.ID); !errors.Is(err, core.ErrConflict) {
		t.Errorf("Finish after Retract: %v", err)
	}
	if _, _, err := e.svc.AddFile(e.ctx, p, d.ID, 0, storetest.Image(t, 3)); !errors.Is(err, core.ErrConflict) {
		t.Errorf("AddFile after Retract: %v", err)
	}
	got, err := e.svc.Get(e.ctx, p, d.ID)
	if err != nil || got.State != report.StateRetracted {
		t.Errorf("Get of a retracted report: %v, %s", err, got.State)
	}
}

// move runs report.Tx.MoveReport of the provider's report id, now.
func (e *reportEnv) move(provider int64, id string, from, to report.State) (bool, error) {
	var moved bool
	err := e.db.Reports().Update(e.ctx, func(ctx context.Context, tx report.Tx) error {
		var err error
		moved, err = tx.MoveReport(ctx, provider, id, from, to, time.Now())
		return err
	})
	return moved, err
}

// testReportConcurrentFinishRetract races finishing and retracting the
// same draft: exactly one wins, and the other is a conflict.
func testReportConcurrentFinishRetract(t *testing.T, e *reportEnv) {
	p := e.providers[0]
	d := storetest.Draft()
	d.Items = d.Items[1:] // no file to upload
	for i := range 5 {
		r := e.create(t, p, "race-"+string(rune('a'+i)), d)
		var finishErr, retractErr error
		var wg sync.WaitGroup
		wg.Go(func() { _, finishErr = e.svc.Finish(e.ctx, p, r.ID) })
		wg.Go(func() { _, retractErr = e.svc.Retract(e.ctx, p, r.ID) })
		wg.Wait()
		if (finishErr == nil) == (retractErr == nil) ||
			!errors.Is(errors.Join(finishErr, retractErr), core.ErrConflict) {
			t.Errorf("finish: %v; retract: %v; want exactly one conflict", finishErr, retractErr)
		}
	}
}

func testReportFiles(t *testing.T, e *reportEnv) {
	p := e.providers[0]
	r := e.create(t, p, "files", storetest.Draft())
	img := storetest.Image(t, 7)
	f, existed, err := e.svc.AddFile(e.ctx, p, r.ID, 0, img)
	if err != nil || existed {
		t.Fatalf("AddFile: existed %v, %v", existed, err)
	}
	if f.Index != 0 || f.Size != int64(len(img)) || len(f.MD5) != 32 || len(f.SHA256) != 64 || len(f.PDQ) != 64 || f.Quality < 50 || f.Content != nil {
		t.Errorf("file %+v", f)
	}
	// A retry of the upload.
	f2, existed, err := e.svc.AddFile(e.ctx, p, r.ID, 0, img)
	if err != nil || !existed || !reflect.DeepEqual(f2, f) {
		t.Errorf("AddFile again: existed %v, %v\n%+v\n%+v", existed, err, f2, f)
	}
	// Another file for the same item.
	if _, _, err := e.svc.AddFile(e.ctx, p, r.ID, 0, storetest.Image(t, 8)); !errors.Is(err, core.ErrConflict) {
		t.Errorf("another file for item 0: %v", err)
	}
	// Item 1 is of kind hash; there is no item 2.
	for _, i := range []int{1, 2, -1} {
		if _, _, err := e.svc.AddFile(e.ctx, p, r.ID, i, img); !errors.Is(err, core.ErrInvalid) {
			t.Errorf("file for item %d: %v", i, err)
		}
	}
	got, err := e.svc.OpenFile(e.ctx, p, r.ID, 0)
	if err != nil || !bytes.Equal(got, img) {
		t.Errorf("OpenFile: %d bytes, %v", len(got), err)
	}
	if _, err := e.svc.OpenFile(e.ctx, p, r.ID, 1); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("OpenFile of an item without file: %v", err)
	}
	files, err := e.db.ReportFiles(e.ctx, p, r.ID)
	if err != nil || len(files) != 1 || !reflect.DeepEqual(files[0], f) {
		t.Errorf("ReportFiles: %v, %+v", err, files)
	}
	// Content that is not an image has no PDQ hash.
	d := storetest.Draft()
	d.Items = append(d.Items, report.Item{Kind: report.ItemFile})
	r2 := e.create(t, p, "text", d)
	ft, _, err := e.svc.AddFile(e.ctx, p, r2.ID, 2, []byte("not an image"))
	if err != nil || ft.PDQ != "" || ft.Quality != 0 || ft.Size != 12 {
		t.Errorf("AddFile of text: %v, %+v", err, ft)
	}
}

// testReportOtherProvider checks that a provider can neither see nor
// change another's report, and cannot tell it from one that does not
// exist.
func testReportOtherProvider(t *testing.T, e *reportEnv) {
	r := e.create(t, e.providers[0], "mine", storetest.Draft())
	if _, _, err := e.svc.AddFile(e.ctx, e.providers[0], r.ID, 0, storetest.Image(t, 1)); err != nil {
		t.Fatal(err)
	}
	other := e.providers[1]
	for name, err := range map[string]error{
		"Get":      func() error { _, err := e.svc.Get(e.ctx, other, r.ID); return err }(),
		"Finish":   func() error { _, err := e.svc.Finish(e.ctx, other, r.ID); return err }(),
		"Retract":  func() error { _, err := e.svc.Retract(e.ctx, other, r.ID); return err }(),
		"AddFile":  func() error { _, _, err := e.svc.AddFile(e.ctx, other, r.ID, 0, []byte("x")); return err }(),
		"OpenFile": func() error { _, err := e.svc.OpenFile(e.ctx, other, r.ID, 0); return err }(),
		"store Tx.Report": func() error {
			return e.db.Reports().Update(e.ctx, func(ctx context.Context, tx report.Tx) error {
				_, err := tx.Report(ctx, other, r.ID, true)
				return err
			})
		}(),
		"store ReportFiles": func() error { _, err := e.db.ReportFiles(e.ctx, other, r.ID); return err }(),
	} {
		if !errors.Is(err, core.ErrNotFound) {
			t.Errorf("%s by another provider: %v, want ErrNotFound", name, err)
		}
	}
	if moved, err := e.move(other, r.ID, report.StateDraft, report.StateFinished); moved || err != nil {
		t.Errorf("store MoveReport by another provider: %v, %v", moved, err)
	}
	got, err := e.svc.Get(e.ctx, e.providers[0], r.ID)
	if err != nil || got.State != report.StateDraft || len(got.Files) != 1 {
		t.Errorf("the report after the other provider's attempts: %v, %+v", err, got)
	}
}

// testReportDump checks that no table holds the report's personal data or
// its file in clear.
func testReportDump(t *testing.T, e *reportEnv) {
	p := e.providers[0]
	r := e.create(t, p, "dump", storetest.Draft())
	img := storetest.Image(t, 11)
	if _, _, err := e.svc.AddFile(e.ctx, p, r.ID, 0, img); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Finish(e.ctx, p, r.ID); err != nil {
		t.Fatal(err)
	}
	dump := storetest.DumpAll(t, e.db)
	if !bytes.Contains(dump, []byte(r.ID)) {
		t.Fatal("the dump does not contain the report's ID: is it complete?")
	}
	for _, s := range []string{storetest.DraftEmail, storetest.DraftIP, storetest.DraftScreenName, "+3212344711", "IMG_0042.JPG", "meeting with the child"} {
		if bytes.Contains(dump, []byte(s)) {
			t.Errorf("the dump contains %q in clear", s)
		}
	}
	// Any 64-byte window of the file would be found; look for several.
	for off := 0; off+64 <= len(img); off += len(img) / 8 {
		if bytes.Contains(dump, img[off:off+64]) {
			t.Errorf("the dump contains bytes %d-%d of the file", off, off+64)
		}
	}
}

// testReportAnswerInfo checks the provider's answer to a request for more
// information: only in StateInfoRequested, once, recorded with its
// detail in the same step as the move back to the queue.
func testReportAnswerInfo(t *testing.T, e *reportEnv) {
	p := e.providers[0]
	d := storetest.Draft()
	d.Items = d.Items[1:] // no file to upload
	r := e.create(t, p, "answer", d)
	if err := e.svc.AnswerInfo(e.ctx, p, r.ID, "too early"); !errors.Is(err, core.ErrConflict) {
		t.Errorf("answer to a draft: %v", err)
	}
	if _, err := e.svc.Finish(e.ctx, p, r.ID); err != nil {
		t.Fatal(err)
	}
	err := e.db.ReadWrite(e.ctx, func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE reports SET state = $1 WHERE id = $2`, string(report.StateInfoRequested), r.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var ve *report.ValidationError
	if err := e.svc.AnswerInfo(e.ctx, p, r.ID, ""); !errors.As(err, &ve) || ve.Errors[0].Pointer != "/message" {
		t.Errorf("empty answer: %v", err)
	}
	if err := e.svc.AnswerInfo(e.ctx, e.providers[1], r.ID, "not mine"); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("answer by another provider: %v", err)
	}
	const msg = "The upload came from " + storetest.DraftIP + "."
	if err := e.svc.AnswerInfo(e.ctx, p, r.ID, msg); err != nil {
		t.Fatal(err)
	}
	rec, err := e.db.GetReport(e.ctx, p, r.ID)
	if err != nil || rec.State != report.StateQueued {
		t.Errorf("after the answer: %v, %s", err, rec.State)
	}
	if err := e.svc.AnswerInfo(e.ctx, p, r.ID, msg); !errors.Is(err, core.ErrConflict) {
		t.Errorf("second answer: %v", err)
	}
	evs, err := e.svc.Events(e.ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(evs); n != 2 || evs[1].Kind != report.EventInfoProvided || string(evs[1].Detail) != msg || evs[1].At.IsZero() {
		t.Errorf("events %+v", evs)
	}
	if bytes.Contains(storetest.DumpAll(t, e.db), []byte(storetest.DraftIP)) {
		t.Error("the dump contains the answer in clear")
	}
}

// testReportFileSegments checks that a file is stored in sealed segments
// that WriteFile sends in order, that a file sealed as one blob (as
// before segments) still opens, and that a file missing its last segment,
// with segments swapped, with a segment of another sealing or with a
// segment too many does not.
func testReportFileSegments(t *testing.T, e *reportEnv) {
	p := e.providers[0]
	d := storetest.Draft()
	d.Items = []report.Item{{Kind: report.ItemFile}, {Kind: report.ItemFile}}
	r, _, err := e.svc.CreateDraft(e.ctx, p, "", d)
	if err != nil {
		t.Fatal(err)
	}
	content := make([]byte, 3*seal.SegmentSize+100)
	for i := range content {
		content[i] = byte(i * 7)
	}
	f, _, err := e.svc.AddFile(e.ctx, p, r.ID, 0, content)
	if err != nil || f.SegmentCount != 4 {
		t.Fatalf("AddFile: %d segments, %v; want 4", f.SegmentCount, err)
	}
	var got bytes.Buffer
	if err := e.svc.WriteFile(e.ctx, p, f, &got); err != nil || !bytes.Equal(got.Bytes(), content) {
		t.Errorf("WriteFile: %d bytes, %v", got.Len(), err)
	}
	if err := e.svc.WriteFile(e.ctx, e.providers[1], f, io.Discard); err == nil {
		t.Error("WriteFile of another provider's file succeeded")
	}

	// A file stored before segments: one blob, no segment.
	old := []byte("a file sealed whole")
	if _, _, err := e.svc.AddFile(e.ctx, p, r.ID, 1, old); err != nil {
		t.Fatal(err)
	}
	blob, err := e.sealer.Seal(e.ctx, old, report.FileAAD(r.ID, 1))
	if err != nil {
		t.Fatal(err)
	}
	exec(t, e.db, `DELETE FROM report_file_segments WHERE report_id = $1 AND file_index = 1`, r.ID)
	exec(t, e.db, `UPDATE report_files SET content_sealed = $1, segments = 0 WHERE report_id = $2 AND file_index = 1`, blob, r.ID)
	files, err := e.svc.Files(e.ctx, p, r.ID)
	if err != nil || len(files) != 2 || files[1].SegmentCount != 0 {
		t.Fatalf("files %+v, %v", files, err)
	}
	got.Reset()
	if err := e.svc.WriteFile(e.ctx, p, files[1], &got); err != nil || got.String() != string(old) {
		t.Errorf("WriteFile of a blob: %q, %v", got.String(), err)
	}
	if b, err := e.svc.OpenFile(e.ctx, p, r.ID, 1); err != nil || string(b) != string(old) {
		t.Errorf("OpenFile of a blob: %q, %v", b, err)
	}

	// A segment of another sealing of the same file (same report and
	// index, so the same associated data): the file's segments are one
	// sealing's, and its SHA-256 is in the database too.
	orig, err := e.db.FileSegments(e.ctx, p, r.ID, 0, 0, 100)
	if err != nil || len(orig) != 4 {
		t.Fatalf("segments: %d, %v", len(orig), err)
	}
	other, err := e.sealer.SealSegments(e.ctx, make([]byte, len(content)), report.FileAAD(r.ID, 0))
	if err != nil {
		t.Fatal(err)
	}
	for _, seq := range []int{0, 2, 3} {
		exec(t, e.db, `UPDATE report_file_segments SET sealed = $1 WHERE report_id = $2 AND file_index = 0 AND seq = $3`, other[seq], r.ID, seq)
		if err := e.svc.WriteFile(e.ctx, p, f, io.Discard); !errors.Is(err, seal.ErrOpen) {
			t.Errorf("WriteFile with segment %d of another sealing: %v, want ErrOpen", seq, err)
		}
		exec(t, e.db, `UPDATE report_file_segments SET sealed = $1 WHERE report_id = $2 AND file_index = 0 AND seq = $3`, orig[seq], r.ID, seq)
	}
	// A row more than the file's count: not read, an error.
	exec(t, e.db, `INSERT INTO report_file_segments (report_id, file_index, seq, sealed) VALUES ($1, 0, 4, $2)`, r.ID, other[0])
	got.Reset()
	if err := e.svc.WriteFile(e.ctx, p, f, &got); err == nil || got.Len() > 0 {
		t.Errorf("WriteFile with a segment too many: wrote %d bytes, %v", got.Len(), err)
	}
	exec(t, e.db, `DELETE FROM report_file_segments WHERE report_id = $1 AND file_index = 0 AND seq = 4`, r.ID)
	if err := e.svc.WriteFile(e.ctx, p, f, io.Discard); err != nil {
		t.Errorf("WriteFile restored: %v", err)
	}

	// Segments swapped, then the last one gone.
	exec(t, e.db, `UPDATE report_file_segments SET seq = 9 WHERE report_id = $1 AND file_index = 0 AND seq = 1`, r.ID)
	exec(t, e.db, `UPDATE report_file_segments SET seq = 1 WHERE report_id = $1 AND file_index = 0 AND seq = 2`, r.ID)
	exec(t, e.db, `UPDATE report_file_segments SET seq = 2 WHERE report_id = $1 AND file_index = 0 AND seq = 9`, r.ID)
	if err := e.svc.WriteFile(e.ctx, p, f, io.Discard); !errors.Is(err, seal.ErrOpen) {
		t.Errorf("WriteFile with segments swapped: %v, want ErrOpen", err)
	}
	exec(t, e.db, `DELETE FROM report_file_segments WHERE report_id = $1 AND file_index = 0 AND seq >= 1`, r.ID)
	if _, err := e.svc.OpenFile(e.ctx, p, r.ID, 0); !errors.Is(err, seal.ErrOpen) {
		t.Errorf("OpenFile without its last segments: %v, want ErrOpen", err)
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
