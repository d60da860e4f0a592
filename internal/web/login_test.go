package web_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/platform/store/storetest"
)

// fromAddr returns a client of the console whose connections come from
// the loopback address ip, as if from another machine.
func (c *console) fromAddr(ip string) *http.Client {
	tr := c.srv.Client().Transport.(*http.Transport).Clone()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	tr.DialContext = d.DialContext
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var loginError = regexp.MustCompile(`<p class="error" role="alert">([^<]*)</p>`)

// TestLoginLockout: repeated failures lock an unknown address exactly as
// a known one, and only for the address they came from.
func TestLoginLockout(t *testing.T) {
	c := startConsole(t, storetest.OpenSQLite(t))
	ctx := context.Background()
	const email, pw = "target@centre.test", "a long enough password"
	_, token, err := c.users.AddUser(ctx, "centre", policy.Reviewer, email)
	if err != nil {
		t.Fatal(err)
	}
	_, secret, _, err := c.users.BeginEnrolment(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	code, _ := totp.GenerateCode(secret, now)
	if err := c.users.CompleteEnrolment(ctx, token, pw, code); err != nil {
		t.Fatal(err)
	}
	post := func(cl *http.Client, email, password string) (int, string) {
		t.Helper()
		code, _ := totp.GenerateCode(secret, now.Add(30*time.Second))
		resp, err := cl.PostForm(c.url+"/login", url.Values{"email": {email}, "password": {password}, "code": {code}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		m := loginError.FindSubmatch(b)
		if m == nil {
			return resp.StatusCode, ""
		}
		return resp.StatusCode, string(m[1])
	}

	stranger := c.fromAddr("127.0.0.2")
	for i := 1; i <= 6; i++ {
		sk, known := post(stranger, email, "not the password!")
		su, unknown := post(stranger, "nobody@centre.test", "not the password!")
		// The lock ends a minute after the failure: a second later for
		// the unknown one if the clock ticked between them.
		clock := regexp.MustCompile(`\d\d:\d\d:\d\d`)
		if sk != http.StatusUnauthorized || su != sk || clock.ReplaceAllString(known, "T") != clock.ReplaceAllString(unknown, "T") {
			t.Fatalf("failure %d: known account %d %q, unknown %d %q", i, sk, known, su, unknown)
		}
		if i >= 5 && !regexp.MustCompile(`^Too many failed attempts: try again after `).MatchString(known) {
			t.Errorf("failure %d: %q, want the lockout", i, known)
		}
	}
	// The stranger locked the account for his address only.
	if status, msg := post(c.fromAddr("127.0.0.3"), email, pw); status != http.StatusSeeOther {
		t.Errorf("the account's holder, from elsewhere: %d %q, want logged in", status, msg)
	}
}
