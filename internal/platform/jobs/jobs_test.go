package jobs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/platform/jobs"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
)

// forEachDB runs test on a fresh SQLite and a fresh PostgreSQL database,
// in parallel, and in parallel with other tests.
func forEachDB(t *testing.T, test func(t *testing.T, db *store.DB)) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		test(t, storetest.OpenSQLite(t))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		test(t, storetest.OpenPostgres(t))
	})
}

// logBuffer collects a runner's log.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newRunner returns a runner on st that polls and backs off quickly, and
// its log, shown if the test fails.
func newRunner(t *testing.T, st jobs.Store) (*jobs.Runner, *logBuffer) {
	var log logBuffer
	r := jobs.NewRunner(st, slog.New(slog.NewTextHandler(&log, nil)))
	r.PollInterval = 5 * time.Millisecond
	r.FirstBackoff = 10 * time.Millisecond
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("runner log:\n%s", log.String())
		}
	})
	return r, &log
}

// start runs r until the test ends (before its database closes).
func start(t *testing.T, r *jobs.Runner) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		r.Run(ctx)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// waitFor polls cond until it holds, failing the test after 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func enqueue(t *testing.T, st jobs.Store, kind, ref string) int64 {
	t.Helper()
	id, err := st.EnqueueJob(t.Context(), kind, ref, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func pending(t *testing.T, st jobs.Store, kind string) int {
	t.Helper()
	p, err := st.PendingJobs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return p[kind]
}

func dead(t *testing.T, st jobs.Store) []jobs.Job {
	t.Helper()
	js, err := st.DeadJobs(t.Context(), 100)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// attempts records the attempts of a handler, per ref.
type attempts struct {
	mu    sync.Mutex
	byRef map[string][]jobs.Job
	at    map[string][]time.Time
}

func newAttempts() *attempts {
	return &attempts{byRef: make(map[string][]jobs.Job), at: make(map[string][]time.Time)}
}

func (a *attempts) add(j jobs.Job) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.byRef[j.Ref] = append(a.byRef[j.Ref], j)
	a.at[j.Ref] = append(a.at[j.Ref], time.Now())
	return len(a.byRef[j.Ref])
}

func (a *attempts) of(ref string) ([]jobs.Job, []time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]jobs.Job(nil), a.byRef[ref]...), append([]time.Time(nil), a.at[ref]...)
}

func (a *attempts) count(ref string) int {
	js, _ := a.of(ref)
	return len(js)
}

func TestRunnerRunsHandlers(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		r, log := newRunner(t, db)
		r.PollInterval = time.Hour // Wake alone must do
		got := newAttempts()
		r.Register(jobs.Spec{Kind: "k", Handle: func(ctx context.Context, j jobs.Job) error {
			got.add(j)
			return nil
		}})
		start(t, r)
		other := enqueue(t, db, "other", "not ours")
		for i := range 20 {
			enqueue(t, db, "k", fmt.Sprint(i))
		}
		r.Wake()
		waitFor(t, "all jobs done", func() bool { return pending(t, db, "k") == 0 })
		for i := range 20 {
			js, _ := got.of(fmt.Sprint(i))
			if len(js) != 1 || js[0].Kind != "k" || js[0].Attempts != 1 || js[0].ID == other {
				t.Errorf("job %d ran as %+v", i, js)
			}
		}
		if n := pending(t, db, "other"); n != 1 {
			t.Errorf("pending jobs of a kind the runner does not know: %d, want 1", n)
		}
		if log.String() != "" {
			t.Errorf("log: %s", log)
		}
	})
}

func TestRunnerRetries(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		r, log := newRunner(t, db)
		got := newAttempts()
		r.Register(jobs.Spec{Kind: "k", Handle: func(ctx context.Context, j jobs.Job) error {
			if n := got.add(j); n < 4 {
				return fmt.Errorf("failure %d", n)
			}
			return nil
		}})
		start(t, r)
		enqueue(t, db, "k", "r")
		waitFor(t, "the job done", func() bool { return got.count("r") == 4 && pending(t, db, "k") == 0 })

		js, at := got.of("r")
		for i, j := range js {
			lastError := ""
			if i > 0 {
				lastError = fmt.Sprintf("failure %d", i)
			}
			if j.Attempts != i+1 || j.LastError != lastError {
				t.Errorf("attempt %d: %+v", i+1, j)
			}
			// Backoff of 10, 20, 40 ms, less up to a quarter of jitter.
			if i > 0 {
				if gap, min := at[i].Sub(at[i-1]), 10*time.Millisecond<<(i-1)*3/4; gap < min {
					t.Errorf("attempt %d came %v after the previous, before the backoff of at least %v", i+1, gap, min)
				}
			}
		}
		if n := strings.Count(log.String(), "job failed; will retry"); n != 3 {
			t.Errorf("%d failures logged, want 3:\n%s", n, log)
		}
		if l := log.String(); !strings.Contains(l, "level=WARN") || !strings.Contains(l, "kind=k ref=r attempt=2 error=\"failure 2\"") {
			t.Errorf("log lacks kind, ref, attempt and error at WARN:\n%s", l)
		}
		if d := dead(t, db); len(d) != 0 {
			t.Errorf("dead: %+v", d)
		}
	})
}

func TestRunnerPermanent(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		r, log := newRunner(t, db)
		got := newAttempts()
		r.Register(jobs.Spec{Kind: "k", Handle: func(ctx context.Context, j jobs.Job) error {
			got.add(j)
			return fmt.Errorf("parsing: %w", jobs.Permanent(errors.New("bad ref")))
		}})
		start(t, r)
		id := enqueue(t, db, "k", "r")
		waitFor(t, "a dead job", func() bool { return len(dead(t, db)) == 1 })
		d := dead(t, db)[0]
		if d.ID != id || d.Attempts != 1 || d.LastError != "parsing: bad ref" || d.DeadAt.IsZero() {
			t.Errorf("dead job: %+v", d)
		}
		if n := got.count("r"); n != 1 {
			t.Errorf("%d attempts, want 1", n)
		}
		if n := pending(t, db, "k"); n != 0 {
			t.Errorf("%d pending", n)
		}
		if !strings.Contains(log.String(), "dead-lettered") {
			t.Errorf("log:\n%s", log)
		}
		if jobs.Permanent(nil) != nil {
			t.Error("Permanent(nil) is not nil")
		}
		if err := fmt.Errorf("wrapped: %w", jobs.Permanent(errors.New("bad"))); !jobs.IsPermanent(err) || jobs.IsPermanent(errors.New("bad")) {
			t.Error("IsPermanent does not tell")
		}
	})
}

func TestRunnerDeadAfter(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		r, _ := newRunner(t, db)
		got := newAttempts()
		var (
			mu      sync.Mutex
			healthy bool
		)
		r.Register(jobs.Spec{Kind: "k", DeadAfter: 200 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
			Handle: func(ctx context.Context, j jobs.Job) error {
				got.add(j)
				mu.Lock()
				defer mu.Unlock()
				if healthy {
					return nil
				}
				return errors.New("webhook: 503")
			}})
		start(t, r)
		id := enqueue(t, db, "k", "r")
		waitFor(t, "a dead job", func() bool { return len(dead(t, db)) == 1 })
		n := got.count("r")
		if n < 2 {
			t.Errorf("dead after %d attempt, want retries during DeadAfter", n)
		}
		d := dead(t, db)[0]
		if d.ID != id || d.Attempts != n || d.LastError != "webhook: 503" || d.DeadAt.Sub(d.CreatedAt) < 200*time.Millisecond {
			t.Errorf("dead job: %+v", d)
		}

		// A revived job has DeadAfter again: it survives a failure.
		if err := db.ReviveJob(t.Context(), id, time.Now()); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "a failure after the revival", func() bool { return got.count("r") == n+1 })
		mu.Lock()
		healthy = true
		mu.Unlock()
		waitFor(t, "the revived job done", func() bool { return pending(t, db, "k") == 0 })
		if d := dead(t, db); len(d) != 0 {
			t.Errorf("dead after the revival: %+v", d)
		}
		if js, _ := got.of("r"); len(js) != n+2 || js[n].Attempts != n+1 || js[n].RevivedAt.IsZero() {
			t.Errorf("attempts after the revival: %+v", js[n:])
		}
	})
}

func TestRunnerPanic(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		r, log := newRunner(t, db)
		got := newAttempts()
		r.Register(jobs.Spec{Kind: "k", Handle: func(ctx context.Context, j jobs.Job) error {
			if got.add(j) == 1 {
				panic("boom")
			}
			return nil
		}})
		start(t, r)
		enqueue(t, db, "k", "r")
		waitFor(t, "the job done", func() bool { return pending(t, db, "k") == 0 })
		js, _ := got.of("r")
		if len(js) != 2 || js[1].LastError != "panic: boom" {
			t.Errorf("attempts: %+v", js)
		}
		if l := log.String(); !strings.Contains(l, "level=ERROR msg=\"job handler panicked; will retry\"") || !strings.Contains(l, "jobs_test.TestRunnerPanic") {
			t.Errorf("log lacks the panic and its stack:\n%s", l)
		}
	})
}

func TestRunnerPeriodic(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		// Two runners: one job at a time all the same.
		var (
			mu      sync.Mutex
			runs    []time.Time
			running int
		)
		for range 2 {
			r, log := newRunner(t, db)
			r.Register(jobs.Spec{Kind: "tick", Handle: func(ctx context.Context, j jobs.Job) error {
				mu.Lock()
				runs = append(runs, time.Now())
				running++
				n := running
				mu.Unlock()
				if n > 1 {
					t.Error("two periodic jobs running at once")
				}
				time.Sleep(time.Millisecond)
				mu.Lock()
				running--
				mu.Unlock()
				return nil
			}})
			r.Periodic("tick", 30*time.Millisecond)
			start(t, r)
			t.Cleanup(func() {
				if log.String() != "" {
					t.Errorf("log: %s", log)
				}
			})
		}
		waitFor(t, "4 runs", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(runs) >= 4
		})
		if n := pending(t, db, "tick"); n != 1 {
			t.Errorf("%d pending periodic jobs, want 1", n)
		}
		mu.Lock()
		defer mu.Unlock()
		for i := 1; i < len(runs); i++ {
			if gap := runs[i].Sub(runs[i-1]); gap < 30*time.Millisecond {
				t.Errorf("run %d came %v after the previous, want at least the period", i, gap)
			}
		}
	})
}

func TestRunnerTwoRunners(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		const n = 100
		var (
			mu    sync.Mutex
			count = make(map[string]int)
			by    = make(map[int]int)
		)
		for i := range 2 {
			r, log := newRunner(t, db)
			r.Concurrency = 3
			r.Register(jobs.Spec{Kind: "k", Handle: func(ctx context.Context, j jobs.Job) error {
				mu.Lock()
				count[j.Ref]++
				by[i]++
				mu.Unlock()
				time.Sleep(time.Millisecond) // so that both runners get work
				return nil
			}})
			start(t, r)
			t.Cleanup(func() {
				if log.String() != "" {
					t.Errorf("log: %s", log)
				}
			})
		}
		for i := range n {
			enqueue(t, db, "k", fmt.Sprint(i))
		}
		waitFor(t, "all jobs done", func() bool { return pending(t, db, "k") == 0 })
		mu.Lock()
		defer mu.Unlock()
		for i := range n {
			if c := count[fmt.Sprint(i)]; c != 1 {
				t.Errorf("job %d ran %d times", i, c)
			}
		}
		if len(count) != n {
			t.Errorf("%d jobs ran, want %d", len(count), n)
		}
		t.Logf("jobs run by each runner: %v", by)
	})
}

func TestRunnerStops(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		r, log := newRunner(t, db)
		started := make(chan struct{})
		var ended error
		r.Register(jobs.Spec{Kind: "k", Handle: func(ctx context.Context, j jobs.Job) error {
			close(started)
			<-ctx.Done()
			time.Sleep(10 * time.Millisecond) // Run waits for this
			ended = ctx.Err()
			return ctx.Err()
		}})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			r.Run(ctx)
			close(done)
		}()
		enqueue(t, db, "k", "r")
		select {
		case <-started:
		case <-time.After(20 * time.Second):
			t.Fatal("the job did not start")
		}
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatal("Run did not return after its context ended")
		}
		if ended == nil {
			t.Error("Run returned before the handler")
		}
		if strings.Contains(log.String(), "level=WARN") || strings.Contains(log.String(), "level=ERROR") {
			t.Errorf("an interruption logged as a failure:\n%s", log)
		}

		// The interrupted job is released, due at once, for another node.
		js, err := db.ClaimJobs(t.Context(), "other", []string{"k"}, time.Now(), time.Minute, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(js) != 1 || js[0].Attempts != 2 || js[0].LastError != "context canceled" {
			t.Errorf("after the interruption: %+v", js)
		}
	})
}

func TestRunnerKeepsLease(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		r, log := newRunner(t, db)
		r.Lease = 300 * time.Millisecond
		release := make(chan struct{})
		got := newAttempts()
		r.Register(jobs.Spec{Kind: "k", Handle: func(ctx context.Context, j jobs.Job) error {
			got.add(j)
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}})
		start(t, r)
		enqueue(t, db, "k", "r")
		waitFor(t, "the job started", func() bool { return got.count("r") == 1 })
		// Over several lease times, nobody else can claim the job.
		for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
			js, err := db.ClaimJobs(t.Context(), "other", []string{"k"}, time.Now(), time.Minute, 1)
			if err != nil {
				t.Fatal(err)
			}
			if len(js) != 0 {
				t.Fatalf("claimed while the runner kept its lease: %+v", js)
			}
		}
		close(release)
		waitFor(t, "the job done", func() bool { return pending(t, db, "k") == 0 })
		if n := got.count("r"); n != 1 {
			t.Errorf("%d attempts, want 1", n)
		}
		if log.String() != "" {
			t.Errorf("log: %s", log)
		}
	})
}

// leaseThief is a store on which every lease is lost at its first renewal.
type leaseThief struct{ jobs.Store }

func (leaseThief) ExtendJob(ctx context.Context, id int64, owner string, until time.Time) error {
	return core.Errorf(core.ErrConflict, "stolen")
}

func TestRunnerLeaseLost(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		r, log := newRunner(t, leaseThief{db})
		r.Lease = 90 * time.Millisecond
		got := newAttempts()
		cancelled := make(chan struct{})
		r.Register(jobs.Spec{Kind: "k", Handle: func(ctx context.Context, j jobs.Job) error {
			if got.add(j) == 1 {
				<-ctx.Done() // Run's context lives on: ended by the loss of the lease
				close(cancelled)
				return ctx.Err()
			}
			return nil
		}})
		start(t, r)
		enqueue(t, db, "k", "r")
		select {
		case <-cancelled:
		case <-time.After(20 * time.Second):
			t.Fatal("the handler's context did not end when its lease was lost")
		}
		// Nothing released the lease: the second attempt comes when it
		// has run out, and completes.
		waitFor(t, "the job done", func() bool { return pending(t, db, "k") == 0 })
		if js, _ := got.of("r"); len(js) != 2 || js[1].Attempts != 2 {
			t.Errorf("attempts: %+v", js)
		}
		waitFor(t, "the loss logged", func() bool { return strings.Contains(log.String(), "job lease lost while running") })
	})
}

// TestRunnerGivesUpOnAbandoned: a job whose attempts keep stopping with
// their node (simulated by claims that never record an outcome) is
// dead-lettered by the next runner instead of being run again.
func TestRunnerGivesUpOnAbandoned(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		id := enqueue(t, db, "k", "poison")
		for i := range 5 {
			// A node claims it and dies: its short lease runs out.
			js, err := db.ClaimJobs(t.Context(), fmt.Sprint("dead-node-", i), []string{"k"}, time.Now(), time.Millisecond, 1)
			if err != nil || len(js) != 1 {
				t.Fatalf("claim %d: %v, %v", i, js, err)
			}
			time.Sleep(2 * time.Millisecond)
		}
		r, _ := newRunner(t, db)
		ran := make(chan struct{}, 1)
		r.Register(jobs.Spec{Kind: "k", Handle: func(context.Context, jobs.Job) error {
			ran <- struct{}{}
			return nil
		}})
		start(t, r)
		waitFor(t, "the job dead", func() bool { return len(dead(t, db)) == 1 })
		d := dead(t, db)[0]
		if d.ID != id || !strings.Contains(d.LastError, "5 attempts in a row stopped with their node") {
			t.Errorf("dead job: %+v", d)
		}
		select {
		case <-ran:
			t.Error("the runner ran a job that keeps stopping nodes")
		default:
		}
	})
}

// TestRunnerObserve: Observe is told the outcome of each attempt once it
// is recorded: retries, then done; a permanent failure, dead.
func TestRunnerObserve(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		r, _ := newRunner(t, db)
		var mu sync.Mutex
		seen := map[string][]jobs.Outcome{}
		r.Observe = func(kind string, o jobs.Outcome) {
			mu.Lock()
			defer mu.Unlock()
			seen[kind] = append(seen[kind], o)
		}
		got := newAttempts()
		r.Register(jobs.Spec{Kind: "flaky", Handle: func(ctx context.Context, j jobs.Job) error {
			if got.add(j) < 3 {
				return errors.New("not yet")
			}
			return nil
		}})
		r.Register(jobs.Spec{Kind: "bad", Handle: func(ctx context.Context, j jobs.Job) error {
			return jobs.Permanent(errors.New("bad ref"))
		}})
		start(t, r)
		enqueue(t, db, "flaky", "r")
		enqueue(t, db, "bad", "r")
		waitFor(t, "both outcomes", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(seen["flaky"]) == 3 && len(seen["bad"]) == 1
		})
		mu.Lock()
		defer mu.Unlock()
		if fmt.Sprint(seen["flaky"]) != "[retry retry done]" || fmt.Sprint(seen["bad"]) != "[dead]" {
			t.Errorf("outcomes: %v", seen)
		}
	})
}
