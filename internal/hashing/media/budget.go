package media

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/wardhq/ward/internal/core"
)

// ErrBusy: the decode budget stayed in use by other decodes for longer
// than a caller may wait. Unlike ErrTooLarge, the same image may be
// decoded when tried again, after about BusyRetry.
var ErrBusy = &core.RetryAfter{Err: core.Errorf(core.ErrUnavailable, "busy"), Wait: BusyRetry}

// BusyRetry is when to try a decode refused with ErrBusy again: about what
// a large decode takes.
const BusyRetry = 2 * time.Second

// DefaultDecodeMemory is the default memory a server lets its decodes use
// together: enough for the costliest image under DefaultLimits that a
// camera makes, a 50 megapixel progressive JPEG, and for many ordinary
// ones at once.
const DefaultDecodeMemory = 1 << 30

// DefaultWait is how long Acquire waits for the budget by default: a few
// large decodes' time, short enough for a client to be told to come back.
const DefaultWait = 3 * time.Second

// freeAfter is the size of a decode after which its memory is returned to
// the operating system at once, when it is released. Go would otherwise
// keep the heap at its peak for minutes; smaller decodes are not worth a
// forced collection.
const freeAfter = 64 << 20

// Budget bounds the memory and the number of decodes a process runs at
// once, shared by everything that decodes untrusted images. Decodes are
// admitted in the order they asked, each when its estimated cost (see
// Estimate) fits beside those running.
type Budget struct {
	limit      int64
	concurrent int
	wait       time.Duration

	mu       sync.Mutex
	used     int64
	running  int
	queue    []*waiter // in order of arrival
	refused  int64     // ErrBusy answers
	tooLarge int64     // costs over the whole budget
}

type waiter struct {
	bytes int64
	ready chan struct{} // closed when admitted
}

// NewBudget returns a budget of limit bytes for at most concurrent decodes
// at once (GOMAXPROCS if 0 or less), for which Acquire waits at most wait
// (DefaultWait if 0 or less).
func NewBudget(limit int64, concurrent int, wait time.Duration) *Budget {
	if concurrent <= 0 {
		concurrent = runtime.GOMAXPROCS(0)
	}
	if wait <= 0 {
		wait = DefaultWait
	}
	return &Budget{limit: limit, concurrent: concurrent, wait: wait}
}

// BudgetStats is a budget's state, for metrics.
type BudgetStats struct {
	Limit    int64 // bytes
	InUse    int64 // bytes held by running decodes
	Running  int   // decodes admitted and not released
	Waiting  int   // decodes waiting to be admitted
	Refused  int64 // decodes refused for waiting too long (ErrBusy), since the start
	TooLarge int64 // decodes refused because their cost alone is over Limit
}

// Stats returns the budget's state now.
func (b *Budget) Stats() BudgetStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return BudgetStats{Limit: b.limit, InUse: b.used, Running: b.running, Waiting: len(b.queue),
		Refused: b.refused, TooLarge: b.tooLarge}
}

// Acquire waits until a decode of the given cost in bytes fits in the
// budget and returns the function that gives it back, which the caller
// must call once the decoded image is no longer used (it may be called
// more than once; a deferred call also covers a panic). A cost over the
// whole budget is refused at once with ErrTooLarge; a decode that waits
// longer than the budget's wait, or until ctx is done, gets ErrBusy.
func (b *Budget) Acquire(ctx context.Context, bytes int64) (release func(), err error) {
	bytes = max(bytes, 1)
	b.mu.Lock()
	if bytes > b.limit {
		b.tooLarge++
		b.mu.Unlock()
		return nil, fmt.Errorf("decoding the image would take about %s, over the server's decode memory of %s: %w",
			byteSize(bytes), byteSize(b.limit), ErrTooLarge)
	}
	w := &waiter{bytes: bytes, ready: make(chan struct{})}
	b.queue = append(b.queue, w)
	b.admit()
	b.mu.Unlock()

	timer := time.NewTimer(b.wait)
	defer timer.Stop()
	select {
	case <-w.ready:
	case <-timer.C:
	case <-ctx.Done():
	}
	b.mu.Lock()
	select {
	case <-w.ready: // admitted, perhaps just as the wait ended
		b.mu.Unlock()
	default:
		b.remove(w)
		b.refused++
		b.admit() // a large waiter at the head may have held others back
		b.mu.Unlock()
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("waiting to decode the image: %w (%w)", ErrBusy, err)
		}
		return nil, fmt.Errorf("the server is decoding other images; try again shortly: %w", ErrBusy)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			if bytes >= freeAfter {
				// Before the bytes are given back, so that the next decode
				// starts from a heap without this one's garbage.
				debug.FreeOSMemory()
			}
			b.mu.Lock()
			b.used -= bytes
			b.running--
			b.admit()
			b.mu.Unlock()
		})
	}, nil
}

// admit admits waiters in order while the first fits; one that does not
// fit holds back those behind it, so that a large decode is not starved by
// a stream of small ones. b.mu must be held.
func (b *Budget) admit() {
	for len(b.queue) > 0 {
		w := b.queue[0]
		if b.running >= b.concurrent || b.used+w.bytes > b.limit {
			return
		}
		b.queue = b.queue[1:]
		b.used += w.bytes
		b.running++
		close(w.ready)
	}
}

func (b *Budget) remove(w *waiter) {
	for i, q := range b.queue {
		if q == w {
			b.queue = append(b.queue[:i], b.queue[i+1:]...)
			return
		}
	}
}
