package jobs

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	mrand "math/rand/v2"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wardhq/ward/internal/core"
)

// Defaults of the Runner's and Spec's settings.
const (
	DefaultPollInterval = 100 * time.Millisecond
	DefaultConcurrency  = 4
	DefaultLease        = time.Minute
	DefaultFirstBackoff = time.Second
	DefaultMaxBackoff   = 5 * time.Minute
)

const (
	// maxStoreBackoff caps how long a runner waits between polls while
	// the database fails.
	maxStoreBackoff = 10 * time.Second
	// recordTimeout bounds the recording of a job's outcome, which goes
	// on after Run's context ends so that finished work is not redone.
	recordTimeout = 10 * time.Second
	// maxErrorLen bounds the error message stored with a failed job.
	maxErrorLen = 1000
	// maxAbandoned is how many attempts in a row may stop with their node
	// (a crash, an out-of-memory kill) before the job is given up: a job
	// that kills nodes must not kill them one after another for ever.
	maxAbandoned = 5
)

// A Runner claims due jobs of the kinds registered with it and runs their
// handlers. Set its fields, Register kinds and declare Periodic ones before
// calling Run; a zero field takes its default.
type Runner struct {
	PollInterval time.Duration // between looks for due jobs (default 100 ms); see also Wake
	Concurrency  int           // handlers at once (default 4)
	Lease        time.Duration // renewed every third of it while the handler runs (default 1 min)
	FirstBackoff time.Duration // before the first retry of a failed job (default 1 s)
	// Observe, if set, is told the outcome of each attempt once it is
	// recorded (metrics); it must be quick and safe for concurrent use.
	Observe func(kind string, o Outcome)

	st       Store
	log      *slog.Logger
	owner    string // in the leases this runner takes, with the number of the claim
	kinds    map[string]Spec
	periodic map[string]time.Duration
	wake     chan struct{}
}

// NewRunner returns a runner of jobs kept in st that logs to logger. Its
// owner id, in the leases it takes, is the host name, a random suffix and
// the number of the claim.
func NewRunner(st Store, logger *slog.Logger) *Runner {
	host, _ := os.Hostname() // only informative
	return &Runner{
		st:       st,
		log:      logger,
		owner:    host + "/" + rand.Text()[:12],
		kinds:    make(map[string]Spec),
		periodic: make(map[string]time.Duration),
		wake:     make(chan struct{}, 1),
	}
}

// Register makes the runner claim and handle jobs of kind s.Kind as s
// says. It panics if s has no kind or handler, or its kind is already
// registered.
func (r *Runner) Register(s Spec) {
	if s.Kind == "" || s.Handle == nil {
		panic("jobs: Register of a kind without name or handler")
	}
	if _, ok := r.kinds[s.Kind]; ok {
		panic("jobs: kind " + s.Kind + " registered twice")
	}
	if s.MaxBackoff <= 0 {
		s.MaxBackoff = DefaultMaxBackoff
	}
	r.kinds[s.Kind] = s
}

// Periodic makes kind (registered) run about every every: Run ensures that
// one pending job of kind with ref "" exists (Store.EnsureJob, due at
// once), and each completion of it enqueues the next, due every later. A
// dead-lettered periodic job stops the period until it is revived or a
// runner starts again.
func (r *Runner) Periodic(kind string, every time.Duration) {
	if _, ok := r.kinds[kind]; !ok {
		panic("jobs: Periodic of unregistered kind " + kind)
	}
	if every <= 0 {
		panic("jobs: Periodic of " + kind + " with a period that is not positive")
	}
	r.periodic[kind] = every
}

// Wake makes the runner look for due jobs now rather than at its next
// poll, as after enqueuing a job due at once.
func (r *Runner) Wake() {
	select {
	case r.wake <- struct{}{}:
	default: // a wake-up is pending already
	}
}

// Run claims and handles jobs until ctx ends, then waits for the handlers
// that are running (their context ends with ctx), records their outcome
// and returns.
func (r *Runner) Run(ctx context.Context) {
	poll := orDefault(r.PollInterval, DefaultPollInterval)
	slots := orDefault(r.Concurrency, DefaultConcurrency)
	lease := orDefault(r.Lease, DefaultLease)
	first := orDefault(r.FirstBackoff, DefaultFirstBackoff)

	kinds := slices.Sorted(maps.Keys(r.kinds))
	unensured := slices.Collect(maps.Keys(r.periodic))

	var wg sync.WaitGroup
	done := make(chan struct{}, slots) // a handler finished; never blocks
	running := 0
	claims := 0
	var errWait time.Duration // grows while the database fails
	timer := time.NewTimer(poll)
	defer timer.Stop()
	for {
		var failed bool
		unensured = slices.DeleteFunc(unensured, func(kind string) bool {
			err := r.st.EnsureJob(ctx, kind, "", time.Now())
			if err != nil && ctx.Err() == nil {
				r.log.Error("ensuring a periodic job", "kind", kind, "error", err)
				failed = true
			}
			return err == nil
		})

		// full means that more jobs may be due than there were free slots.
		full := running == slots
		if free := slots - running; free > 0 && len(kinds) > 0 {
			// Each claim has an owner of its own, so that a job whose
			// lease ran out while it ran and that this runner claimed
			// again is not acted on by both attempts.
			claims++
			owner := fmt.Sprintf("%s#%d", r.owner, claims)
			js, err := r.st.ClaimJobs(ctx, owner, kinds, time.Now(), lease, free)
			if err != nil && ctx.Err() == nil {
				r.log.Error("claiming jobs", "error", err)
				failed = true
			}
			for _, j := range js {
				running++
				wg.Go(func() {
					r.handle(ctx, j, owner, lease, first)
					done <- struct{}{}
				})
			}
			full = len(js) == free
		}

		if failed {
			errWait = min(max(2*errWait, poll), maxStoreBackoff)
		} else {
			errWait = 0
		}
		timer.Reset(max(poll, errWait))
	wait:
		for {
			select {
			case <-ctx.Done():
				wg.Wait()
				return
			case <-done:
				running--
				if full {
					break wait
				}
			case <-r.wake:
				break wait
			case <-timer.C:
				break wait
			}
		}
	}
}

// giveUp dead-letters j, whose last attempts stopped with their node
// without an outcome, if that happened maxAbandoned times in a row or its
// kind's DeadAfter has passed, and reports whether it did.
func (r *Runner) giveUp(ctx context.Context, k Spec, j Job, owner string) bool {
	since := j.CreatedAt
	if !j.RevivedAt.IsZero() {
		since = j.RevivedAt
	}
	now := time.Now()
	if j.Abandoned < maxAbandoned && (k.DeadAfter <= 0 || now.Sub(since) < k.DeadAfter) {
		return false
	}
	msg := fmt.Sprintf("given up: %d attempts in a row stopped with their node before they finished", j.Abandoned)
	r.log.Error("job keeps stopping its node; dead-lettered", "kind", j.Kind, "ref", j.Ref, "attempt", j.Attempts, "abandoned", j.Abandoned)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err := r.st.KillJob(rctx, j.ID, owner, now, msg); err != nil {
		r.log.Error("recording a job's outcome; it will run again", "kind", j.Kind, "ref", j.Ref, "error", err)
	} else {
		r.observe(j.Kind, Dead)
	}
	return true
}

func (r *Runner) observe(kind string, o Outcome) {
	if r.Observe != nil {
		r.Observe(kind, o)
	}
}

// orDefault returns v, or def if v is not positive.
func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// handle runs the handler of j, keeping its lease, and records the outcome.
func (r *Runner) handle(ctx context.Context, j Job, owner string, lease, first time.Duration) {
	k := r.kinds[j.Kind]
	if j.Abandoned > 0 && r.giveUp(ctx, k, j, owner) {
		return
	}
	hctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := r.keepLease(hctx, cancel, j.ID, owner, lease)
	err := call(hctx, k.Handle, j)
	stop()

	attrs := []any{"kind", j.Kind, "ref", j.Ref, "attempt", j.Attempts}
	if errors.Is(context.Cause(hctx), errLeaseLost) {
		// Another runner has the job now; recording anything would fail.
		r.log.Warn("job lease lost while running", append(attrs, "error", err)...)
		return
	}

	// Finished work is recorded even if ctx has ended.
	rctx, cancelRecord := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancelRecord()
	now := time.Now()
	var rerr error
	outcome := Done
	if err == nil {
		if every, ok := r.periodic[j.Kind]; ok && j.Ref == "" {
			rerr = r.st.RepeatJob(rctx, j.ID, owner, now, now.Add(every))
		} else {
			rerr = r.st.CompleteJob(rctx, j.ID, owner, now)
		}
	} else {
		msg := errorMessage(err)
		since := j.CreatedAt
		if !j.RevivedAt.IsZero() {
			since = j.RevivedAt
		}
		// A failure is a Warn; a panic, a bug, is an Error with its stack.
		level, what := slog.LevelWarn, "job failed"
		failAttrs := append(attrs, "error", err)
		var pe *panicError
		if errors.As(err, &pe) {
			level, what = slog.LevelError, "job handler panicked"
			failAttrs = append(failAttrs, "stack", string(pe.stack))
		}
		switch {
		case ctx.Err() != nil:
			// Interrupted by shutdown, not failed: due at once, for
			// another node to take.
			r.log.Info("job interrupted", append(attrs, "error", err)...)
			outcome = Interrupted
			rerr = r.st.RetryJob(rctx, j.ID, owner, now, msg)
		case IsPermanent(err) || k.DeadAfter > 0 && now.Sub(since) >= k.DeadAfter:
			r.log.Log(rctx, level, what+"; dead-lettered", failAttrs...)
			outcome = Dead
			rerr = r.st.KillJob(rctx, j.ID, owner, now, msg)
		default:
			wait := backoff(first, k.MaxBackoff, j.Attempts)
			r.log.Log(rctx, level, what+"; will retry", append(failAttrs, "retry_in", wait)...)
			outcome = Retry
			rerr = r.st.RetryJob(rctx, j.ID, owner, now.Add(wait), msg)
		}
	}
	switch {
	case rerr == nil:
		r.observe(j.Kind, outcome)
	case errors.Is(rerr, core.ErrConflict):
		r.log.Warn("job lease lost before its outcome was recorded; it will run again", append(attrs, "error", rerr)...)
	case rerr != nil:
		r.log.Error("recording a job's outcome; it will run again", append(attrs, "error", rerr)...)
	}
}

// keepLease renews the lease on job id every third of lease until stop is
// called. If the lease was lost, it cancels ctx with errLeaseLost: another
// runner may be running the job.
func (r *Runner) keepLease(ctx context.Context, cancel context.CancelCauseFunc, id int64, owner string, lease time.Duration) (stop func()) {
	ctx, end := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(lease / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			err := r.st.ExtendJob(ctx, id, owner, time.Now().Add(lease))
			switch {
			case errors.Is(err, core.ErrConflict) || errors.Is(err, core.ErrNotFound):
				cancel(errLeaseLost)
				return
			case err != nil && ctx.Err() == nil:
				// The lease lasts two more renewals: try again then.
				r.log.Warn("renewing a job's lease", "job", id, "error", err)
			}
		}
	})
	return func() {
		end()
		wg.Wait()
	}
}

// panicError is a panic of a handler, with the stack where it happened.
type panicError struct {
	value any
	stack []byte
}

func (e *panicError) Error() string { return fmt.Sprintf("panic: %v", e.value) }

// call runs h, turning a panic into a *panicError.
func call(ctx context.Context, h Handler, j Job) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &panicError{v, debug.Stack()}
		}
	}()
	return h(ctx, j)
}

// backoff returns the delay before attempt+1 of a job: first, doubling
// with each attempt up to max, minus up to a quarter at random so that jobs
// that failed together do not all retry together.
func backoff(first, max time.Duration, attempt int) time.Duration {
	d := first
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	return d - mrand.N(d/4+1)
}

// errorMessage returns err's message, cut to maxErrorLen bytes of valid
// UTF-8, to be stored with the job.
func errorMessage(err error) string {
	msg := err.Error()
	if len(msg) > maxErrorLen {
		msg = strings.ToValidUTF8(msg[:maxErrorLen], "")
	}
	return msg
}
