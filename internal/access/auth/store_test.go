package auth_test

import (
	"bytes"
	"context"
	"encoding/base32"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/wardhq/ward/internal/access/auth"
	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/platform/seal"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
)

// TestStore runs staff users (enrolment, login, lockout, sessions) and the
// API keys' scopes, expiry and revocation through the services, with
// personal data sealed by a real seal.Sealer, on a new database of each
// engine per subtest, in parallel.
func TestStore(t *testing.T) {
	storetest.OnEachEngine(t, runStore)
}

func runStore(t *testing.T, open func(testing.TB) *store.DB) {
	tests := []struct {
		name string
		fn   func(t *testing.T, e *userEnv)
	}{
		{"AddUser", testAddUser},
		{"Enrolment", testEnrolment},
		{"EnrolmentExpiry", testEnrolmentExpiry},
		{"Login", testLogin},
		{"Lockout", testLockout},
		{"ConcurrentLogins", testConcurrentLogins},
		{"Sessions", testSessions},
		{"Disable", testDisable},
		{"SealedAtRest", testSealedAtRest},
		{"KeyLifecycle", testKeyLifecycle},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := open(t)
			sealer := seal.NewSealer(seal.NewKeyring(), db)
			e := &userEnv{
				ctx: t.Context(), db: db, orgs: org.NewService(db),
				users: auth.NewService(db, sealer), sealer: sealer,
				clock: time.Date(2026, 3, 2, 9, 0, 10, 0, time.UTC),
			}
			e.users.Clock = e.now
			tc.fn(t, e)
		})
	}
}

type userEnv struct {
	ctx    context.Context
	db     *store.DB
	orgs   *org.Service
	users  *auth.Service
	sealer *seal.Sealer

	mu    sync.Mutex
	clock time.Time
}

func (e *userEnv) now() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.clock
}

func (e *userEnv) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.clock = e.clock.Add(d)
}

func (e *userEnv) org(t *testing.T, name string, kind org.Kind, country string) org.Organisation {
	t.Helper()
	o, err := e.orgs.Create(e.ctx, name, kind, country)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func (e *userEnv) add(t *testing.T, orgName string, role auth.Role, email string) (auth.User, string) {
	t.Helper()
	u, token, err := e.users.AddUser(e.ctx, orgName, role, email)
	if err != nil {
		t.Fatalf("adding %s: %v", email, err)
	}
	return u, token
}

// code is the TOTP code of a base32 secret at the clock's time plus
// steps time steps, computed as an authenticator app does.
func (e *userEnv) code(t *testing.T, secret string, steps int) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, e.now().Add(time.Duration(steps)*30*time.Second),
		totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const password = "a long enough passphrase"

// enrolled adds a user and completes its enrolment, returning its TOTP
// secret. The clock moves to the next time step, so that the code used to
// enrol is not the one of the first login.
func (e *userEnv) enrolled(t *testing.T, orgName string, role auth.Role, email string) (auth.User, string) {
	t.Helper()
	u, token := e.add(t, orgName, role, email)
	_, secret, _, err := e.users.BeginEnrolment(e.ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.users.CompleteEnrolment(e.ctx, token, password, e.code(t, secret, 0)); err != nil {
		t.Fatal(err)
	}
	e.advance(30 * time.Second)
	return u, secret
}

func (e *userEnv) login(t *testing.T, email, secret string) (auth.Session, auth.User) {
	t.Helper()
	s, u, err := e.users.Login(e.ctx, email, password, e.code(t, secret, 0), "192.0.2.7:4711")
	if err != nil {
		t.Fatalf("logging in %s: %v", email, err)
	}
	return s, u
}

func testAddUser(t *testing.T, e *userEnv) {
	centre := e.org(t, "Centre", org.Centre, "BE")
	e.org(t, "Hotline NL", org.Hotline, "NL")
	e.org(t, "BKA", org.LEA, "DE")
	e.org(t, "Europol", org.Europol, "NL")
	e.org(t, "Provider", org.Provider, "IE")
	e.org(t, "Host", org.Host, "NL")
	names := map[org.Kind]string{org.Centre: "Centre", org.Hotline: "Hotline NL", org.LEA: "BKA", org.Europol: "Europol",
		org.Provider: "Provider", org.Host: "Host"}

	// Every role in every kind: added exactly where it fits.
	n := 0
	for _, r := range auth.Roles {
		for _, k := range org.Kinds {
			email := fmt.Sprintf("%s.%s@example.org", r, k)
			u, token, err := e.users.AddUser(e.ctx, names[k], r, email)
			if !r.Fits(k) {
				wantErr(t, fmt.Sprintf("%s in a %s", r, k), err, core.ErrInvalid)
				continue
			}
			if err != nil {
				t.Errorf("%s in a %s: %v", r, k, err)
				continue
			}
			n++
			if u.ID == 0 || u.OrgName != names[k] || u.OrgKind != k || u.Role != r || u.Email != email ||
				u.Enrolled || !u.CreatedAt.Equal(e.now()) || !u.DisabledAt.IsZero() || len(token) != 43 {
				t.Errorf("added %+v with token %q", u, token)
			}
		}
	}

	_, _, err := e.users.AddUser(e.ctx, "Centre", policy.Analyst, "  Ana@Example.ORG ")
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = e.users.AddUser(e.ctx, "Hotline NL", policy.Analyst, "ana@example.org")
	wantErr(t, "same address, other case and organisation", err, core.ErrConflict)
	_, _, err = e.users.AddUser(e.ctx, "Nobody", policy.Analyst, "x@example.org")
	wantErr(t, "unknown organisation", err, core.ErrNotFound)
	_, _, err = e.users.AddUser(e.ctx, "Centre", "root", "x@example.org")
	wantErr(t, "unknown role", err, core.ErrInvalid)
	_, _, err = e.users.AddUser(e.ctx, "Centre", policy.APIKey, "x@example.org")
	wantErr(t, "no role", err, core.ErrInvalid)
	for _, bad := range []string{"", "ana", "ana@", "@example.org", "Ana <ana@example.org>", "ana@example", "a b@example.org", "ana@exa\x00mple.org", strings.Repeat("a", 250) + "@example.org"} {
		_, _, err = e.users.AddUser(e.ctx, "Centre", policy.Analyst, bad)
		wantErr(t, fmt.Sprintf("address %q", bad), err, core.ErrInvalid)
	}

	all, err := e.users.Users(e.ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != n+1 {
		t.Fatalf("%d users, want %d", len(all), n+1)
	}
	for i := 1; i < len(all); i++ {
		a, b := all[i-1], all[i]
		if a.OrgName > b.OrgName || (a.OrgName == b.OrgName && a.Email >= b.Email) {
			t.Errorf("users not ordered by organisation and address: %s/%s before %s/%s", a.OrgName, a.Email, b.OrgName, b.Email)
		}
	}
	mine, err := e.users.Users(e.ctx, centre.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range mine {
		got = append(got, string(u.Role)+":"+u.Email)
	}
	if want := "admin:admin.centre@example.org analyst:ana@example.org analyst:analyst.centre@example.org auditor:auditor.centre@example.org reviewer:reviewer.centre@example.org"; strings.Join(got, " ") != want {
		t.Errorf("the centre's users: %s\nwant: %s", strings.Join(got, " "), want)
	}
	u, err := e.users.UserByEmail(e.ctx, "ANA@example.org")
	if err != nil || u.Email != "ana@example.org" || u.OrgID != centre.ID {
		t.Errorf("UserByEmail = %+v, %v", u, err)
	}
	if byID, err := e.users.User(e.ctx, u.ID); err != nil || byID != u {
		t.Errorf("User(%d) = %+v, %v; want %+v", u.ID, byID, err, u)
	}
	_, err = e.users.UserByEmail(e.ctx, "nobody@example.org")
	wantErr(t, "unknown address", err, core.ErrNotFound)
	_, err = e.users.User(e.ctx, 1<<40)
	wantErr(t, "unknown ID", err, core.ErrNotFound)
}

func testEnrolment(t *testing.T, e *userEnv) {
	e.org(t, "Centre", org.Centre, "BE")
	u, token := e.add(t, "Centre", policy.Admin, "admin@example.org")

	err := e.users.CompleteEnrolment(e.ctx, token, password, "123456")
	wantErr(t, "completing before beginning", err, core.ErrInvalid)

	got, secret, url, err := e.users.BeginEnrolment(e.ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != u.ID || got.Email != "admin@example.org" || got.OrgName != "Centre" || len(secret) != 32 ||
		!strings.HasPrefix(url, "otpauth://totp/Ward:admin@example.org?") || !strings.Contains(url, "secret="+secret) {
		t.Errorf("BeginEnrolment = %+v, %q, %q", got, secret, url)
	}
	// Reloading the page shows the same secret.
	_, again, _, err := e.users.BeginEnrolment(e.ctx, token)
	if err != nil || again != secret {
		t.Errorf("second BeginEnrolment: %q, %v; want the same secret", again, err)
	}

	for _, bad := range []string{"", "x", token[:42], token + "A", strings.Repeat("A", 43)} {
		_, _, _, err := e.users.BeginEnrolment(e.ctx, bad)
		wantErr(t, fmt.Sprintf("token %q", bad), err, core.ErrNotFound)
	}

	// Mistakes leave the enrolment open.
	for _, tc := range []struct{ name, password, code string }{
		{"short password", "short", e.code(t, secret, 0)},
		{"password is the address", "ADMIN@example.org", e.code(t, secret, 0)},
		{"wrong code", password, "000000"},
		{"code of another step", password, e.code(t, secret, 3)},
	} {
		err := e.users.CompleteEnrolment(e.ctx, token, tc.password, tc.code)
		wantErr(t, tc.name, err, core.ErrInvalid)
	}
	if err := e.users.CompleteEnrolment(e.ctx, token, password, e.code(t, secret, -1)); err != nil {
		t.Fatal(err)
	}
	u, err = e.users.User(e.ctx, u.ID)
	if err != nil || !u.Enrolled {
		t.Errorf("after enrolment: %+v, %v", u, err)
	}
	// The link works once.
	_, _, _, err = e.users.BeginEnrolment(e.ctx, token)
	wantErr(t, "used token", err, core.ErrNotFound)
	err = e.users.CompleteEnrolment(e.ctx, token, password, e.code(t, secret, 0))
	wantErr(t, "used token again", err, core.ErrNotFound)

	// The code used to enrol, and older ones, cannot log in.
	_, _, err = e.users.Login(e.ctx, "admin@example.org", password, e.code(t, secret, -1), "")
	wantErr(t, "login with the enrolment code", err, auth.ErrBadCredentials)
	if _, _, err = e.users.Login(e.ctx, "admin@example.org", password, e.code(t, secret, 0), ""); err != nil {
		t.Errorf("login after enrolment: %v", err)
	}
}

func testEnrolmentExpiry(t *testing.T, e *userEnv) {
	e.org(t, "Centre", org.Centre, "BE")
	_, token := e.add(t, "Centre", policy.Analyst, "late@example.org")
	_, secret, _, err := e.users.BeginEnrolment(e.ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	e.advance(auth.EnrolmentValidity - time.Second)
	if _, _, _, err := e.users.BeginEnrolment(e.ctx, token); err != nil {
		t.Errorf("just before expiry: %v", err)
	}
	e.advance(time.Second)
	_, _, _, err = e.users.BeginEnrolment(e.ctx, token)
	wantErr(t, "expired link", err, core.ErrNotFound)
	err = e.users.CompleteEnrolment(e.ctx, token, password, e.code(t, secret, 0))
	wantErr(t, "completing an expired link", err, core.ErrNotFound)
	_, _, err = e.users.Login(e.ctx, "late@example.org", password, e.code(t, secret, 0), "")
	wantErr(t, "login of a user never enrolled", err, auth.ErrBadCredentials)
}

func testLogin(t *testing.T, e *userEnv) {
	e.org(t, "Hotline NL", org.Hotline, "NL")
	u, secret := e.enrolled(t, "Hotline NL", policy.Analyst, "ana@example.org")
	_, pending := e.add(t, "Hotline NL", policy.Analyst, "pending@example.org")
	if _, _, _, err := e.users.BeginEnrolment(e.ctx, pending); err != nil {
		t.Fatal(err)
	}

	s, got, err := e.users.Login(e.ctx, " Ana@Example.org", password, e.code(t, secret, 0), "192.0.2.7:4711")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != u.ID || got.Email != "ana@example.org" || got.OrgKind != org.Hotline || !got.Enrolled ||
		len(s.Token) != 43 || s.UserID != u.ID || !s.Expires.Equal(e.now().Add(auth.SessionLifetime)) || s.RemoteAddr != "192.0.2.7:4711" {
		t.Errorf("Login = %+v, %+v", s, got)
	}
	if su, err := e.users.Session(e.ctx, s.Token); err != nil || su.ID != u.ID || su.Email != "ana@example.org" {
		t.Errorf("Session = %+v, %v", su, err)
	}

	// Every wrong part gives the same answer.
	var msgs []string
	for _, tc := range []struct{ name, email, password, code string }{
		{"replayed code", "ana@example.org", password, e.code(t, secret, 0)},
		{"wrong password", "ana@example.org", password + "!", e.code(t, secret, 1)},
		{"wrong code", "ana@example.org", password, "000000"},
		{"no code", "ana@example.org", password, ""},
		{"unknown address", "nobody@example.org", password, e.code(t, secret, 1)},
		{"not an address", "nobody", password, e.code(t, secret, 1)},
		{"not enrolled", "pending@example.org", password, e.code(t, secret, 1)},
	} {
		start := time.Now()
		_, _, err := e.users.Login(e.ctx, tc.email, tc.password, tc.code, "")
		took := time.Since(start)
		wantErr(t, tc.name, err, auth.ErrBadCredentials)
		if err != nil {
			msgs = append(msgs, err.Error())
		}
		// An unknown address costs the argon2 work of a known one
		// (about 45 ms; far over this bound, which only a skipped
		// hash would undercut).
		if took < 5*time.Millisecond {
			t.Errorf("%s: answered in %v, too fast to have hashed the password", tc.name, took)
		}
	}
	for _, m := range msgs {
		if m != msgs[0] {
			t.Errorf("login errors differ: %q and %q", m, msgs[0])
		}
	}
	// The next step's code works (one step of skew), then not again.
	if _, _, err := e.users.Login(e.ctx, "ana@example.org", password, e.code(t, secret, 1), ""); err != nil {
		t.Errorf("code of the next step: %v", err)
	}
	e.advance(30 * time.Second)
	_, _, err = e.users.Login(e.ctx, "ana@example.org", password, e.code(t, secret, 0), "")
	wantErr(t, "code of a step already used", err, auth.ErrBadCredentials)
}

func testLockout(t *testing.T, e *userEnv) {
	e.org(t, "Centre", org.Centre, "BE")
	_, secret := e.enrolled(t, "Centre", policy.Reviewer, "rev@example.org")
	const fromA, fromB = "198.51.100.1:1111", "203.0.113.9:2222"
	fail := func(email, from string) (time.Duration, error) {
		start := time.Now()
		_, _, err := e.users.Login(e.ctx, email, "wrong password!", e.code(t, secret, 0), from)
		return time.Since(start), err
	}

	// A known and an unknown account answer alike, failure after failure,
	// in what they say and in the time they take.
	var known, unknown []time.Duration
	var locked *auth.LockedError
	for i := 1; i <= auth.LockAfter+1; i++ {
		tk, errKnown := fail("rev@example.org", fromA)
		tu, errUnknown := fail("nobody@example.org", fromA)
		if errKnown == nil || errUnknown == nil || errKnown.Error() != errUnknown.Error() {
			t.Fatalf("failure %d: known account %v, unknown %v", i, errKnown, errUnknown)
		}
		if i < auth.LockAfter {
			wantErr(t, fmt.Sprintf("failure %d", i), errKnown, auth.ErrBadCredentials)
			known, unknown = append(known, tk), append(unknown, tu)
		} else if !errors.As(errUnknown, &locked) || !locked.Until.Equal(e.now().Add(time.Minute)) {
			t.Fatalf("failure %d of an unknown account: %v, want locked for a minute", i, errUnknown)
		}
	}
	slices.Sort(known)
	slices.Sort(unknown)
	mk, mu := known[len(known)/2], unknown[len(unknown)/2]
	t.Logf("median failed login: known account %v, unknown %v", mk, mu)
	if mu < mk/2 || mu > 2*mk {
		t.Errorf("median failure of a known account %v, of an unknown one %v: not alike", mk, mu)
	}

	// Locked from address A, the account still opens from B.
	if _, _, err := e.users.Login(e.ctx, "rev@example.org", password, e.code(t, secret, 0), fromB); err != nil {
		t.Fatalf("login from another address while locked from A: %v", err)
	}
	e.advance(time.Minute)
	failA := func() error {
		_, err := fail("rev@example.org", fromA)
		return err
	}
	// From A, the lock doubles with each failure.
	for _, wantLock := range []time.Duration{2 * time.Minute, 4 * time.Minute, 8 * time.Minute} {
		err := failA()
		if !errors.As(err, &locked) || !errors.Is(err, auth.ErrLocked) || !errors.Is(err, core.ErrForbidden) ||
			!locked.Until.Equal(e.now().Add(wantLock)) {
			t.Fatalf("locking failure: %v, want locked for %v", err, wantLock)
		}
		// While locked even the right credentials are refused, and the
		// refusals do not extend the lock.
		e.advance(wantLock - time.Second)
		_, _, err = e.users.Login(e.ctx, "rev@example.org", password, e.code(t, secret, 0), fromA)
		if !errors.As(err, &locked) || !locked.Until.Equal(e.now().Add(time.Second)) {
			t.Fatalf("login while locked: %v", err)
		}
		e.advance(time.Second)
	}
	// After the lock, the right credentials work and reset the count.
	if _, _, err := e.users.Login(e.ctx, "rev@example.org", password, e.code(t, secret, 0), fromA); err != nil {
		t.Fatalf("login after the lock: %v", err)
	}
	for i := 1; i < auth.LockAfter; i++ {
		wantErr(t, fmt.Sprintf("failure %d after success", i), failA(), auth.ErrBadCredentials)
	}
	if err := failA(); !errors.As(err, &locked) || !locked.Until.Equal(e.now().Add(time.Minute)) {
		t.Errorf("first lock after a reset: %v, want one minute", err)
	}
	// The cap: an hour.
	for range 8 {
		e.advance(time.Hour)
		err := failA()
		if !errors.As(err, &locked) {
			t.Fatalf("failure while unlocked: %v", err)
		}
	}
	if !locked.Until.Equal(e.now().Add(time.Hour)) {
		t.Errorf("lock until %v, want the cap of an hour after %v", locked.Until, e.now())
	}
}

func testConcurrentLogins(t *testing.T, e *userEnv) {
	e.org(t, "Centre", org.Centre, "BE")
	_, secret := e.enrolled(t, "Centre", policy.Analyst, "ana@example.org")
	code := e.code(t, secret, 0)
	const n = 4
	errs := make(chan error, n)
	for range n {
		go func() {
			_, _, err := e.users.Login(e.ctx, "ana@example.org", password, code, "")
			errs <- err
		}()
	}
	ok := 0
	for range n {
		err := <-errs
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, auth.ErrBadCredentials):
			t.Errorf("concurrent login: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d of %d logins with one code succeeded, want exactly 1", ok, n)
	}
}

func testSessions(t *testing.T, e *userEnv) {
	e.org(t, "Centre", org.Centre, "BE")
	u, secret := e.enrolled(t, "Centre", policy.Auditor, "aud@example.org")

	// Idle timeout, sliding.
	s, _ := e.login(t, "aud@example.org", secret)
	for range 3 {
		e.advance(auth.IdleTimeout - time.Minute)
		if _, err := e.users.Session(e.ctx, s.Token); err != nil {
			t.Fatalf("active session ended: %v", err)
		}
	}
	e.advance(auth.IdleTimeout)
	_, err := e.users.Session(e.ctx, s.Token)
	wantErr(t, "idle session", err, auth.ErrNoSession)
	e.advance(-auth.IdleTimeout)
	_, err = e.users.Session(e.ctx, s.Token)
	wantErr(t, "idle session, once ended", err, auth.ErrNoSession)
	e.advance(auth.IdleTimeout)

	// Absolute lifetime, however active.
	e.advance(30 * time.Second)
	s, _ = e.login(t, "aud@example.org", secret)
	start := e.now()
	for e.now().Before(start.Add(auth.SessionLifetime - 20*time.Minute)) {
		e.advance(20 * time.Minute)
		if _, err := e.users.Session(e.ctx, s.Token); err != nil {
			t.Fatalf("session ended after %v: %v", e.now().Sub(start), err)
		}
	}
	e.advance(start.Add(auth.SessionLifetime).Sub(e.now()))
	_, err = e.users.Session(e.ctx, s.Token)
	wantErr(t, "session at its absolute end", err, auth.ErrNoSession)

	// Logout ends one session; LogoutAll every one.
	e.advance(30 * time.Second)
	a, _ := e.login(t, "aud@example.org", secret)
	e.advance(30 * time.Second)
	b, _ := e.login(t, "aud@example.org", secret)
	e.advance(30 * time.Second)
	c, _ := e.login(t, "aud@example.org", secret)
	list, err := e.users.Sessions(e.ctx, u.ID)
	if err != nil || len(list) != 3 || !list[0].CreatedAt.Equal(e.now()) || list[0].RemoteAddr != "192.0.2.7:4711" || list[0].Token != "" {
		t.Errorf("Sessions = %+v, %v; want 3, newest first, with their address and no token", list, err)
	}
	if err := e.users.Logout(e.ctx, a.Token); err != nil {
		t.Fatal(err)
	}
	_, err = e.users.Session(e.ctx, a.Token)
	wantErr(t, "logged-out session", err, auth.ErrNoSession)
	if err := e.users.Logout(e.ctx, a.Token); err != nil {
		t.Errorf("logging out twice: %v", err)
	}
	if err := e.users.Logout(e.ctx, "garbage"); err != nil {
		t.Errorf("logging out garbage: %v", err)
	}
	if _, err := e.users.Session(e.ctx, b.Token); err != nil {
		t.Errorf("another session ended by logout: %v", err)
	}
	if err := e.users.LogoutAll(e.ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	for _, s := range []auth.Session{b, c} {
		_, err = e.users.Session(e.ctx, s.Token)
		wantErr(t, "session after LogoutAll", err, auth.ErrNoSession)
	}
	for _, bad := range []string{"", "x", b.Token[:42], strings.Repeat("A", 43)} {
		_, err = e.users.Session(e.ctx, bad)
		wantErr(t, fmt.Sprintf("token %q", bad), err, auth.ErrNoSession)
	}
}

func testDisable(t *testing.T, e *userEnv) {
	e.org(t, "Provider", org.Provider, "IE")
	u, secret := e.enrolled(t, "Provider", policy.ProviderAdmin, "pa@example.org")
	_, token := e.add(t, "Provider", policy.ProviderAdmin, "new@example.org")
	s, _ := e.login(t, "pa@example.org", secret)
	if err := e.users.DisableUser(e.ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	_, err := e.users.Session(e.ctx, s.Token)
	wantErr(t, "session of a disabled user", err, auth.ErrNoSession)
	e.advance(30 * time.Second)
	_, _, err = e.users.Login(e.ctx, "pa@example.org", password, e.code(t, secret, 0), "")
	wantErr(t, "login of a disabled user", err, auth.ErrBadCredentials)
	got, err := e.users.User(e.ctx, u.ID)
	if err != nil || !got.DisabledAt.Equal(e.now().Add(-30*time.Second)) {
		t.Errorf("disabled user %+v, %v", got, err)
	}
	e.advance(time.Minute)
	if err := e.users.DisableUser(e.ctx, u.ID); err != nil {
		t.Errorf("disabling again: %v", err)
	}
	if again, _ := e.users.User(e.ctx, u.ID); !again.DisabledAt.Equal(got.DisabledAt) {
		t.Errorf("disabling again moved DisabledAt to %v", again.DisabledAt)
	}
	// A user disabled before enrolling cannot enrol.
	nu, err := e.users.UserByEmail(e.ctx, "new@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.users.DisableUser(e.ctx, nu.ID); err != nil {
		t.Fatal(err)
	}
	_, _, _, err = e.users.BeginEnrolment(e.ctx, token)
	wantErr(t, "enrolling a disabled user", err, core.ErrNotFound)
	wantErr(t, "disabling an unknown user", e.users.DisableUser(e.ctx, 1<<40), core.ErrNotFound)
}

// testSealedAtRest reads every stored column of users and sessions and
// checks that no personal data or secret appears in clear, and that sealed
// values are bound to their row.
func testSealedAtRest(t *testing.T, e *userEnv) {
	e.org(t, "Centre", org.Centre, "BE")
	const email, addr = "secret.person@example.org", "198.51.100.23:5555"
	u, secret := e.enrolled(t, "Centre", policy.Analyst, email)
	if _, _, err := e.users.Login(e.ctx, email, password, e.code(t, secret, 0), addr); err != nil {
		t.Fatal(err)
	}
	rawSecret, err := b32.DecodeString(secret)
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string][]byte{
		"e-mail": []byte(email), "e-mail local part": []byte("secret.person"),
		"TOTP secret": rawSecret, "TOTP secret (base32)": []byte(secret),
		"address": []byte("198.51.100.23"), "password": []byte(password),
	}
	var cells [][]byte
	err = e.db.ReadOnly(e.ctx, func(ctx context.Context, tx *store.Tx) error {
		for _, q := range []string{
			`SELECT email_index, email_sealed, coalesce(password_hash, ''), totp_sealed, totp_pending_sealed, enrol_token_hash, role FROM users`,
			`SELECT token_hash, remote_addr_sealed, '', token_hash, token_hash, token_hash, 'x' FROM sessions`,
		} {
			rows, err := tx.Query(ctx, q)
			if err != nil {
				return err
			}
			for rows.Next() {
				var c [7][]byte
				var s string
				if err := rows.Scan(&c[0], &c[1], &s, &c[3], &c[4], &c[5], &c[6]); err != nil {
					rows.Close()
					return err
				}
				c[2] = []byte(s)
				cells = append(cells, c[:]...)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(cells) != 14 {
		t.Fatalf("read %d cells, want one user and one session", len(cells))
	}
	for _, c := range cells {
		for what, s := range secrets {
			if bytes.Contains(bytes.ToLower(c), bytes.ToLower(s)) {
				t.Errorf("the %s is stored in clear: %q", what, c)
			}
		}
	}

	// A sealed address moved to another user's row does not open there.
	other, _ := e.add(t, "Centre", policy.Analyst, "other@example.org")
	err = e.db.ReadWrite(e.ctx, func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE users SET email_sealed = (SELECT email_sealed FROM users WHERE id = $1) WHERE id = $2`, u.ID, other.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := e.users.User(e.ctx, other.ID); err == nil {
		t.Errorf("a sealed address copied to another row opened there: %+v", got)
	}
}

// b32 is the encoding of the TOTP secrets given to authenticator apps.
var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

func testKeyLifecycle(t *testing.T, e *userEnv) {
	prov := e.org(t, "Provider", org.Provider, "IE")
	e.org(t, "Other", org.Provider, "NL")
	scoped, k, err := e.orgs.CreateKey(e.ctx, "Provider", org.KeyOptions{
		Scopes: []string{"match", "lists.read"}, ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.orgs.Authenticate(e.ctx, scoped)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(p.Scopes, " ") != "lists.read match" || p.KeyID != k.ID {
		t.Errorf("principal %+v, want the key's scopes", p)
	}
	s := policy.ForPrincipal(p)
	if !policy.Allowed(s, policy.Match) || policy.Allowed(s, policy.ChangesRead) {
		t.Errorf("a key scoped to match and lists.read: match %v, changes.read %v",
			policy.Allowed(s, policy.Match), policy.Allowed(s, policy.ChangesRead))
	}

	soon, _, err := e.orgs.CreateKey(e.ctx, "Provider", org.KeyOptions{ExpiresAt: time.Now().Add(300 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	plain, pk, err := e.orgs.CreateKey(e.ctx, "Provider", org.KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.orgs.CreateKey(e.ctx, "Other", org.KeyOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.orgs.Authenticate(e.ctx, soon); err != nil {
		t.Errorf("key before its expiry: %v", err)
	}
	time.Sleep(350 * time.Millisecond)
	_, err = e.orgs.Authenticate(e.ctx, soon)
	wantErr(t, "expired key", err, org.ErrBadKey)

	if err := e.orgs.RevokeKey(e.ctx, pk.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.orgs.Authenticate(e.ctx, plain)
	wantErr(t, "revoked key", err, org.ErrBadKey)
	wantErr(t, "revoking an unknown key", e.orgs.RevokeKey(e.ctx, "0123456789abcdef"), core.ErrNotFound)
	if _, err := e.orgs.Authenticate(e.ctx, scoped); err != nil {
		t.Errorf("revoking one key affected another: %v", err)
	}

	keys, err := e.orgs.Keys(e.ctx, prov.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 3 || keys[0].ID != k.ID || keys[2].ID != pk.ID {
		t.Fatalf("Keys = %+v; want the provider's 3 keys, oldest first", keys)
	}
	if got := keys[0]; strings.Join(got.Scopes, " ") != "lists.read match" || !got.ExpiresAt.Equal(k.ExpiresAt) ||
		!got.RevokedAt.IsZero() || got.SecretHash != k.SecretHash || !got.CreatedAt.Equal(k.CreatedAt) {
		t.Errorf("stored key %+v, created %+v", got, k)
	}
	if got := keys[2]; got.RevokedAt.IsZero() || got.Scopes != nil || !got.ExpiresAt.IsZero() {
		t.Errorf("revoked key %+v", got)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}
