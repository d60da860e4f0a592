package media

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestBudget(t *testing.T) {
	ctx := context.Background()
	const wait = 50 * time.Millisecond
	acquire := func(t *testing.T, b *Budget, n int64) func() {
		t.Helper()
		release, err := b.Acquire(ctx, n)
		if err != nil {
			t.Fatalf("Acquire(%d): %v", n, err)
		}
		return release
	}
	// waitFor acquires in the background and returns the answer's channel.
	waitFor := func(b *Budget, ctx context.Context, n int64) chan error {
		ch := make(chan error, 1)
		go func() {
			release, err := b.Acquire(ctx, n)
			if err == nil {
				defer release()
			}
			ch <- err
		}()
		return ch
	}
	waiting := func(t *testing.T, b *Budget, n int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); b.Stats().Waiting != n; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d waiting, want %d", b.Stats().Waiting, n)
			}
		}
	}

	t.Run("admits what fits", func(t *testing.T) {
		b := NewBudget(100, 4, wait)
		r1, r2 := acquire(t, b, 60), acquire(t, b, 40)
		if s := b.Stats(); s != (BudgetStats{Limit: 100, InUse: 100, Running: 2}) {
			t.Errorf("stats %+v", s)
		}
		r1()
		r2()
		if s := b.Stats(); s.InUse != 0 || s.Running != 0 {
			t.Errorf("after release: %+v", s)
		}
	})
	t.Run("waits for a release", func(t *testing.T) {
		b := NewBudget(100, 4, time.Minute)
		r1 := acquire(t, b, 80)
		ch := waitFor(b, ctx, 30)
		waiting(t, b, 1)
		r1()
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	})
	t.Run("busy after the wait", func(t *testing.T) {
		b := NewBudget(100, 4, wait)
		defer acquire(t, b, 80)()
		start := time.Now()
		_, err := b.Acquire(ctx, 30)
		if !errors.Is(err, ErrBusy) || time.Since(start) < wait {
			t.Fatalf("got %v after %v, want ErrBusy after %v", err, time.Since(start), wait)
		}
		if s := b.Stats(); s.Refused != 1 || s.Waiting != 0 || s.InUse != 80 {
			t.Errorf("stats %+v", s)
		}
	})
	t.Run("busy when the context ends", func(t *testing.T) {
		b := NewBudget(100, 4, time.Minute)
		defer acquire(t, b, 80)()
		ctx, cancel := context.WithCancel(ctx)
		ch := waitFor(b, ctx, 30)
		waiting(t, b, 1)
		cancel()
		if err := <-ch; !errors.Is(err, ErrBusy) || !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want ErrBusy and context.Canceled", err)
		}
	})
	t.Run("refuses a cost over the whole budget at once", func(t *testing.T) {
		b := NewBudget(100, 4, time.Minute)
		if _, err := b.Acquire(ctx, 101); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("got %v, want ErrTooLarge", err)
		}
		if s := b.Stats(); s.TooLarge != 1 || s.InUse != 0 {
			t.Errorf("stats %+v", s)
		}
	})
	t.Run("at most so many at once", func(t *testing.T) {
		b := NewBudget(100, 2, wait)
		defer acquire(t, b, 1)()
		defer acquire(t, b, 1)()
		if _, err := b.Acquire(ctx, 1); !errors.Is(err, ErrBusy) {
			t.Fatalf("third decode: got %v, want ErrBusy", err)
		}
	})
	t.Run("first come first served", func(t *testing.T) {
		b := NewBudget(100, 4, time.Minute)
		r1 := acquire(t, b, 60)
		large := waitFor(b, ctx, 90)
		waiting(t, b, 1)
		small := waitFor(b, ctx, 10) // would fit, but the large one is first
		waiting(t, b, 2)
		r1()
		if err := <-large; err != nil {
			t.Fatal(err)
		}
		if err := <-small; err != nil {
			t.Fatal(err)
		}
	})
	t.Run("released on panic, and only once", func(t *testing.T) {
		b := NewBudget(100, 4, wait)
		func() {
			defer func() { recover() }()
			release := acquire(t, b, 70)
			defer release()
			defer release()
			panic("decoder bug")
		}()
		if s := b.Stats(); s.InUse != 0 || s.Running != 0 {
			t.Fatalf("after a panic: %+v", s)
		}
		defer acquire(t, b, 100)()
	})
}
