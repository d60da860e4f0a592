package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/wardhq/ward/internal/core"
)

// argonParams are argon2id's cost parameters (RFC 9106). They are written
// into every hash, so changing them here affects new passwords only; old
// hashes keep verifying with their own.
type argonParams struct {
	memory  uint32 // KiB
	time    uint32 // passes
	threads uint8
}

// defaultParams cost about 45 ms and 64 MiB on one core of the 2-core
// machine Ward is benchmarked on, which keeps a login well under 100 ms
// while above OWASP's minimum (46 MiB, one pass).
var defaultParams = argonParams{memory: 64 * 1024, time: 1, threads: 2}

const (
	saltLen = 16
	hashLen = 32

	minPasswordRunes = 12
	// maxPasswordBytes bounds what is hashed; long passphrases fit.
	maxPasswordBytes = 1024
	// A stored hash whose parameters exceed these would take absurd
	// memory or time to verify: it is a damaged row, not a real hash.
	maxMemory, maxTime, maxThreads = 1 << 21, 16, 16
)

// hashPassword returns the PHC string of password under p:
// $argon2id$v=19$m=65536,t=1,p=2$<salt>$<hash>, salt and hash in unpadded
// standard base64 as the PHC format specifies.
func hashPassword(password string, p argonParams) string {
	salt := make([]byte, saltLen)
	rand.Read(salt)
	return encodePHC(p, salt, argon2.IDKey([]byte(password), salt, p.time, p.memory, p.threads, hashLen))
}

func encodePHC(p argonParams, salt, hash []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.memory, p.time, p.threads, b64.EncodeToString(salt), b64.EncodeToString(hash))
}

// decodePHC parses a PHC string written by encodePHC.
func decodePHC(s string) (p argonParams, salt, hash []byte, err error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, fmt.Errorf("not an argon2id v=19 PHC string")
	}
	var m, t, th uint64
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, perr := strconv.ParseUint(v, 10, 32)
		if perr != nil {
			return p, nil, nil, fmt.Errorf("argon2id parameter %q", kv)
		}
		switch k {
		case "m":
			m = n
		case "t":
			t = n
		case "p":
			th = n
		default:
			return p, nil, nil, fmt.Errorf("argon2id parameter %q", kv)
		}
	}
	if m < 8 || m > maxMemory || t < 1 || t > maxTime || th < 1 || th > maxThreads {
		return p, nil, nil, fmt.Errorf("argon2id parameters out of range: %s", parts[3])
	}
	b64 := base64.RawStdEncoding
	if salt, err = b64.DecodeString(parts[4]); err != nil || len(salt) < 8 {
		return p, nil, nil, fmt.Errorf("argon2id salt")
	}
	if hash, err = b64.DecodeString(parts[5]); err != nil || len(hash) < 16 {
		return p, nil, nil, fmt.Errorf("argon2id hash")
	}
	return argonParams{memory: uint32(m), time: uint32(t), threads: uint8(th)}, salt, hash, nil
}

// verifyPassword reports whether password matches the PHC string phc,
// comparing in constant time. A malformed phc is an error, not a mismatch:
// it means a damaged row.
func verifyPassword(phc, password string) (bool, error) {
	p, salt, want, err := decodePHC(phc)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.time, p.memory, p.threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// dummyHash is verified against when a login names no usable account, so
// that it costs the same argon2 work as a wrong password. It has the
// default parameters and matches no password (it is not the hash of one).
var dummyHash = encodePHC(defaultParams, make([]byte, saltLen), make([]byte, hashLen))

// checkPassword applies the rules for a new password: at least 12
// characters (NIST SP 800-63B asks for 8 at least; people here guard the
// worst material there is), at most 1024 bytes, and not the e-mail
// address.
func checkPassword(password, email string) error {
	switch {
	case !utf8.ValidString(password):
		return core.Errorf(core.ErrInvalid, "the password is not valid UTF-8")
	case utf8.RuneCountInString(password) < minPasswordRunes:
		return core.Errorf(core.ErrInvalid, "the password must have at least %d characters", minPasswordRunes)
	case len(password) > maxPasswordBytes:
		return core.Errorf(core.ErrInvalid, "the password must have at most %d bytes", maxPasswordBytes)
	case strings.EqualFold(strings.TrimSpace(password), email):
		return core.Errorf(core.ErrInvalid, "the password must not be the e-mail address")
	}
	return nil
}

// hashing bounds the argon2 computations running at once: each takes 64
// MiB, and a flood of logins must not exhaust memory. Waiting for a slot
// respects ctx.
func (s *Service) hashing(ctx context.Context, f func()) error {
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	defer func() { <-s.slots }()
	f()
	return nil
}
