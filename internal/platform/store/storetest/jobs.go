package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/platform/jobs"
	"github.com/wardhq/ward/internal/platform/store"
)

// runJobs runs the conformance suite of the store's jobs.Store. open must
// return a new, empty (freshly migrated) database each time it is called;
// subtests run in parallel.
func runJobs(t *testing.T, open func(testing.TB) *store.DB) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, e *jobEnv)
	}{
		{"ClaimOrder", testJobClaimOrder},
		{"ConcurrentClaims", testJobConcurrentClaims},
		{"LeaseExpiry", testJobLeaseExpiry},
		{"Extend", testJobExtend},
		{"Retry", testJobRetry},
		{"Ensure", testJobEnsure},
		{"Repeat", testJobRepeat},
		{"DeadRevive", testJobDeadRevive},
		{"Pending", testJobPending},
		{"Stats", testJobStats},
		{"Invalid", testJobInvalid},
		{"Purge", testJobPurge},
		{"Abandoned", testJobAbandoned},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, &jobEnv{ctx: t.Context(), db: open(t)})
		})
	}
}

type jobEnv struct {
	ctx context.Context
	db  *store.DB
}

// jobBase is the time the tests claim at, give or take: the store takes
// the time of a claim from its caller, and keeps microseconds.
var jobBase = time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.UTC)

func (e *jobEnv) enqueue(t *testing.T, kind, ref string, runAt time.Time) int64 {
	t.Helper()
	id, err := e.db.EnqueueJob(e.ctx, kind, ref, runAt)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (e *jobEnv) claim(t *testing.T, owner string, now time.Time, limit int, kinds ...string) []jobs.Job {
	t.Helper()
	js, err := e.db.ClaimJobs(e.ctx, owner, kinds, now, time.Minute, limit)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func (e *jobEnv) pending(t *testing.T) map[string]int {
	t.Helper()
	p, err := e.db.PendingJobs(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func jobIDs(js []jobs.Job) []int64 {
	ids := make([]int64, len(js))
	for i, j := range js {
		ids[i] = j.ID
	}
	return ids
}

func wantIDs(t *testing.T, what string, js []jobs.Job, want ...int64) {
	t.Helper()
	if got := jobIDs(js); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: got jobs %v, want %v", what, got, want)
	}
}

func testJobClaimOrder(t *testing.T, e *jobEnv) {
	before := time.Now().Add(-time.Second)
	late := e.enqueue(t, "k", "late", jobBase.Add(2*time.Second))
	first := e.enqueue(t, "k", "first", jobBase)
	mid := e.enqueue(t, "k", "mid", jobBase.Add(time.Second))
	tie := e.enqueue(t, "k", "tie", jobBase.Add(time.Second)) // same time as mid: by id
	future := e.enqueue(t, "k", "future", jobBase.Add(time.Hour))
	other := e.enqueue(t, "other", "x", jobBase)

	if js := e.claim(t, "a", jobBase.Add(-time.Millisecond), 10, "k"); len(js) != 0 {
		t.Errorf("claimed before any job was due: %v", jobIDs(js))
	}
	js := e.claim(t, "a", jobBase.Add(time.Second), 2, "k")
	wantIDs(t, "limit 2 at base+1s", js, first, mid)
	j := js[0]
	if j.Kind != "k" || j.Ref != "first" || j.Attempts != 1 || !j.RunAt.Equal(jobBase.Truncate(time.Microsecond)) ||
		j.RunAt.Location() != time.UTC || j.CreatedAt.Before(before) || j.CreatedAt.After(time.Now()) ||
		j.LastError != "" || !j.DeadAt.IsZero() || !j.RevivedAt.IsZero() {
		t.Errorf("claimed job: %+v", j)
	}
	wantIDs(t, "the rest at base+5s", e.claim(t, "b", jobBase.Add(5*time.Second), 10, "k"), tie, late)
	wantIDs(t, "all leased", e.claim(t, "c", jobBase.Add(5*time.Second), 10, "k", "other"), other)
	for id, owner := range map[int64]string{first: "a", mid: "a", tie: "b", late: "b", other: "c"} {
		if err := e.db.CompleteJob(e.ctx, id, owner, jobBase.Add(5*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	wantIDs(t, "later", e.claim(t, "c", jobBase.Add(time.Hour), 10, "k", "other"), future)
	wantIDs(t, "no kinds", e.claim(t, "c", jobBase.Add(2*time.Hour), 10))
}

func testJobConcurrentClaims(t *testing.T, e *jobEnv) {
	const n, claimers = 120, 8
	for i := range n {
		e.enqueue(t, "k", fmt.Sprint(i), jobBase)
	}
	var (
		mu      sync.Mutex
		claimed = make(map[int64]string)
		wg      sync.WaitGroup
	)
	for c := range claimers {
		owner := fmt.Sprint("claimer-", c)
		wg.Go(func() {
			for {
				js, err := e.db.ClaimJobs(e.ctx, owner, []string{"k"}, jobBase, time.Minute, 3)
				if err != nil {
					t.Error(err)
					return
				}
				if len(js) == 0 {
					return
				}
				for _, j := range js {
					mu.Lock()
					if prev, ok := claimed[j.ID]; ok {
						t.Errorf("job %d claimed by %s and %s", j.ID, prev, owner)
					}
					claimed[j.ID] = owner
					mu.Unlock()
					if err := e.db.CompleteJob(e.ctx, j.ID, owner, jobBase); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	if len(claimed) != n {
		t.Errorf("%d jobs claimed, want %d", len(claimed), n)
	}
	if p := e.pending(t); len(p) != 0 {
		t.Errorf("pending after all were completed: %v", p)
	}
}

func testJobLeaseExpiry(t *testing.T, e *jobEnv) {
	id := e.enqueue(t, "k", "r", jobBase)
	wantIDs(t, "a claims", e.claim(t, "a", jobBase, 1, "k"), id)
	wantIDs(t, "b within a's lease", e.claim(t, "b", jobBase.Add(59*time.Second), 1, "k"))
	js := e.claim(t, "b", jobBase.Add(time.Minute), 1, "k")
	wantIDs(t, "b once a's lease ran out", js, id)
	if js[0].Attempts != 2 || js[0].Abandoned != 1 {
		t.Errorf("attempts and abandoned ones after the second claim: %d, %d", js[0].Attempts, js[0].Abandoned)
	}

	// a, whose lease was lost, can no longer act on the job.
	for what, err := range map[string]error{
		"complete": e.db.CompleteJob(e.ctx, id, "a", jobBase),
		"retry":    e.db.RetryJob(e.ctx, id, "a", jobBase, "boom"),
		"kill":     e.db.KillJob(e.ctx, id, "a", jobBase, "boom"),
		"extend":   e.db.ExtendJob(e.ctx, id, "a", jobBase.Add(time.Hour)),
		"repeat":   e.db.RepeatJob(e.ctx, id, "a", jobBase, jobBase.Add(time.Hour)),
	} {
		if !errors.Is(err, core.ErrConflict) {
			t.Errorf("%s by the owner of a lost lease: %v, want ErrConflict", what, err)
		}
	}
	if err := e.db.CompleteJob(e.ctx, id, "b", jobBase); err != nil {
		t.Fatal(err)
	}
	if err := e.db.CompleteJob(e.ctx, id, "b", jobBase); !errors.Is(err, core.ErrConflict) {
		t.Errorf("completing a done job: %v, want ErrConflict", err)
	}
	if err := e.db.CompleteJob(e.ctx, id+1000, "b", jobBase); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("completing a job that does not exist: %v, want ErrNotFound", err)
	}
	wantIDs(t, "done", e.claim(t, "c", jobBase.Add(time.Hour), 1, "k"))
	if p := e.pending(t); len(p) != 0 {
		t.Errorf("pending: %v", p)
	}
}

func testJobExtend(t *testing.T, e *jobEnv) {
	id := e.enqueue(t, "k", "r", jobBase)
	wantIDs(t, "a claims", e.claim(t, "a", jobBase, 1, "k"), id)
	if err := e.db.ExtendJob(e.ctx, id, "a", jobBase.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "b after the first lease", e.claim(t, "b", jobBase.Add(2*time.Minute), 1, "k"))
	wantIDs(t, "b after the extended lease", e.claim(t, "b", jobBase.Add(5*time.Minute), 1, "k"), id)
	if err := e.db.ExtendJob(e.ctx, id, "a", jobBase.Add(time.Hour)); !errors.Is(err, core.ErrConflict) {
		t.Errorf("extending a lost lease: %v, want ErrConflict", err)
	}
}

func testJobRetry(t *testing.T, e *jobEnv) {
	id := e.enqueue(t, "k", "r", jobBase)
	wantIDs(t, "claim", e.claim(t, "a", jobBase, 1, "k"), id)
	if err := e.db.RetryJob(e.ctx, id, "a", jobBase.Add(10*time.Second), "webhook: 503"); err != nil {
		t.Fatal(err)
	}
	if err := e.db.CompleteJob(e.ctx, id, "a", jobBase); !errors.Is(err, core.ErrConflict) {
		t.Errorf("completing a released job: %v, want ErrConflict", err)
	}
	if p := e.pending(t); p["k"] != 1 {
		t.Errorf("pending after a retry: %v", p)
	}
	wantIDs(t, "before the retry is due", e.claim(t, "b", jobBase.Add(9*time.Second), 1, "k"))
	js := e.claim(t, "b", jobBase.Add(10*time.Second), 1, "k")
	wantIDs(t, "when the retry is due", js, id)
	if j := js[0]; j.Attempts != 2 || j.LastError != "webhook: 503" || !j.RunAt.Equal(jobBase.Add(10*time.Second).Truncate(time.Microsecond)) {
		t.Errorf("retried job: %+v", j)
	}
}

func testJobEnsure(t *testing.T, e *jobEnv) {
	// Nodes ensuring the same jobs at the same time.
	const refs = 20
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			<-start
			for i := range refs {
				if err := e.db.EnsureJob(e.ctx, "race", fmt.Sprint(i), jobBase); err != nil {
					t.Error(err)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	if p := e.pending(t); p["race"] != refs {
		t.Fatalf("pending after concurrent EnsureJob of %d refs: %v", refs, p)
	}

	for _, ref := range []string{"", "", "other"} {
		if err := e.db.EnsureJob(e.ctx, "k", ref, jobBase); err != nil {
			t.Fatal(err)
		}
	}
	if p := e.pending(t); p["k"] != 2 {
		t.Fatalf("pending after EnsureJob of two refs: %v, want 2", p)
	}

	// A leased job is still pending; a dead or done one is not.
	js := e.claim(t, "a", jobBase, 2, "k")
	if len(js) != 2 {
		t.Fatalf("claimed %d", len(js))
	}
	for _, j := range js {
		if err := e.db.EnsureJob(e.ctx, "k", j.Ref, jobBase); err != nil {
			t.Fatal(err)
		}
	}
	if p := e.pending(t); p["k"] != 2 {
		t.Errorf("pending after EnsureJob of leased jobs: %v, want 2", p)
	}
	if err := e.db.CompleteJob(e.ctx, js[0].ID, "a", jobBase); err != nil {
		t.Fatal(err)
	}
	if err := e.db.KillJob(e.ctx, js[1].ID, "a", jobBase, "bad"); err != nil {
		t.Fatal(err)
	}
	for _, j := range js {
		if err := e.db.EnsureJob(e.ctx, "k", j.Ref, jobBase.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if p := e.pending(t); p["k"] != 2 {
		t.Errorf("pending after EnsureJob of a done and a dead job: %v, want 2", p)
	}

	// EnqueueJob does not deduplicate.
	e.enqueue(t, "k", "", jobBase)
	if p := e.pending(t); p["k"] != 3 {
		t.Errorf("pending after EnqueueJob: %v, want 3", p)
	}
}

func testJobRepeat(t *testing.T, e *jobEnv) {
	id := e.enqueue(t, "tick", "", jobBase)
	wantIDs(t, "claim", e.claim(t, "a", jobBase, 1, "tick"), id)
	next := jobBase.Add(time.Hour)
	if err := e.db.RepeatJob(e.ctx, id, "b", jobBase, next); !errors.Is(err, core.ErrConflict) {
		t.Errorf("repeat by another owner: %v, want ErrConflict", err)
	}
	if err := e.db.RepeatJob(e.ctx, id, "a", jobBase, next); err != nil {
		t.Fatal(err)
	}
	if p := e.pending(t); !maps.Equal(p, map[string]int{"tick": 1}) {
		t.Errorf("pending after a repeat: %v", p)
	}
	wantIDs(t, "before the next is due", e.claim(t, "a", next.Add(-time.Second), 1, "tick"))
	js := e.claim(t, "a", next, 1, "tick")
	if len(js) != 1 || js[0].ID == id || js[0].Ref != "" || js[0].Attempts != 1 || !js[0].RunAt.Equal(next.Truncate(time.Microsecond)) {
		t.Errorf("the next job: %+v", js)
	}
}

func testJobDeadRevive(t *testing.T, e *jobEnv) {
	a := e.enqueue(t, "k", "a", jobBase)
	b := e.enqueue(t, "k", "b", jobBase)
	live := e.enqueue(t, "k", "live", jobBase.Add(time.Hour))
	wantIDs(t, "claim", e.claim(t, "o", jobBase, 2, "k"), a, b)
	// Dead at different times: b first, then a.
	if err := e.db.KillJob(e.ctx, b, "o", jobBase.Add(time.Second), "bad input"); err != nil {
		t.Fatal(err)
	}
	if err := e.db.KillJob(e.ctx, a, "o", jobBase.Add(2*time.Second), strings.Repeat("é", 300)); err != nil {
		t.Fatal(err)
	}
	dead, err := e.db.DeadJobs(e.ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "dead, newest first", dead, a, b)
	if len(dead) == 2 {
		if j := dead[1]; j.LastError != "bad input" || !j.DeadAt.Equal(jobBase.Add(time.Second).Truncate(time.Microsecond)) || j.Attempts != 1 {
			t.Errorf("dead job: %+v", j)
		}
		if dead[0].LastError != strings.Repeat("é", 300) {
			t.Errorf("long error message not kept")
		}
	}
	if dead, err := e.db.DeadJobs(e.ctx, 1); err != nil || len(dead) != 1 || dead[0].ID != a {
		t.Errorf("DeadJobs limit 1: %v, %v", jobIDs(dead), err)
	}
	if _, err := e.db.DeadJobs(e.ctx, 0); !errors.Is(err, core.ErrInvalid) {
		t.Errorf("DeadJobs limit 0: %v, want ErrInvalid", err)
	}
	wantIDs(t, "dead jobs are not claimed", e.claim(t, "o", jobBase.Add(time.Hour), 10, "k"), live)
	if err := e.db.CompleteJob(e.ctx, live, "o", jobBase.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if p := e.pending(t); len(p) != 0 {
		t.Errorf("pending with two dead and one done: %v", p)
	}

	revived := jobBase.Add(2 * time.Hour)
	if err := e.db.ReviveJob(e.ctx, b, revived); err != nil {
		t.Fatal(err)
	}
	if err := e.db.ReviveJob(e.ctx, b, revived); !errors.Is(err, core.ErrConflict) {
		t.Errorf("reviving a pending job: %v, want ErrConflict", err)
	}
	if err := e.db.ReviveJob(e.ctx, live, revived); !errors.Is(err, core.ErrConflict) {
		t.Errorf("reviving a done job: %v, want ErrConflict", err)
	}
	if err := e.db.ReviveJob(e.ctx, b+1000, revived); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("reviving a job that does not exist: %v, want ErrNotFound", err)
	}
	if dead, err := e.db.DeadJobs(e.ctx, 10); err != nil || len(dead) != 1 || dead[0].ID != a {
		t.Errorf("dead after a revival: %v, %v", jobIDs(dead), err)
	}
	wantIDs(t, "before the revival", e.claim(t, "o", revived.Add(-time.Second), 10, "k"))
	js := e.claim(t, "o", revived, 10, "k")
	wantIDs(t, "revived", js, b)
	if len(js) == 1 {
		if j := js[0]; j.Attempts != 2 || j.LastError != "bad input" || !j.DeadAt.IsZero() ||
			!j.RevivedAt.Equal(revived.Truncate(time.Microsecond)) || !j.RunAt.Equal(j.RevivedAt) {
			t.Errorf("revived job: %+v", j)
		}
	}
}

func testJobPending(t *testing.T, e *jobEnv) {
	if p := e.pending(t); len(p) != 0 {
		t.Errorf("pending in an empty database: %v", p)
	}
	for i := range 3 {
		e.enqueue(t, "a", fmt.Sprint(i), jobBase)
	}
	e.enqueue(t, "b", "", jobBase.Add(time.Hour)) // pending, though not yet due
	done := e.enqueue(t, "c", "", jobBase)
	wantIDs(t, "claim c", e.claim(t, "o", jobBase, 1, "c"), done)
	if err := e.db.CompleteJob(e.ctx, done, "o", jobBase); err != nil {
		t.Fatal(err)
	}
	if p, want := e.pending(t), map[string]int{"a": 3, "b": 1}; !maps.Equal(p, want) {
		t.Errorf("pending: %v, want %v", p, want)
	}
}

func testJobStats(t *testing.T, e *jobEnv) {
	stats := func() []jobs.KindStats {
		t.Helper()
		s, err := e.db.JobStats(e.ctx, jobBase)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if s := stats(); len(s) != 0 {
		t.Errorf("stats of an empty database: %+v", s)
	}
	oldest := jobBase.Add(-time.Hour)
	e.enqueue(t, "a", "due", oldest)
	e.enqueue(t, "a", "due later", jobBase.Add(-time.Minute))
	e.enqueue(t, "a", "not yet due", jobBase.Add(time.Hour))
	e.enqueue(t, "b", "run", jobBase.Add(-2*time.Hour))
	wantIDs(t, "claim b", e.claim(t, "o", jobBase, 1, "b"), 4) // leased until jobBase+1m: running
	e.enqueue(t, "c", "dead", jobBase)
	e.enqueue(t, "c", "dead too", jobBase)
	e.enqueue(t, "c", "pending", jobBase.Add(time.Hour))
	for _, j := range e.claim(t, "o", jobBase, 2, "c") {
		if err := e.db.KillJob(e.ctx, j.ID, "o", jobBase, "given up"); err != nil {
			t.Fatal(err)
		}
	}
	done := e.enqueue(t, "d", "done", jobBase)
	wantIDs(t, "claim d", e.claim(t, "o", jobBase, 1, "d"), done)
	if err := e.db.CompleteJob(e.ctx, done, "o", jobBase); err != nil {
		t.Fatal(err)
	}
	want := []jobs.KindStats{
		{Kind: "a", Pending: 3, OldestDue: oldest.Truncate(time.Microsecond)},
		{Kind: "b", Running: 1},
		{Kind: "c", Pending: 1, Dead: 2},
	}
	if got := stats(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("stats:\n got %+v\nwant %+v", got, want)
	}
	// Once its lease has run out, the claimed job is pending and due again.
	s, err := e.db.JobStats(e.ctx, jobBase.Add(2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if s[1].Pending != 1 || s[1].Running != 0 || !s[1].OldestDue.Equal(jobBase.Add(-2*time.Hour).Truncate(time.Microsecond)) {
		t.Errorf("b after its lease ran out: %+v", s[1])
	}
}

func testJobInvalid(t *testing.T, e *jobEnv) {
	for _, c := range []struct{ kind, ref string }{
		{"", "r"},
		{strings.Repeat("k", 65), "r"},
		{"k", strings.Repeat("r", 256)},
	} {
		if _, err := e.db.EnqueueJob(e.ctx, c.kind, c.ref, jobBase); !errors.Is(err, core.ErrInvalid) {
			t.Errorf("EnqueueJob(%q, %q): %v, want ErrInvalid", c.kind, c.ref, err)
		}
		if err := e.db.EnsureJob(e.ctx, c.kind, c.ref, jobBase); !errors.Is(err, core.ErrInvalid) {
			t.Errorf("EnsureJob(%q, %q): %v, want ErrInvalid", c.kind, c.ref, err)
		}
	}
	if _, err := e.db.EnqueueJob(e.ctx, strings.Repeat("ü", 64), strings.Repeat("ü", 255), jobBase); err != nil {
		t.Errorf("kind and ref at their limits, in characters: %v", err)
	}
}

// testJobAbandoned checks the count of attempts in a row that never
// recorded an outcome: it grows with each claim of a job whose lease ran
// out, and an outcome resets it.
func testJobAbandoned(t *testing.T, e *jobEnv) {
	id := e.enqueue(t, "k", "r", jobBase)
	at := jobBase
	for want := range 3 {
		js := e.claim(t, fmt.Sprint("node", want), at, 1, "k")
		wantIDs(t, "claim", js, id)
		if js[0].Abandoned != want {
			t.Errorf("claim %d: %d abandoned, want %d", want+1, js[0].Abandoned, want)
		}
		at = at.Add(2 * time.Minute) // the lease runs out
	}
	if err := e.db.RetryJob(e.ctx, id, "node2", at, "503"); err != nil {
		t.Fatal(err)
	}
	if js := e.claim(t, "node3", at, 1, "k"); len(js) != 1 || js[0].Abandoned != 0 {
		t.Errorf("after a recorded failure: %+v", js)
	}
}

func testJobPurge(t *testing.T, e *jobEnv) {
	old := e.enqueue(t, "k", "old", jobBase)
	recent := e.enqueue(t, "k", "recent", jobBase)
	dead := e.enqueue(t, "k", "dead", jobBase)
	pendingJob := e.enqueue(t, "k", "pending", jobBase.Add(time.Hour))
	js := e.claim(t, "a", jobBase, 10, "k")
	wantIDs(t, "claim", js, old, recent, dead)
	for _, c := range []struct {
		id int64
		at time.Time
	}{{old, jobBase.Add(time.Minute)}, {recent, jobBase.Add(time.Hour)}} {
		if err := e.db.CompleteJob(e.ctx, c.id, "a", c.at); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.db.KillJob(e.ctx, dead, "a", jobBase.Add(time.Minute), "given up"); err != nil {
		t.Fatal(err)
	}
	n, err := e.db.PurgeJobs(e.ctx, jobBase.Add(30*time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("purged %d, %v; want the one done before the cut", n, err)
	}
	if d, err := e.db.DeadJobs(e.ctx, 10); err != nil || len(d) != 1 || d[0].ID != dead {
		t.Errorf("dead jobs after the purge: %v, %v", jobIDs(d), err)
	}
	if p := e.pending(t); p["k"] != 1 {
		t.Errorf("pending after the purge: %v, want the pending job %d kept", p, pendingJob)
	}
	if n, err := e.db.PurgeJobs(e.ctx, jobBase.Add(2*time.Hour)); err != nil || n != 1 {
		t.Errorf("second purge: %d, %v; want the recent one", n, err)
	}
}
