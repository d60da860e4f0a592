package auth

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/core"
)

// cheap parameters keep the tests of the format fast; the default ones are
// measured by BenchmarkPassword.
var cheap = argonParams{memory: 64, time: 1, threads: 1}

func TestPasswordHash(t *testing.T) {
	phc := hashPassword("correct horse battery staple", cheap)
	if !strings.HasPrefix(phc, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q is not a PHC string with its parameters", phc)
	}
	if again := hashPassword("correct horse battery staple", cheap); again == phc {
		t.Error("two hashes of one password are equal: no random salt")
	}
	for pw, want := range map[string]bool{
		"correct horse battery staple":  true,
		"correct horse battery staple ": false,
		"Correct horse battery staple":  false,
		"":                              false,
	} {
		if ok, err := verifyPassword(phc, pw); err != nil || ok != want {
			t.Errorf("verify(%q) = %v, %v; want %v", pw, ok, err, want)
		}
	}
	// The parameters come from the string, not from the defaults.
	p, _, _, err := decodePHC(hashPassword("x", argonParams{memory: 128, time: 2, threads: 2}))
	if err != nil || p != (argonParams{memory: 128, time: 2, threads: 2}) {
		t.Errorf("decoded parameters %+v, %v", p, err)
	}
}

// TestPasswordVectors checks hashes made by the reference implementation
// (testdata/argon2id.txt): each verifies, a wrong password does not, and
// encoding the same salt and hash gives the same string.
func TestPasswordVectors(t *testing.T) {
	b, err := os.ReadFile("testdata/argon2id.txt")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSuffix(line, "\n")
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		pw, phc, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("bad line %q", line)
		}
		n++
		if ok, err := verifyPassword(phc, pw); err != nil || !ok {
			t.Errorf("%s does not verify %q: %v, %v", phc, pw, ok, err)
		}
		if ok, err := verifyPassword(phc, pw+"x"); err != nil || ok {
			t.Errorf("%s verifies a wrong password: %v, %v", phc, ok, err)
		}
		p, salt, hash, err := decodePHC(phc)
		if err != nil || encodePHC(p, salt, hash) != phc {
			t.Errorf("re-encoding %s: %v", phc, err)
		}
	}
	if n < 3 {
		t.Fatalf("only %d vectors", n)
	}
}

func TestDecodePHCRefuses(t *testing.T) {
	good := hashPassword("x", cheap)
	parts := strings.Split(good, "$")
	for _, bad := range []string{
		"",
		"plain",
		strings.Replace(good, "argon2id", "argon2i", 1),
		strings.Replace(good, "v=19", "v=16", 1),
		strings.Replace(good, "m=64", "m=4", 1),        // too little memory
		strings.Replace(good, "m=64", "m=99999999", 1), // absurd memory
		strings.Replace(good, "t=1", "t=0", 1),
		strings.Replace(good, "p=1", "p=0", 1),
		strings.Replace(good, "m=64", "x=64", 1),
		strings.Replace(good, "m=64", "m=-1", 1),
		strings.Join([]string{"", parts[1], parts[2], parts[3], "!!", parts[5]}, "$"),
		strings.Join([]string{"", parts[1], parts[2], parts[3], parts[4], "AA"}, "$"),
		good + "$extra",
	} {
		if _, err := verifyPassword(bad, "x"); err == nil {
			t.Errorf("verify accepted the malformed hash %q", bad)
		}
	}
	if ok, err := verifyPassword(dummyHash, ""); err != nil || ok {
		t.Errorf("the dummy hash: %v, %v; want a well-formed mismatch", ok, err)
	}
}

func TestCheckPassword(t *testing.T) {
	for _, tc := range []struct {
		pw string
		ok bool
	}{
		{"twelve chars", true},
		{"eleven char", false},
		{"ñññññññññññ", false}, // 11 characters, 22 bytes
		{"ññññññññññññ", true},
		{strings.Repeat("x", 1024), true},
		{strings.Repeat("x", 1025), false},
		{"ana@example.org", false}, // the address
		{"ANA@EXAMPLE.ORG", false},
		{"ana@example.org!", true},
		{"\xff\xfe invalid utf8", false},
	} {
		err := checkPassword(tc.pw, "ana@example.org")
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, core.ErrInvalid)) {
			t.Errorf("checkPassword(%.20q) = %v, want ok %v", tc.pw, err, tc.ok)
		}
	}
}

func TestLockFor(t *testing.T) {
	want := []time.Duration{0, 0, 0, 0, 0, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute,
		16 * time.Minute, 32 * time.Minute, time.Hour, time.Hour}
	for n, w := range want {
		if got := lockFor(n, LockAfter); got != w {
			t.Errorf("lockFor(%d) = %v, want %v", n, got, w)
		}
	}
	for _, n := range []int{70, 1000, 1 << 30} {
		if got := lockFor(n, LockAfter); got != time.Hour {
			t.Errorf("lockFor(%d) = %v, want the cap", n, got)
		}
	}
}

// BenchmarkPassword measures one verification with the default
// parameters: the CPU cost of a login.
func BenchmarkPassword(b *testing.B) {
	phc := hashPassword("correct horse battery staple", defaultParams)
	for b.Loop() {
		verifyPassword(phc, "correct horse battery staple")
	}
}
