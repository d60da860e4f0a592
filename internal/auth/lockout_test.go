package auth

import (
	"fmt"
	"testing"
	"time"
)

func TestClientAddr(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7:4711":                  "192.0.2.7",
		"[::ffff:192.0.2.7]:80":           "192.0.2.7",
		"[2001:db8:1:2:3:4:5:6]:443":      "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::1%eth0]:443": "2001:db8:1:2::/64",
		"192.0.2.7":                       "192.0.2.7",
		"":                                "",
	} {
		if got := clientAddr(in); got != want {
			t.Errorf("clientAddr(%q) = %q, want %q", in, got, want)
		}
	}
}

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
	// Many addresses together lock the account for all.
	for i := LockAfter; i < GlobalLockAfter-1; i++ {
		l.fail("acct", fmt.Sprint("addr", i), now)
	}
	if !l.locked("acct", "b", now).IsZero() {
		t.Fatal("locked for all before the global threshold")
	}
	l.fail("acct", "c", now)
	if u := l.locked("acct", "b", now); !u.Equal(now.Add(time.Minute)) {
		t.Errorf("global lock %v", u)
	}
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
