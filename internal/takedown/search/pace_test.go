package search

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestPacerBound: a Pacer remembers at most maxHosts hosts; a new host
// while every one is still spaced waits until one may be forgotten (or
// its context ends), and no remembered host loses its spacing.
func TestPacerBound(t *testing.T) {
	const delay = 200 * time.Millisecond
	p := NewPacer(delay)
	ctx := t.Context()
	for i := range maxHosts {
		if err := p.Wait(ctx, fmt.Sprintf("h%d.example", i)); err != nil {
			t.Fatal(err)
		}
	}
	short, cancel := context.WithTimeoutCause(ctx, delay/10, errors.New("given up"))
	defer cancel()
	if err := p.Wait(short, "new.example"); err == nil || err.Error() != "given up" {
		t.Errorf("a new host while full, its context ending first: %v; want given up", err)
	}
	if n := len(p.next); n != maxHosts {
		t.Errorf("%d hosts remembered; want %d", n, maxHosts)
	}
	began := time.Now()
	if err := p.Wait(ctx, "new.example"); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(began); waited < delay/2 {
		t.Errorf("a new host while full waited %v; want until the first spacing passed (%v after it began)", waited, delay)
	}
	if n := len(p.next); n > maxHosts {
		t.Errorf("%d hosts remembered; want at most %d", n, maxHosts)
	}
	if _, ok := p.next["new.example"]; !ok {
		t.Error("the new host's turn is not remembered")
	}
}
