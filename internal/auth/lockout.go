package auth

import (
	"container/list"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Lockout after failed logins.
//
// Failures are counted by the account named (its e-mail address's blind
// index, which exists whether or not there is an account) and client
// address, and by account alone:
//
//   - LockAfter consecutive failures from one address lock the account for
//     that address only: 1 minute, doubling with each further failure up
//     to an hour. Someone elsewhere cannot lock a person out.
//   - GlobalLockAfter consecutive failures from all addresses together lock
//     the account for every address, on the same schedule: protection
//     against guessing one account from many addresses. Since every login
//     also needs a TOTP code, it can be set high: an attacker needs at
//     least GlobalLockAfter/LockAfter addresses to reach it.
//
// Known and unknown accounts take exactly the same path, so the answers
// (and their timing: an unknown account costs the argon2 work of a dummy
// hash) do not tell whether an account exists.
//
// The counts are kept in memory, in a table of at most maxLockEntries
// entries, the least recently failed evicted first: an attacker trying
// millions of addresses cannot grow it, and evicting a count costs him
// maxLockEntries failed logins, each paying the argon2 work (tens of
// minutes of a server's whole login capacity). The table is per node and
// starts empty: with N nodes behind a balancer, an address gets N times
// as many tries, still bounded. A database table would be shared, but
// would make unknown accounts' failures writes that anyone can multiply.
const (
	// LockAfter failures from one address lock the account for it.
	LockAfter = 5
	// GlobalLockAfter failures from any addresses lock it for all.
	GlobalLockAfter = 100
	firstLock       = time.Minute
	maxLock         = time.Hour
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

// lockKey is an entry of the lockout table: an account's blind index, and
// a client address, or all addresses.
type lockKey struct {
	account string
	addr    string
	all     bool
}

type lockEntry struct {
	key      lockKey
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

// clientAddr returns the part of a request's remote address that failures
// are counted by: the IP address without the port, IPv6 addresses reduced
// to their /64 (which one holder usually has whole).
func clientAddr(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
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

// locked returns the end of the lock of account for addr, zero if it is
// not locked.
func (l *lockout) locked(account, addr string, now time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	var until time.Time
	for _, k := range []lockKey{{account: account, addr: addr}, {account: account, all: true}} {
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
	for _, k := range []struct {
		lockKey
		after int
	}{{lockKey{account: account, addr: addr}, LockAfter}, {lockKey{account: account, all: true}, GlobalLockAfter}} {
		e := l.get(k.lockKey, now)
		if e == nil {
			for len(l.entries) >= l.max {
				old := l.lru.Back()
				l.lru.Remove(old)
				delete(l.entries, old.Value.(*lockEntry).key)
			}
			e = &lockEntry{key: k.lockKey}
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

// succeeded clears the counts of account from addr and over all
// addresses: its holder has proved who they are. Other addresses' counts
// stay.
func (l *lockout) succeeded(account, addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range []lockKey{{account: account, addr: addr}, {account: account, all: true}} {
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
