package mail_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/platform/mail"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url      string
		host     string
		port     string
		security mail.Security
		user     string
		password string
		from     string // the From header as written
		str      string // Config.String
	}{
		{"smtp://mx.example?from=ward@centre.example", "mx.example", "587", mail.Opportunistic, "", "", "ward@centre.example",
			"smtp://mx.example:587?from=ward%40centre.example"},
		{"smtp://ward:p%40ss%2Fword@mx.example:2525/?from=Ward+%3Cward@centre.example%3E", "mx.example", "2525", mail.StartTLS, "ward", "p@ss/word", `"Ward" <ward@centre.example>`,
			"smtp://ward:xxxxx@mx.example:2525?from=%22Ward%22+%3Cward%40centre.example%3E"},
		{"smtps://ward:secret@mx.example?from=ward@centre.example", "mx.example", "465", mail.ImplicitTLS, "ward", "secret", "ward@centre.example",
			"smtps://ward:xxxxx@mx.example:465?from=ward%40centre.example"},
		{"smtp://mx.example?from=ward@centre.example&tls=none", "mx.example", "587", mail.NoTLS, "", "", "ward@centre.example",
			"smtp://mx.example:587?from=ward%40centre.example&tls=none"},
		{"smtp://mx.example?tls=starttls&from=ward@centre.example", "mx.example", "587", mail.StartTLS, "", "", "ward@centre.example",
			"smtp://mx.example:587?from=ward%40centre.example&tls=starttls"},
		{"smtp://ward:secret@127.0.0.1:2525?from=ward@centre.example&tls=none", "127.0.0.1", "2525", mail.NoTLS, "ward", "secret", "ward@centre.example",
			"smtp://ward:xxxxx@127.0.0.1:2525?from=ward%40centre.example&tls=none"},
		{"smtp://ward:secret@[::1]:25?from=ward@centre.example&tls=none", "::1", "25", mail.NoTLS, "ward", "secret", "ward@centre.example",
			"smtp://ward:xxxxx@[::1]:25?from=ward%40centre.example&tls=none"},
		{"smtp://ward:secret@localhost?from=ward@centre.example&tls=none", "localhost", "587", mail.NoTLS, "ward", "secret", "ward@centre.example",
			"smtp://ward:xxxxx@localhost:587?from=ward%40centre.example&tls=none"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			c, err := mail.ParseURL(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			if c.Host != tc.host || c.Port != tc.port || c.Security != tc.security || c.User != tc.user || c.Password != tc.password {
				t.Errorf("got %q %q %d %q %q, want %q %q %d %q %q", c.Host, c.Port, c.Security, c.User, c.Password,
					tc.host, tc.port, tc.security, tc.user, tc.password)
			}
			if from := c.From.String(); c.From.Name == "" && c.From.Address != tc.from || c.From.Name != "" && from != tc.from {
				t.Errorf("from %q, want %q", from, tc.from)
			}
			if s := c.String(); s != tc.str {
				t.Errorf("String() = %s, want %s", s, tc.str)
			}
			// What String shows parses back to the same, but for the password.
			if tc.password != "" {
				back, err := mail.ParseURL(c.String())
				if err != nil || back.Password != "xxxxx" || back.Host != c.Host || back.Security != c.Security || back.From != c.From {
					t.Errorf("String() parses back as %+v, %v", back, err)
				}
			}
		})
	}
}

func TestParseURLRefuses(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want string // in the error
	}{
		{"smtp://mx.example", "needs ?from=address"},
		{"smtp://mx.example?from=", "needs ?from=address"},
		{"smtp://mx.example?from=centre.example", `from="centre.example" is not an e-mail address`},
		{"smtp://mx.example?from=%22a+b%22@centre.example", "is not an e-mail address"},
		{"http://mx.example?from=ward@centre.example", `scheme must be smtp or smtps, not "http"`},
		{"mx.example:587?from=ward@centre.example", "scheme must be smtp or smtps"},
		{"smtp://?from=ward@centre.example", "names no host"},
		{"smtp://:25?from=ward@centre.example", "names no host"},
		{"smtp://mx.example:0?from=ward@centre.example", `port must be a number from 1 to 65535, not "0"`},
		{"smtp://mx.example:99999?from=ward@centre.example", `not "99999"`},
		{"smtp://mx.example:smtp?from=ward@centre.example", "malformed"},
		{"smtp://mx.example/mail?from=ward@centre.example", "no path"},
		{"smtp://mx.example?from=ward@centre.example&form=x", `unknown parameter "form"`},
		{"smtp://mx.example?from=ward@centre.example&from=x@centre.example", "gives from more than once"},
		{"smtp://mx.example?from=ward@centre.example&tls=maybe", `tls= must be none or starttls, not "maybe"`},
		{"smtps://mx.example?from=ward@centre.example&tls=none", "smtps:// is always TLS"},
		{"smtp://ward@mx.example?from=ward@centre.example", "both a user and a password"},
		{"smtp://:secret@mx.example?from=ward@centre.example", "both a user and a password"},
		{"smtp://ward:@mx.example?from=ward@centre.example", "both a user and a password"},
		// Credentials in clear only to a loopback host.
		{"smtp://ward:secret@mx.example?from=ward@centre.example&tls=none", "in clear only to a loopback host"},
		{"smtp://ward:secret@127.0.0.2?from=ward@centre.example&tls=none", "in clear only to a loopback host"},
		// url.Parse's errors would quote parts of the password.
		{"smtp://ward:se%zzcret@mx.example?from=ward@centre.example", "percent-encoded"},
		{"smtp://ward:se/cret@mx.example?from=ward@centre.example", "percent-encoded"},
		{"smtp://ward:se?cret@mx.example?from=ward@centre.example", "percent-encoded"},
		{"smtp://ward:se cret@mx.example?from=ward@centre.example", "percent-encoded"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			_, err := mail.ParseURL(tc.url)
			if !errors.Is(err, core.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want an ErrInvalid with %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "cret") || strings.Contains(err.Error(), "secret") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}
