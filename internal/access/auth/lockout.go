package auth

import (
	"container/list"
	"slices"
	"sync"
	"time"
)

// Lockout after failed logins.
//
// Failures are counted by the account named (its e-mail address's blind
// index, which exists whether or not there is an account) and client
// address, and by client address alone:
//
//   - LockAfter consecutive failures from one address lock the account for
//     that address only: 1 minute, doubling with each further failure up
//     to an hour. Someone elsewhere cannot lock a person out, and so no
//     count is kept for an account over all addresses: any number of them
//     would let a stranger with that many addresses lock it. Guessing one
//     account from many addresses stays hopeless: each login needs the
//     password and the TOTP code of the moment together, and each address
//     gets LockAfter tries per lock.
//   - AddrLockAfter consecutive failures from one address, on any
//     accounts, lock every account for that address, on the same
//     schedule: one address cannot try many accounts, nor flush the table.
//     A success from the address clears it (an office behind one address
//     is not locked out by its typos over weeks).
//
// Known and unknown accounts take exactly the same path, so the answers
// (and their timing: an unknown account costs the argon2 work of a dummy
// hash) do not tell whether an account exists.
//
// The counts are kept in memory, in a table of at most maxLockEntries
// entries, the least recently failed evicted first: an attacker trying
// millions of addresses cannot grow it. A lock, or a count that has
// reached its threshold (the next failure locks again), is never evicted
// while another entry can be, so that failures elsewhere cannot reset it;
// filling the table with such entries costs LockAfter failures for each,
// from a fresh address every AddrLockAfter/LockAfter of them, each paying
// the argon2 work (hours of a server's whole login capacity), and even
// then only the oldest goes. A count still below its threshold can be
// evicted, at maxLockEntries/2 failed logins from addresses other than
// the guesser's (whose own count locks it first). The table is per node and
// starts empty: with N nodes behind a balancer, an address gets N times
// as many tries, still bounded. A database table would be shared, but
// would make unknown accounts' failures writes that anyone can multiply.
const (
	// LockAfter failures from one address lock the account for it.
	LockAfter = 5
	// AddrLockAfter failures from one address, on any accounts, lock
	// them all for it.
	AddrLockAfter = 20
	firstLock     = time.Minute
	maxLock       = time.Hour
	// maxLockEntries bounds the table (about 200 bytes an entry).
	maxLockEntries = 1 << 16
	// forgetAfter is how long a count without a lock is kept since its
	// last failure.
	forgetAfter = 24 * time.Hour
)

// lockFor is how long an account is locked after its n-th consecutive
// failed login, with after failures allowed before the first lock.
func lockFor(n, after int) time.Duration {
	if n < after {
		return 0
	}
	if n-after >= 6 { // 2^6 minutes is past the cap already
		return maxLock
	}
	return min(firstLock<<(n-after), maxLock)
}

// lockKey is an entry of the lockout table: an account's blind index and
// a client address; or a client address alone (account empty: a blind
// index never is), for all accounts.
type lockKey struct {
	account string
	addr    string
}

type lockEntry struct {
	key      lockKey
	after    int // failures allowed before the first lock
	failures int
	last     time.Time // of the last failure
	until    time.Time // end of the lock, zero if none
}

// lockout is the table of failed logins. The zero value is not usable:
// see newLockout.
type lockout struct {
	mu      sync.Mutex
	max     int
	entries map[lockKey]*list.Element // of *lockEntry
	lru     list.List                 // most recently failed first
}

func newLockout(max int) *lockout {
	return &lockout{max: max, entries: map[lockKey]*list.Element{}}
}

// get returns the live entry of k, nil if none.
func (l *lockout) get(k lockKey, now time.Time) *lockEntry {
	el, ok := l.entries[k]
	if !ok {
		return nil
	}
	e := el.Value.(*lockEntry)
	if now.Before(e.until) || now.Sub(e.last) < forgetAfter {
		return e
	}
	l.lru.Remove(el)
	delete(l.entries, k)
	return nil
}

// protected reports whether e is kept while other entries can be evicted:
// it is locked, or has reached its threshold recently.
func (e *lockEntry) protected(now time.Time) bool {
	return now.Before(e.until) || (e.failures >= e.after && now.Sub(e.last) < forgetAfter)
}

// counter is an entry a login counts in, with its threshold.
type counter struct {
	lockKey
	after int
}

// keys returns the entries a login of account from addr counts in.
func keys(account, addr string) [2]counter {
	return [2]counter{
		{lockKey{account: account, addr: addr}, LockAfter},
		{lockKey{addr: addr}, AddrLockAfter},
	}
}

// locked returns the end of the lock of account for addr, zero if it is
// not locked.
func (l *lockout) locked(account, addr string, now time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	var until time.Time
	for _, k := range keys(account, addr) {
		k := k.lockKey
		if e := l.get(k, now); e != nil && now.Before(e.until) && e.until.After(until) {
			until = e.until
		}
	}
	return until
}

// fail counts a failed login of account from addr and returns the end of
// the lock it causes, zero if none.
func (l *lockout) fail(account, addr string, now time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	var until time.Time
	ks := keys(account, addr)
	mine := []lockKey{ks[0].lockKey, ks[1].lockKey}
	for _, k := range ks {
		e := l.get(k.lockKey, now)
		if e == nil {
			if len(l.entries) >= l.max {
				l.evict(now, mine)
			}
			e = &lockEntry{key: k.lockKey, after: k.after}
			l.entries[k.lockKey] = l.lru.PushFront(e)
		} else {
			l.lru.MoveToFront(l.entries[k.lockKey])
		}
		e.failures++
		e.last = now
		if d := lockFor(e.failures, k.after); d > 0 {
			e.until = now.Add(d)
			if e.until.After(until) {
				until = e.until
			}
		}
	}
	return until
}

// evict drops the least recently failed entry that is not protected,
// or, if all are, the least recently failed; never one of keep.
func (l *lockout) evict(now time.Time, keep []lockKey) {
	var oldest *list.Element
	for el := l.lru.Back(); el != nil; el = el.Prev() {
		e := el.Value.(*lockEntry)
		if slices.Contains(keep, e.key) {
			continue
		}
		if !e.protected(now) {
			oldest = el
			break
		}
		if oldest == nil {
			oldest = el
		}
	}
	if oldest != nil {
		l.lru.Remove(oldest)
		delete(l.entries, oldest.Value.(*lockEntry).key)
	}
}

// succeeded clears the counts of account from addr, and of addr over all
// accounts: its holder has proved who they are. Other addresses' counts
// stay.
func (l *lockout) succeeded(account, addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys(account, addr) {
		k := k.lockKey
		if el, ok := l.entries[k]; ok {
			l.lru.Remove(el)
			delete(l.entries, k)
		}
	}
}

// len returns the number of entries, for tests.
func (l *lockout) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}
