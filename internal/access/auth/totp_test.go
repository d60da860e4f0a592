package auth

import (
	"net/url"
	"testing"
	"time"
)

// rfcSecret is the SHA-1 key of RFC 6238's test vectors (Appendix B).
var rfcSecret = []byte("12345678901234567890")

// TestTOTPVectors checks the codes of RFC 6238 Appendix B (SHA-1), cut to
// their last six digits as a 6-digit TOTP is (RFC 4226 section 5.3).
func TestTOTPVectors(t *testing.T) {
	for _, tc := range []struct {
		unix int64
		code string
	}{
		{59, "287082"},
		{1111111109, "081804"},
		{1111111111, "050471"},
		{1234567890, "005924"},
		{2000000000, "279037"},
		{20000000000, "353130"},
	} {
		got, err := totpCode(rfcSecret, totpStep(time.Unix(tc.unix, 0)))
		if err != nil || got != tc.code {
			t.Errorf("code at %d = %q, %v; want %q", tc.unix, got, err, tc.code)
		}
	}
}

func TestCheckTOTP(t *testing.T) {
	now := time.Unix(1111111111, 0) // step 37037037, 1 s into it
	step := totpStep(now)
	code := func(s int64) string {
		c, err := totpCode(rfcSecret, s)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tc := range []struct {
		name     string
		code     string
		lastStep int64
		want     int64 // 0: refused
	}{
		{"current", code(step), 0, step},
		{"previous step (skew)", code(step - 1), 0, step - 1},
		{"next step (skew)", code(step + 1), 0, step + 1},
		{"two steps back", code(step - 2), 0, 0},
		{"two steps ahead", code(step + 2), 0, 0},
		{"replayed in its step", code(step), step, 0},
		{"older than the last used", code(step - 1), step, 0},
		{"after the last used", code(step + 1), step, step + 1},
		{"wrong", "000000", 0, 0},
		{"short", code(step)[:5], 0, 0},
		{"long", code(step) + "0", 0, 0},
		{"empty", "", 0, 0},
	} {
		got, ok, err := checkTOTP(rfcSecret, tc.code, now, tc.lastStep)
		if err != nil || ok != (tc.want != 0) || got != tc.want {
			t.Errorf("%s: step %d, ok %v, err %v; want step %d", tc.name, got, ok, err, tc.want)
		}
	}
}

func TestTOTPURL(t *testing.T) {
	s := newTOTPSecret()
	if len(s) != 20 {
		t.Fatalf("secret of %d bytes", len(s))
	}
	raw, err := totpURL(s, "ana@example.org")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/Ward:ana@example.org" ||
		q.Get("secret") != b32.EncodeToString(s) || q.Get("issuer") != "Ward" ||
		q.Get("period") != "30" || q.Get("digits") != "6" || q.Get("algorithm") != "SHA1" {
		t.Errorf("otpauth URL %s", raw)
	}
}
