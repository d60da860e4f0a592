package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/wardhq/ward/internal/access/auth"
	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/platform/seal"
	"github.com/wardhq/ward/internal/platform/store/storetest"
)

// BenchmarkLogin measures a whole successful login on SQLite: lookup by
// blind index, argon2id, opening the TOTP secret, sealing the address and
// storing the session. The target is under 100 ms.
func BenchmarkLogin(b *testing.B) {
	ctx := context.Background()
	db := storetest.OpenSQLite(b)
	if _, err := org.NewService(db).Create(ctx, "Centre", org.Centre, "BE"); err != nil {
		b.Fatal(err)
	}
	users := auth.NewService(db, seal.NewSealer(seal.NewKeyring(), db))
	clock := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	users.Clock = func() time.Time { return clock }
	code := func(secret string) string {
		c, err := totp.GenerateCodeCustom(secret, clock, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	_, token, err := users.AddUser(ctx, "Centre", policy.Admin, "admin@example.org")
	if err != nil {
		b.Fatal(err)
	}
	_, secret, _, err := users.BeginEnrolment(ctx, token)
	if err != nil {
		b.Fatal(err)
	}
	const password = "correct horse battery staple"
	if err := users.CompleteEnrolment(ctx, token, password, code(secret)); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		clock = clock.Add(30 * time.Second) // a code is accepted once
		if _, _, err := users.Login(ctx, "admin@example.org", password, code(secret), "192.0.2.1:1234"); err != nil {
			b.Fatal(err)
		}
	}
}
