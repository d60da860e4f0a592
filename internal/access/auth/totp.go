package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"fmt"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
)

// TOTP as in RFC 6238 with the parameters every authenticator app
// supports: HMAC-SHA1, 30-second steps, 6 digits, and a 160-bit secret
// (the length RFC 4226 recommends). A code of the step before or after the
// current one is accepted too, for clocks that drift; a code is never
// accepted twice, nor one older than the last accepted (the account keeps
// the last step used).
const (
	totpPeriod     = 30
	totpSkew       = 1
	totpDigits     = otp.DigitsSix
	totpSecretSize = 20
	totpIssuer     = "Ward"
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// newTOTPSecret returns a new random secret.
func newTOTPSecret() []byte {
	secret := make([]byte, totpSecretSize)
	rand.Read(secret)
	return secret
}

// totpURL returns the otpauth:// URL an authenticator app reads (usually
// from a QR code) to add secret for account.
func totpURL(secret []byte, account string) (string, error) {
	k, err := totp.Generate(totp.GenerateOpts{
		Issuer: totpIssuer, AccountName: account, Period: totpPeriod,
		Secret: secret, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return "", err
	}
	return k.URL(), nil
}

// totpStep is the time step of t.
func totpStep(t time.Time) int64 { return t.Unix() / totpPeriod }

// totpCode is the code of secret for a time step.
func totpCode(secret []byte, step int64) (string, error) {
	return hotp.GenerateCodeCustom(b32.EncodeToString(secret), uint64(step), hotp.ValidateOpts{
		Digits: totpDigits, Algorithm: otp.AlgorithmSHA1,
	})
}

// checkTOTP returns the time step whose code code is, among the steps
// within the allowed skew of now and after lastStep, and ok false if it is
// none of them.
func checkTOTP(secret []byte, code string, now time.Time, lastStep int64) (step int64, ok bool, err error) {
	if len(code) != totpDigits.Length() {
		return 0, false, nil
	}
	cur := totpStep(now)
	for s := cur - totpSkew; s <= cur+totpSkew; s++ {
		want, err := totpCode(secret, s)
		if err != nil {
			return 0, false, fmt.Errorf("computing a TOTP code: %w", err)
		}
		// Every step is compared, so that the time taken does not tell
		// which matched.
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && s > lastStep && !ok {
			step, ok = s, true
		}
	}
	return step, ok, nil
}
