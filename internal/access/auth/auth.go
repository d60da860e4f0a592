// Package auth holds Ward's staff users: people of the centre and of the
// organisations it works with, who use the console. It enrols them, logs
// them in with a password and a TOTP code, and keeps their sessions. What a
// user may do once logged in is package policy's table, by the user's role
// and organisation.
//
// # Accounts
//
// An administrator adds a user with a role that fits the organisation's
// kind (policy.Role.Fits) and gives them the one-time enrolment link. The
// user opens it (BeginEnrolment shows the TOTP secret to add to an
// authenticator app), then chooses a password and proves the app works
// with a code (CompleteEnrolment). The link works once, for 72 hours.
//
// A second factor is required of every role, not only of the roles that
// see report content: administrators can give themselves any access, and
// auditors see who did what to which report.
//
// # Secrets and personal data
//
//   - E-mail addresses are personal data: stored sealed (encrypted with a
//     key kept outside the database, see Sealer) and found through a blind
//     index, a keyed hash of the lower-cased address. TOTP secrets and the
//     address a session was opened from are sealed too.
//   - Passwords are hashed with argon2id (RFC 9106) and stored in the PHC
//     string format with their parameters; at least 12 characters, not the
//     e-mail address.
//   - Enrolment and session tokens are 32 random bytes; only their SHA-256
//     is stored.
//
// # Logging in
//
// Login answers ErrBadCredentials for any wrong part (e-mail, password or
// code) and does the same argon2 work for an unknown address, so neither
// its answer nor its timing tells whether an account exists. TOTP follows
// RFC 6238 (30-second steps, 6 digits, one step of clock skew either way)
// and accepts no code twice. Failed logins are counted by account and
// client address: after LockAfter (5) consecutive failures from one
// address the account is locked for that address for 1 minute, then 2, 4,
// ... up to an hour after each further failure, never for other
// addresses; after AddrLockAfter (20) from one address on any accounts,
// every account for that address. A successful login resets the count.
// Unknown addresses are counted and locked exactly like accounts, so that even LockedError does not tell that an account exists
// (see lockout.go).
//
// A session ends after 30 minutes without use, 12 hours after login in any
// case, at logout, or when the user is disabled.
package auth

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/wardhq/ward/internal/access/clientip"
	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/core/text"
)

// Sealer encrypts personal data for storage and computes blind indexes
// (keyed hashes) to find it again. Package seal implements it.
type Sealer interface {
	// Seal encrypts plaintext, binding it to aad: Open succeeds only with
	// the same aad, so a sealed value cannot be moved to another row.
	Seal(ctx context.Context, plaintext, aad []byte) ([]byte, error)
	Open(ctx context.Context, sealed, aad []byte) ([]byte, error)
	// BlindIndex returns a keyed hash of value, distinct per domain.
	BlindIndex(domain string, value []byte) []byte
}

// Role is a user's role; policy defines the roles and what each may do.
type Role = policy.Role

// Roles lists the roles a user can have.
var Roles = policy.Roles

// User is a staff user.
type User struct {
	ID      int64
	OrgID   int64
	OrgName string
	OrgKind org.Kind
	Email   string // lower case
	Role    Role
	// Enrolled is whether the user has set a password and a TOTP secret;
	// until then the user cannot log in.
	Enrolled  bool
	CreatedAt time.Time
	// DisabledAt is when the user was disabled, zero if not. A disabled
	// user cannot log in, and has no sessions.
	DisabledAt time.Time
}

// Session is a logged-in user's session.
type Session struct {
	// Token is the session's secret, for the cookie; set only in the
	// result of Login.
	Token      string
	UserID     int64
	RemoteAddr string // where the login came from
	CreatedAt  time.Time
	LastSeen   time.Time
	// Expires is the session's absolute end; it ends sooner if unused
	// for IdleTimeout.
	Expires time.Time
}

// Account is a user as stored: sealed where the User has plain text, and
// the hashes and state of the credentials.
type Account struct {
	User         // Email is empty: the store holds only EmailSealed
	EmailIndex   []byte
	EmailSealed  []byte
	PasswordHash string // argon2id PHC string; empty until enrolled
	TOTPSealed   []byte // nil until enrolled
	// PendingTOTPSealed is the secret shown during enrolment, which
	// becomes TOTPSealed when enrolment completes.
	PendingTOTPSealed []byte
	// TOTPLastStep is the time step of the last TOTP code accepted.
	TOTPLastStep int64
	// EnrolTokenHash is SHA-256 of the enrolment token; nil once used.
	EnrolTokenHash []byte
	EnrolExpiresAt time.Time
}

// SessionRecord is a session as stored.
type SessionRecord struct {
	TokenHash        []byte // SHA-256 of the token
	UserID           int64
	RemoteAddrSealed []byte
	CreatedAt        time.Time
	LastSeen         time.Time
	ExpiresAt        time.Time
}

// Store is the storage of users and sessions. Methods that find an
// account or session return an core.ErrNotFound error if there is none.
type Store interface {
	OrgByName(ctx context.Context, name string) (org.Organisation, error)
	// CreateUser stores a (ignoring its ID) and returns it with its ID
	// and organisation, or an core.ErrConflict error if its EmailIndex is
	// taken.
	CreateUser(ctx context.Context, a Account) (Account, error)
	UserByID(ctx context.Context, id int64) (Account, error)
	UserByEmailIndex(ctx context.Context, index []byte) (Account, error)
	UserByEnrolToken(ctx context.Context, tokenHash []byte) (Account, error)
	// Users returns the accounts of organisation orgID, or all if orgID
	// is 0.
	Users(ctx context.Context, orgID int64) ([]Account, error)
	// SetPendingTOTP sets the pending TOTP secret of the account whose
	// enrolment token hash is tokenHash if it has none, and returns an
	// core.ErrConflict error if it has one (set concurrently).
	SetPendingTOTP(ctx context.Context, id int64, tokenHash, sealed []byte) error
	// CompleteEnrolment sets the password hash, makes the pending TOTP
	// secret the account's with lastStep as its last step used, marks the
	// account enrolled at at and removes the enrolment token, if the
	// token is still tokenHash; else it returns an core.ErrNotFound error.
	CompleteEnrolment(ctx context.Context, id int64, tokenHash []byte, passwordHash string, lastStep int64, at time.Time) error
	// LoginSucceeded records a successful login in one transaction: it
	// returns an core.ErrConflict error, changing nothing, unless step is
	// after the account's TOTPLastStep; else it sets TOTPLastStep to
	// step, stores s, and deletes the sessions that ended before
	// s.CreatedAt (expired, or last seen before idleCutoff). (Failed
	// logins are counted in memory, not stored: see Service.)
	LoginSucceeded(ctx context.Context, id, step int64, s SessionRecord, idleCutoff time.Time) error
	// Session returns the session with that token hash and its account.
	Session(ctx context.Context, tokenHash []byte) (SessionRecord, Account, error)
	// TouchSession sets the session's LastSeen.
	TouchSession(ctx context.Context, tokenHash []byte, at time.Time) error
	// DeleteSession deletes the session, if it exists.
	DeleteSession(ctx context.Context, tokenHash []byte) error
	// DeleteSessions deletes every session of the user.
	DeleteSessions(ctx context.Context, userID int64) error
	// Sessions returns the sessions of the user, newest first.
	Sessions(ctx context.Context, userID int64) ([]SessionRecord, error)
	// DisableUser marks the account disabled at at (unless it is
	// already), removes its enrolment token and deletes its sessions,
	// in one transaction.
	DisableUser(ctx context.Context, id int64, at time.Time) error
}

// Errors of logging in, each an core.ErrForbidden.
var (
	// ErrBadCredentials is the answer to a login with any part wrong,
	// whichever it was.
	ErrBadCredentials = core.Errorf(core.ErrForbidden, "wrong e-mail address, password or code")
	// ErrLocked is what a *LockedError is.
	ErrLocked = core.Errorf(core.ErrForbidden, "account locked after repeated failed logins")
	// ErrNoSession is the answer to a session token that is unknown or
	// whose session has ended.
	ErrNoSession = core.Errorf(core.ErrForbidden, "not logged in, or the session has ended")
)

// LockedError is the answer to a login while the account is locked; it is
// an ErrLocked.
type LockedError struct {
	Until time.Time // when the lock ends
}

func (e *LockedError) Error() string {
	return ErrLocked.Error() + "; try again after " + e.Until.UTC().Format(time.RFC3339)
}

func (e *LockedError) Unwrap() error { return ErrLocked }

// errEnrolLink answers any enrolment token that cannot be used, without
// saying why.
var errEnrolLink = core.Errorf(core.ErrNotFound, "this enrolment link is not valid: it may have been used or have expired; ask your administrator for a new one")

// Timing rules.
const (
	EnrolmentValidity = 72 * time.Hour
	IdleTimeout       = 30 * time.Minute
	SessionLifetime   = 12 * time.Hour
	// touchEvery is how stale a session's LastSeen may get before a
	// request updates it: the idle timeout is that much coarse, and a busy
	// console does not write to the database on every page.
	touchEvery = time.Minute
)

// Blind index domain and sealing contexts (the aad), which tie each sealed
// value to its purpose and row.
const (
	emailDomain = "users.email"
	aadEmail    = "users.email:"          // + hex of the blind index (the ID is not known when sealing)
	aadTOTP     = "users.totp:"           // + user ID
	aadAddr     = "sessions.remote_addr:" // + hex of the token hash
)

// Service manages users and sessions.
type Service struct {
	store  Store
	sealer Sealer
	slots  chan struct{} // argon2 computations allowed at once
	params argonParams
	locks  *lockout
	// Clock is the service's clock, the system's if nil; set it, if at
	// all, before the service is used.
	Clock core.Clock
}

// NewService returns a service keeping users in st and sealing their
// personal data with sealer.
func NewService(st Store, sealer Sealer) *Service {
	return &Service{
		store: st, sealer: sealer,
		slots:  make(chan struct{}, max(2, runtime.GOMAXPROCS(0))),
		params: defaultParams,
		locks:  newLockout(maxLockEntries),
	}
}

// maxEmailLen is the longest address SMTP allows (RFC 5321 with RFC 3696
// erratum 1690).
const maxEmailLen = 254

// ParseEmail returns the address s, trimmed and lower-cased, if it is a bare
// address (local@domain, no display name).
func ParseEmail(s string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(s))
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || len(e) > maxEmailLen || strings.ContainsFunc(e, unicode.IsControl) || text.Check(e) != nil ||
		!strings.Contains(e[strings.LastIndexByte(e, '@')+1:], ".") {
		return "", core.Errorf(core.ErrInvalid, "%q is not an e-mail address", s)
	}
	return e, nil
}

// AddUser adds a user of role to the organisation named orgName and returns
// it with its one-time enrolment token, to be given to the user as a link
// (see BeginEnrolment). The role must fit the organisation's kind.
func (s *Service) AddUser(ctx context.Context, orgName string, role Role, email string) (User, string, error) {
	o, err := s.store.OrgByName(ctx, orgName)
	if err != nil {
		return User{}, "", fmt.Errorf("organisation %q: %w", orgName, err)
	}
	if _, err := policy.ParseRole(string(role)); err != nil {
		return User{}, "", err
	}
	if !role.Fits(o.Kind) {
		return User{}, "", core.Errorf(core.ErrInvalid, "the role %s is for %s organisations; %q is a %s",
			role, joinKinds(role.Kinds()), o.Name, o.Kind)
	}
	if email, err = ParseEmail(email); err != nil {
		return User{}, "", err
	}
	index := s.sealer.BlindIndex(emailDomain, []byte(email))
	sealed, err := s.sealer.Seal(ctx, []byte(email), []byte(aadEmail+hex.EncodeToString(index)))
	if err != nil {
		return User{}, "", fmt.Errorf("sealing the e-mail address: %w", err)
	}
	token, tokenHash := newToken()
	now := s.Clock.Now()
	a, err := s.store.CreateUser(ctx, Account{
		User:       User{OrgID: o.ID, Role: role, CreatedAt: now},
		EmailIndex: index, EmailSealed: sealed,
		EnrolTokenHash: tokenHash, EnrolExpiresAt: now.Add(EnrolmentValidity),
	})
	if errors.Is(err, core.ErrConflict) {
		return User{}, "", core.Errorf(core.ErrConflict, "a user with e-mail address %s exists already", email)
	}
	if err != nil {
		return User{}, "", fmt.Errorf("adding user: %w", err)
	}
	u := a.User
	u.Email = email
	return u, token, nil
}

func joinKinds(ks []org.Kind) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return strings.Join(s, " or ")
}

// newToken returns a new random token, as it is given out (unpadded
// base64url), and its hash, as it is stored.
func newToken() (token string, hash []byte) {
	var b [32]byte
	rand.Read(b[:])
	h := sha256.Sum256(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:]), h[:]
}

// tokenHash returns the stored form of a token given out by newToken, or
// false if token cannot be one.
func tokenHash(token string) ([]byte, bool) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(b) != 32 {
		return nil, false
	}
	h := sha256.Sum256(b)
	return h[:], true
}

// user opens a's e-mail address and returns a's User.
func (s *Service) user(ctx context.Context, a Account) (User, error) {
	email, err := s.sealer.Open(ctx, a.EmailSealed, []byte(aadEmail+hex.EncodeToString(a.EmailIndex)))
	if err != nil {
		return User{}, fmt.Errorf("opening the e-mail address of user %d: %w", a.ID, err)
	}
	u := a.User
	u.Email = string(email)
	return u, nil
}

// User returns the user with that ID.
func (s *Service) User(ctx context.Context, id int64) (User, error) {
	a, err := s.store.UserByID(ctx, id)
	if err != nil {
		return User{}, err
	}
	return s.user(ctx, a)
}

// UserByEmail returns the user with that e-mail address.
func (s *Service) UserByEmail(ctx context.Context, email string) (User, error) {
	e, err := ParseEmail(email)
	if err != nil {
		return User{}, err
	}
	a, err := s.store.UserByEmailIndex(ctx, s.sealer.BlindIndex(emailDomain, []byte(e)))
	if errors.Is(err, core.ErrNotFound) {
		return User{}, core.Errorf(core.ErrNotFound, "no user with e-mail address %s", e)
	}
	if err != nil {
		return User{}, err
	}
	return s.user(ctx, a)
}

// Users returns the users of the organisation with that ID, or of every
// organisation if orgID is 0, ordered by organisation and e-mail address.
func (s *Service) Users(ctx context.Context, orgID int64) ([]User, error) {
	accounts, err := s.store.Users(ctx, orgID)
	if err != nil {
		return nil, err
	}
	users := make([]User, 0, len(accounts))
	for _, a := range accounts {
		u, err := s.user(ctx, a)
		if err != nil {
			return nil, err
		}
		users = append(users, u)
	}
	// The addresses are sealed, so only here can they be ordered.
	slices.SortFunc(users, func(a, b User) int {
		return cmp.Or(strings.Compare(a.OrgName, b.OrgName), strings.Compare(a.Email, b.Email))
	})
	return users, nil
}

// DisableUser disables the user with that ID for good: it cannot log in or
// enrol, and its sessions end at once. Disabling a disabled user changes
// nothing.
func (s *Service) DisableUser(ctx context.Context, id int64) error {
	return s.store.DisableUser(ctx, id, s.Clock.Now())
}

// BeginEnrolment returns the user whose enrolment token this is, and the
// TOTP secret to add to an authenticator app, in base32 and as an
// otpauth:// URL (for a QR code). Until enrolment completes it returns the
// same secret each time, so the page can be reloaded.
func (s *Service) BeginEnrolment(ctx context.Context, token string) (u User, secret, otpauthURL string, err error) {
	a, hash, err := s.enrolling(ctx, token)
	if err != nil {
		return User{}, "", "", err
	}
	if u, err = s.user(ctx, a); err != nil {
		return User{}, "", "", err
	}
	aad := []byte(aadTOTP + strconv.FormatInt(a.ID, 10))
	var raw []byte
	if a.PendingTOTPSealed == nil {
		raw = newTOTPSecret()
		sealed, err := s.sealer.Seal(ctx, raw, aad)
		if err != nil {
			return User{}, "", "", fmt.Errorf("sealing the TOTP secret: %w", err)
		}
		err = s.store.SetPendingTOTP(ctx, a.ID, hash, sealed)
		if errors.Is(err, core.ErrConflict) {
			// Another request of the same enrolment set one first:
			// show that one.
			if a, _, err = s.enrolling(ctx, token); err != nil {
				return User{}, "", "", err
			}
			raw = nil
		} else if err != nil {
			return User{}, "", "", err
		}
	}
	if raw == nil {
		if raw, err = s.sealer.Open(ctx, a.PendingTOTPSealed, aad); err != nil {
			return User{}, "", "", fmt.Errorf("opening the TOTP secret of user %d: %w", a.ID, err)
		}
	}
	url, err := totpURL(raw, u.Email)
	if err != nil {
		return User{}, "", "", err
	}
	return u, b32.EncodeToString(raw), url, nil
}

// enrolling returns the account that token enrols, and the token's hash.
func (s *Service) enrolling(ctx context.Context, token string) (Account, []byte, error) {
	hash, ok := tokenHash(token)
	if !ok {
		return Account{}, nil, errEnrolLink
	}
	a, err := s.store.UserByEnrolToken(ctx, hash)
	if errors.Is(err, core.ErrNotFound) {
		return Account{}, nil, errEnrolLink
	}
	if err != nil {
		return Account{}, nil, err
	}
	if !s.Clock.Now().Before(a.EnrolExpiresAt) || !a.DisabledAt.IsZero() {
		return Account{}, nil, errEnrolLink
	}
	return a, hash, nil
}

// CompleteEnrolment sets the user's password and enables the TOTP secret
// shown by BeginEnrolment once code shows that the app has it. The token is
// then used up. A password that breaks the rules, or a wrong code, is an
// core.ErrInvalid error saying which, and the enrolment can be tried again.
func (s *Service) CompleteEnrolment(ctx context.Context, token, password, code string) error {
	a, hash, err := s.enrolling(ctx, token)
	if err != nil {
		return err
	}
	if a.PendingTOTPSealed == nil {
		return core.Errorf(core.ErrInvalid, "open the enrolment link first to set up the authenticator app")
	}
	u, err := s.user(ctx, a)
	if err != nil {
		return err
	}
	if err := checkPassword(password, u.Email); err != nil {
		return err
	}
	secret, err := s.sealer.Open(ctx, a.PendingTOTPSealed, []byte(aadTOTP+strconv.FormatInt(a.ID, 10)))
	if err != nil {
		return fmt.Errorf("opening the TOTP secret of user %d: %w", a.ID, err)
	}
	step, ok, err := checkTOTP(secret, strings.TrimSpace(code), s.Clock.Now(), 0)
	if err != nil {
		return err
	}
	if !ok {
		return core.Errorf(core.ErrInvalid, "the code is not the one the authenticator app shows now; check that the device's clock is right")
	}
	var phc string
	if err := s.hashing(ctx, func() { phc = hashPassword(password, s.params) }); err != nil {
		return err
	}
	err = s.store.CompleteEnrolment(ctx, a.ID, hash, phc, step, s.Clock.Now())
	if errors.Is(err, core.ErrNotFound) {
		return errEnrolLink
	}
	return err
}

// Login checks a user's e-mail address, password and TOTP code and opens a
// session. Any wrong part gives ErrBadCredentials; an account locked for
// remoteAddr, known or not, gives a *LockedError. remoteAddr is where the
// request came from (host:port); failures are counted by it, and it is
// kept, sealed, with the session.
func (s *Service) Login(ctx context.Context, email, password, code, remoteAddr string) (Session, User, error) {
	// Failures are counted by the blind index of what was typed, whether
	// or not it is an account's address (bounded: typed addresses longer
	// than any account's are cut).
	e, perr := ParseEmail(email)
	if perr != nil {
		e = strings.ToLower(strings.TrimSpace(email))
		e = e[:min(len(e), 4*maxEmailLen)]
	}
	index := s.sealer.BlindIndex(emailDomain, []byte(e))
	account, from := string(index), clientip.Key(remoteAddr)
	now := s.Clock.Now()
	if until := s.locks.locked(account, from, now); !until.IsZero() {
		return Session{}, User{}, &LockedError{Until: until}
	}
	var a Account
	found := false
	if perr == nil {
		var err error
		a, err = s.store.UserByEmailIndex(ctx, index)
		switch {
		case err == nil:
			found = true
		case !errors.Is(err, core.ErrNotFound):
			return Session{}, User{}, err
		}
	}
	usable := found && a.DisabledAt.IsZero() && a.Enrolled && a.PasswordHash != ""
	phc := dummyHash
	if usable {
		phc = a.PasswordHash
	}
	var (
		match bool
		verr  error
	)
	if err := s.hashing(ctx, func() { match, verr = verifyPassword(phc, password) }); err != nil {
		return Session{}, User{}, err
	}
	if verr != nil {
		return Session{}, User{}, fmt.Errorf("password hash of user %d: %w", a.ID, verr)
	}
	failed := func() error {
		if until := s.locks.fail(account, from, s.Clock.Now()); !until.IsZero() {
			return &LockedError{Until: until}
		}
		return ErrBadCredentials
	}
	if !usable || !match {
		return Session{}, User{}, failed()
	}
	secret, err := s.sealer.Open(ctx, a.TOTPSealed, []byte(aadTOTP+strconv.FormatInt(a.ID, 10)))
	if err != nil {
		return Session{}, User{}, fmt.Errorf("opening the TOTP secret of user %d: %w", a.ID, err)
	}
	step, ok, err := checkTOTP(secret, strings.TrimSpace(code), now, a.TOTPLastStep)
	if err != nil {
		return Session{}, User{}, err
	}
	if !ok {
		return Session{}, User{}, failed()
	}

	token, hash := newToken()
	addr, err := s.sealer.Seal(ctx, []byte(remoteAddr), []byte(aadAddr+hex.EncodeToString(hash)))
	if err != nil {
		return Session{}, User{}, fmt.Errorf("sealing the remote address: %w", err)
	}
	rec := SessionRecord{TokenHash: hash, UserID: a.ID, RemoteAddrSealed: addr, CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(SessionLifetime)}
	err = s.store.LoginSucceeded(ctx, a.ID, step, rec, now.Add(-IdleTimeout))
	if errors.Is(err, core.ErrConflict) {
		// A concurrent login used the same code first.
		return Session{}, User{}, failed()
	}
	if err != nil {
		return Session{}, User{}, err
	}
	u, err := s.user(ctx, a)
	if err != nil {
		return Session{}, User{}, err
	}
	s.locks.succeeded(account, from)
	return Session{Token: token, UserID: a.ID, RemoteAddr: remoteAddr, CreatedAt: now, LastSeen: now, Expires: rec.ExpiresAt}, u, nil
}

// Session returns the user of the session with that token, and keeps the
// session alive. A token of no live session gives ErrNoSession.
func (s *Service) Session(ctx context.Context, token string) (User, error) {
	hash, ok := tokenHash(token)
	if !ok {
		return User{}, ErrNoSession
	}
	rec, a, err := s.store.Session(ctx, hash)
	if errors.Is(err, core.ErrNotFound) {
		return User{}, ErrNoSession
	}
	if err != nil {
		return User{}, err
	}
	now := s.Clock.Now()
	if !now.Before(rec.ExpiresAt) || now.Sub(rec.LastSeen) >= IdleTimeout || !a.DisabledAt.IsZero() {
		if err := s.store.DeleteSession(ctx, hash); err != nil {
			return User{}, err
		}
		return User{}, ErrNoSession
	}
	if now.Sub(rec.LastSeen) >= touchEvery {
		if err := s.store.TouchSession(ctx, hash, now); err != nil {
			return User{}, err
		}
	}
	return s.user(ctx, a)
}

// Sessions returns the live sessions of the user with that ID, newest
// first, without their tokens.
func (s *Service) Sessions(ctx context.Context, userID int64) ([]Session, error) {
	recs, err := s.store.Sessions(ctx, userID)
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	var out []Session
	for _, r := range recs {
		if !now.Before(r.ExpiresAt) || now.Sub(r.LastSeen) >= IdleTimeout {
			continue
		}
		addr, err := s.sealer.Open(ctx, r.RemoteAddrSealed, []byte(aadAddr+hex.EncodeToString(r.TokenHash)))
		if err != nil {
			return nil, fmt.Errorf("opening a session's remote address: %w", err)
		}
		out = append(out, Session{UserID: r.UserID, RemoteAddr: string(addr), CreatedAt: r.CreatedAt, LastSeen: r.LastSeen, Expires: r.ExpiresAt})
	}
	return out, nil
}

// Logout ends the session with that token. Ending an ended session, or
// an unknown one, changes nothing.
func (s *Service) Logout(ctx context.Context, token string) error {
	hash, ok := tokenHash(token)
	if !ok {
		return nil
	}
	return s.store.DeleteSession(ctx, hash)
}

// LogoutAll ends every session of the user with that ID.
func (s *Service) LogoutAll(ctx context.Context, userID int64) error {
	return s.store.DeleteSessions(ctx, userID)
}
