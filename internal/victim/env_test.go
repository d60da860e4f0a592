package victim_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/core/coretest"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/platform/seal"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/victim"
)

var start = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// failing is the real indicator service, whose Report fails while fail
// is set: the list out of reach, or a crash before the case learns of
// the indicators.
type failing struct {
	*indicator.Service
	mu   sync.Mutex
	fail bool
	// during, if set, runs before each Report: what happens meanwhile.
	during func()
}

func (f *failing) Report(ctx context.Context, list string, by org.Principal, hashes []indicator.Hash) ([]indicator.Result, error) {
	f.mu.Lock()
	fail, during := f.fail, f.during
	f.mu.Unlock()
	if during != nil {
		during()
	}
	if fail {
		return nil, errors.New("the list is out of reach")
	}
	return f.Service.Report(ctx, list, by, hashes)
}

func (f *failing) set(fail bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = fail
}

type env struct {
	ctx    context.Context
	db     *store.DB
	svc    *victim.Service
	inds   *failing
	sealer *seal.Sealer
	clock  *coretest.Clock

	centre, provider, other, hotlineNL, hotlineDE org.Organisation
}

// engines runs test on a new database of each engine, in parallel.
func engines(t *testing.T, test func(t *testing.T, e *env)) {
	storetest.OnEachEngine(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		t.Parallel()
		test(t, newEnv(t, open(t), true))
	})
}

func newEnv(t *testing.T, db *store.DB, centre bool) *env {
	t.Helper()
	e := &env{ctx: t.Context(), db: db, clock: coretest.NewClock(start)}
	e.sealer = seal.NewSealer(seal.NewKeyring(), db)
	e.inds = &failing{Service: indicator.NewService(db)}
	e.inds.Clock = e.clock.Now
	orgs := []storetest.Org{
		storetest.NewOrg(&e.provider, "Photos", org.Provider, "IE"),
		storetest.NewOrg(&e.other, "Other Provider", org.Provider, "FR"),
		storetest.NewOrg(&e.hotlineNL, "Hotline NL", org.Hotline, "NL"),
		storetest.NewOrg(&e.hotlineDE, "Hotline DE", org.Hotline, "DE"),
	}
	if centre {
		orgs = append(orgs, storetest.NewOrg(&e.centre, "Centre", org.Centre, "BE"))
	}
	storetest.CreateOrgs(t, db, orgs...)
	e.svc = victim.New(db.Victims(), e.inds, victim.Options{Sealer: e.sealer, Audit: audit.NewLog(db, nil), Clock: e.clock.Now})
	return e
}

func (e *env) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	err := e.db.ReadWrite(e.ctx, func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.Exec(ctx, q, args...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (e *env) count(t *testing.T, q string, args ...any) int {
	t.Helper()
	var n int
	err := e.db.ReadOnly(e.ctx, func(ctx context.Context, tx *store.Tx) error { return tx.QueryRow(ctx, q, args...).Scan(&n) })
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// md5s returns n MD5 hashes, from seed on.
func md5s(seed, n int) []indicator.Hash {
	out := make([]indicator.Hash, n)
	for i := range out {
		out[i] = indicator.Hash{Signal: indicator.MD5, Value: fmt.Sprintf("%032x", 0xfeed0000+seed+i)}
	}
	return out
}

func (e *env) open(t *testing.T, hashes ...indicator.Hash) victim.Receipt {
	t.Helper()
	rc, err := e.svc.Open(e.ctx, hashes, "")
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

func (e *env) status(t *testing.T, rc victim.Receipt) victim.Status {
	t.Helper()
	st, err := e.svc.Status(e.ctx, rc.Case, rc.Secret)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// states returns the states of st's hashes, in order, as one string.
func states(st victim.Status) string {
	s := ""
	for _, h := range st.Hashes {
		if s != "" {
			s += " "
		}
		s += string(h.State)
	}
	return s
}
