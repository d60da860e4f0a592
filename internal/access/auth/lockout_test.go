package auth

import (
	"fmt"
	"testing"
	"time"
)

func TestLockoutTable(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	l := newLockout(100)
	for i := 1; i < LockAfter; i++ {
		if u := l.fail("acct", "a", now); !u.IsZero() {
			t.Fatalf("failure %d locked until %v", i, u)
		}
	}
	if u := l.fail("acct", "a", now); !u.Equal(now.Add(time.Minute)) {
		t.Fatalf("lock %v", u)
	}
	if l.locked("acct", "a", now).IsZero() || !l.locked("acct", "b", now).IsZero() {
		t.Error("the lock is not for address a only")
	}
	// However many addresses fail, the account is never locked for
	// another: a stranger cannot lock a person out.
	for i := range 1000 {
		l.fail("acct", fmt.Sprint("addr", i), now)
	}
	if !l.locked("acct", "b", now).IsZero() {
		t.Fatal("failures from 1,000 other addresses locked the account for b")
	}
	l.fail("acct", "b", now)
	l.succeeded("acct", "b")
	if !l.locked("acct", "b", now).IsZero() || l.locked("acct", "a", now).IsZero() {
		t.Error("success from b cleared the wrong counts")
	}

	// Bounded: millions of accounts tried keep at most max entries, the
	// least recently failed evicted.
	l = newLockout(100)
	for i := range 10000 {
		l.fail(fmt.Sprint("unknown", i), "x", now)
	}
	if n := l.len(); n != 100 {
		t.Errorf("%d entries, want the bound 100", n)
	}
	// Counts without a lock are forgotten after a day.
	l.fail("old", "x", now)
	l.locked("old", "x", now.Add(forgetAfter))
	if _, ok := l.entries[lockKey{account: "old", addr: "x"}]; ok {
		t.Error("an old count kept")
	}
}

// TestLockoutNotFlushed: failures against many made-up accounts cannot
// evict a count that matters. From the guessing address itself they soon
// lock it for every account; from other addresses they evict other counts,
// never a lock nor a count that has reached its threshold.
func TestLockoutNotFlushed(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	// login is a failed login as Login makes it: not counted when locked.
	login := func(l *lockout, account, addr string) time.Time {
		if u := l.locked(account, addr, now); !u.IsZero() {
			return u
		}
		return l.fail(account, addr, now)
	}

	// One address: four guesses, a flush, a fifth guess.
	l := newLockout(1000)
	for range LockAfter - 1 {
		login(l, "victim", "a")
	}
	for i := range 10000 {
		login(l, fmt.Sprint("unknown", i), "a")
	}
	if u := login(l, "victim", "a"); u.IsZero() {
		t.Error("the fifth guess from one address, after a flush from it, was not locked")
	}
	if l.len() > 1000 {
		t.Errorf("%d entries, over the bound", l.len())
	}

	// A locked account, flushed from many addresses, stays locked.
	l = newLockout(1000)
	for range LockAfter {
		login(l, "victim", "a")
	}
	for i := range 10000 {
		login(l, fmt.Sprint("unknown", i), fmt.Sprint("b", i/(AddrLockAfter-1)))
	}
	if l.locked("victim", "a", now).IsZero() {
		t.Error("the lock was flushed by failures from other addresses")
	}
	// So does a count at its threshold whose lock has ended.
	now = now.Add(2 * firstLock)
	for i := range 10000 {
		login(l, fmt.Sprint("other", i), fmt.Sprint("c", i/(AddrLockAfter-1)))
	}
	if u := l.fail("victim", "a", now); !u.Equal(now.Add(2 * firstLock)) {
		t.Errorf("the next guess after a flush locked until %v, want a doubled lock", u)
	}
	if l.len() > 1000 {
		t.Errorf("%d entries, over the bound", l.len())
	}
}

// TestLockoutPerAddress: AddrLockAfter failures from one address, on any
// accounts, lock it for all of them; a success from it clears that count.
func TestLockoutPerAddress(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	l := newLockout(1000)
	for i := range AddrLockAfter - 1 {
		if u := l.fail(fmt.Sprint("acct", i), "a", now); !u.IsZero() {
			t.Fatalf("failure %d locked", i)
		}
	}
	l.succeeded("mine", "a")
	for i := range AddrLockAfter - 1 {
		l.fail(fmt.Sprint("acct", i), "a", now)
	}
	if u := l.fail("another", "a", now); !u.Equal(now.Add(firstLock)) {
		t.Fatalf("lock %v", u)
	}
	if l.locked("yet another", "a", now).IsZero() || !l.locked("yet another", "b", now).IsZero() {
		t.Error("the address lock is not for address a, on every account")
	}
}
