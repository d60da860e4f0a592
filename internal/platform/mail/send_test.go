package mail_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/mail"
	"net/textproto"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/core"
	ward "github.com/wardhq/ward/internal/platform/mail"
	"github.com/wardhq/ward/internal/platform/mail/mailtest"
)

const from = "Ward Centre <ward@centre.example>"

// sender returns a Sender through srv, with a fixed clock.
func sender(t *testing.T, srv *mailtest.Server, now time.Time) *ward.Sender {
	t.Helper()
	cfg, err := ward.ParseURL(srv.URL(from))
	if err != nil {
		t.Fatal(err)
	}
	cfg.TLS = srv.TLSConfig()
	s := ward.New(cfg)
	s.Clock = func() time.Time { return now }
	return s
}

func TestSendArrivesIntact(t *testing.T) {
	srv := mailtest.Start(t)
	now := time.Date(2026, 3, 9, 14, 5, 6, 0, time.UTC)
	s := sender(t, srv, now)
	m := ward.Message{
		To: []string{"Abuse Desk <abuse@host.example>", "noc@host.example", "Zoë Müller <zoe@host.example>"},
		// Non-ASCII, and long enough to be folded.
		Subject: "Hinweis zur Entfernung – Fall 42: rechtswidrige Inhalte auf Ihrem Dienst, bitte umgehend prüfen ✓",
		Text: "Dear host,\n" +
			".a line starting with a dot\n" +
			"..and one with two\n" +
			".\n" +
			"trailing space \n" +
			"a line of more than seventy-six characters, which quoted-printable must break softly\n" +
			"Grüße, and a = sign\r\n" +
			"no newline at the end",
		Headers: map[string]string{"X-Ward-Notice": "n-123", "X-Ward-Case": "Fall 42 – ü"},
	}
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	got := srv.Wait(t, 1, 5*time.Second)[0]

	if got.From != "ward@centre.example" || !slices.Equal(got.To, []string{"abuse@host.example", "noc@host.example", "zoe@host.example"}) {
		t.Errorf("envelope %q → %q", got.From, got.To)
	}
	if got.TLS || got.User != "" {
		t.Errorf("TLS %v, user %q, want neither", got.TLS, got.User)
	}
	head, body, _ := bytes.Cut(got.Data, []byte("\r\n\r\n"))
	for _, line := range bytes.Split(head, []byte("\r\n")) {
		if len(line) > 998 {
			t.Errorf("a header line is %d octets long: %q", len(line), line)
		}
	}
	for _, line := range bytes.Split(body, []byte("\r\n")) {
		if len(line) > 76 {
			t.Errorf("a line of the body is %d octets long: %q", len(line), line)
		}
	}
	// Dot-stuffed by the client, unstuffed by the server: the lines
	// starting with a dot are in the data as they were.
	if !bytes.Contains(got.Data, []byte("\r\n.a line starting with a dot\r\n..and one with two\r\n.\r\n")) {
		t.Errorf("the lines starting with a dot did not arrive as written:\n%s", got.Data)
	}

	p, err := got.Parse()
	if err != nil {
		t.Fatal(err)
	}
	if p.Subject != m.Subject {
		t.Errorf("subject %q, want %q", p.Subject, m.Subject)
	}
	if !strings.Contains(string(got.Data), "\r\n =?utf-8?q?") {
		t.Errorf("the subject was not folded:\n%s", got.Data)
	}
	want := strings.ReplaceAll(m.Text, "\r\n", "\n") + "\n" // a last newline is added
	if p.Text != want {
		t.Errorf("text %q, want %q", p.Text, want)
	}
	if a, err := mail.ParseAddress(p.Header.Get("From")); err != nil || a.Name != "Ward Centre" || a.Address != "ward@centre.example" {
		t.Errorf("From %q: %v, %v", p.Header.Get("From"), a, err)
	}
	to, err := p.Header.AddressList("To")
	if err != nil || len(to) != 3 || to[0].Name != "Abuse Desk" || to[1].Address != "noc@host.example" || to[2].Name != "Zoë Müller" {
		t.Errorf("To %q: %v, %v", p.Header.Get("To"), to, err)
	}
	if d, err := p.Header.Date(); err != nil || !d.Equal(now) {
		t.Errorf("Date %q: %v, %v", p.Header.Get("Date"), d, err)
	}
	if id := p.Header.Get("Message-Id"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@centre.example>") || len(id) != len("<@centre.example>")+32 {
		t.Errorf("Message-ID %q", id)
	}
	for k, v := range map[string]string{
		"Mime-Version":              "1.0",
		"Content-Type":              "text/plain; charset=utf-8",
		"Content-Transfer-Encoding": "quoted-printable",
		"X-Ward-Notice":             "n-123",
	} {
		if p.Header.Get(k) != v {
			t.Errorf("%s: %q, want %q", k, p.Header.Get(k), v)
		}
	}
	if c, err := decodeHeader(p.Header.Get("X-Ward-Case")); err != nil || c != "Fall 42 – ü" {
		t.Errorf("X-Ward-Case %q: %q, %v", p.Header.Get("X-Ward-Case"), c, err)
	}

	// Each message has a Message-ID of its own.
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Wait(t, 2, 5*time.Second)
	p2, err := msgs[1].Parse()
	if err != nil {
		t.Fatal(err)
	}
	if p2.Header.Get("Message-Id") == p.Header.Get("Message-Id") {
		t.Errorf("two messages with Message-ID %s", p.Header.Get("Message-Id"))
	}
}

func TestSendRefusesBadMessages(t *testing.T) {
	srv := mailtest.Start(t)
	s := sender(t, srv, time.Now())
	good := ward.Message{To: []string{"abuse@host.example"}, Subject: "Notice", Text: "text"}
	for _, tc := range []struct {
		name string
		edit func(*ward.Message)
		want string
	}{
		{"no recipient", func(m *ward.Message) { m.To = nil }, "at least one recipient"},
		{"not an address", func(m *ward.Message) { m.To = []string{"abuse"} }, "is not an e-mail address"},
		{"recipient injection", func(m *ward.Message) { m.To = []string{"abuse@host.example\r\nBcc: x@evil.example"} }, "is not an e-mail address"},
		{"quoted local part", func(m *ward.Message) { m.To = []string{`"ab use"@host.example`} }, "characters Ward does not send"},
		{"subject injection CR LF", func(m *ward.Message) { m.Subject = "Notice\r\nBcc: x@evil.example" }, "Subject must be one line"},
		{"subject injection LF", func(m *ward.Message) { m.Subject = "Notice\nBcc: x@evil.example" }, "Subject must be one line"},
		{"subject injection CR", func(m *ward.Message) { m.Subject = "Notice\rBcc: x@evil.example" }, "Subject must be one line"},
		{"subject control", func(m *ward.Message) { m.Subject = "Notice\x00" }, "NUL"},
		{"header injection", func(m *ward.Message) { m.Headers = map[string]string{"X-Ward-Notice": "1\r\nBcc: x@evil.example"} }, "X-Ward-Notice must be one line"},
		{"header name with colon", func(m *ward.Message) { m.Headers = map[string]string{"Bcc: x@evil.example\r\nX": "1"} }, "is not a header field name"},
		{"header name with space", func(m *ward.Message) { m.Headers = map[string]string{"X Ward": "1"} }, "is not a header field name"},
		{"reserved header", func(m *ward.Message) { m.Headers = map[string]string{"bcc": "x@evil.example"} }, "bcc is written by the sender"},
		{"reserved content type", func(m *ward.Message) { m.Headers = map[string]string{"Content-Type": "text/html"} }, "written by the sender"},
		{"word too long for a line", func(m *ward.Message) { m.Subject = strings.Repeat("x", 1000) }, "too long"},
		{"text with NUL", func(m *ward.Message) { m.Text = "a\x00b" }, "NUL"},
		{"text not UTF-8", func(m *ward.Message) { m.Text = "\xff" }, "not valid UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := good
			tc.edit(&m)
			err := s.Send(context.Background(), m)
			if !errors.Is(err, core.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want an ErrInvalid with %q", err, tc.want)
			}
			if !ward.Permanent(err) {
				t.Errorf("Permanent(%v) = false", err)
			}
		})
	}
	if err := s.Send(context.Background(), good); err != nil {
		t.Fatal(err)
	}
	if msgs := srv.Wait(t, 1, 5*time.Second); len(msgs) != 1 {
		t.Errorf("%d messages arrived, want only the good one", len(msgs))
	}
}

func TestSendTLSAndAuth(t *testing.T) {
	const user, password = "ward", "s3cret pass:@/"
	msg := ward.Message{To: []string{"abuse@host.example"}, Subject: "Notice", Text: "text"}
	for _, tc := range []struct {
		name     string
		opts     []mailtest.Option
		url      func(*mailtest.Server) string // default Server.URL
		noRoots  bool
		wantTLS  bool
		wantUser string
		wantErr  string
		perm     bool // the error is Permanent
	}{
		{name: "STARTTLS and AUTH PLAIN", opts: []mailtest.Option{mailtest.WithSTARTTLS(), mailtest.WithAuth(user, password)},
			wantTLS: true, wantUser: user},
		{name: "implicit TLS and AUTH PLAIN", opts: []mailtest.Option{mailtest.WithImplicitTLS(), mailtest.WithAuth(user, password)},
			wantTLS: true, wantUser: user},
		{name: "STARTTLS when offered, without credentials", opts: []mailtest.Option{mailtest.WithSTARTTLS()},
			wantTLS: true},
		{name: "AUTH PLAIN in clear to loopback", opts: []mailtest.Option{mailtest.WithAuth(user, password)},
			wantUser: user},
		{name: "an untrusted certificate is no fall back to clear", opts: []mailtest.Option{mailtest.WithSTARTTLS()},
			noRoots: true, wantErr: "certificate"},
		{name: "an untrusted certificate, implicit TLS", opts: []mailtest.Option{mailtest.WithImplicitTLS()},
			noRoots: true, wantErr: "certificate"},
		{name: "credentials and no STARTTLS offered", opts: []mailtest.Option{mailtest.WithAuth(user, password)},
			url: func(srv *mailtest.Server) string {
				return strings.Replace(srv.URL(from), "tls=none", "tls=starttls", 1)
			}, wantErr: "does not offer STARTTLS"},
		{name: "tls=starttls and no STARTTLS offered", opts: nil,
			url: func(srv *mailtest.Server) string {
				return strings.Replace(srv.URL(from), "tls=none", "tls=starttls", 1)
			}, wantErr: "does not offer STARTTLS"},
		{name: "a wrong password", opts: []mailtest.Option{mailtest.WithSTARTTLS(), mailtest.WithAuth(user, password)},
			url: func(srv *mailtest.Server) string {
				return strings.Replace(srv.URL(from), "ward:", "ward:x", 1)
			}, wantErr: "535", perm: true},
		{name: "AUTH required, not configured", opts: []mailtest.Option{mailtest.WithSTARTTLS(), mailtest.WithAuth(user, password)},
			url: func(srv *mailtest.Server) string {
				return "smtp://" + srv.Addr() + "?from=ward@centre.example"
			}, wantErr: "530", perm: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := mailtest.Start(t, tc.opts...)
			u := srv.URL(from)
			if tc.url != nil {
				u = tc.url(srv)
			}
			cfg, err := ward.ParseURL(u)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.noRoots {
				cfg.TLS = srv.TLSConfig()
			}
			err = ward.New(cfg).Send(context.Background(), msg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one with %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Errorf("the error shows the password: %v", err)
				}
				if ward.Permanent(err) != tc.perm {
					t.Errorf("Permanent(%v) = %v", err, !tc.perm)
				}
				if n := len(srv.Messages()); n != 0 {
					t.Errorf("%d messages arrived", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := srv.Wait(t, 1, 5*time.Second)[0]
			if got.TLS != tc.wantTLS || got.User != tc.wantUser {
				t.Errorf("TLS %v, user %q; want %v, %q", got.TLS, got.User, tc.wantTLS, tc.wantUser)
			}
		})
	}
}

// TestSendNoCredentialsInClear: credentials for a host that is not
// loopback go under TLS or not at all, decided before any connection.
func TestSendNoCredentialsInClear(t *testing.T) {
	cfg := ward.Config{Host: "mx.example", Port: "587", Security: ward.NoTLS, User: "ward", Password: "secret",
		From: mail.Address{Address: "ward@centre.example"}}
	err := ward.New(cfg).Send(context.Background(), ward.Message{To: []string{"abuse@host.example"}, Text: "text"})
	if !errors.Is(err, core.ErrInvalid) || !strings.Contains(err.Error(), "only to a loopback host") || strings.Contains(err.Error(), "secret") {
		t.Fatalf("error %v, want an ErrInvalid refusing credentials in clear", err)
	}
	if _, err := ward.ParseURL("smtp://ward:secret@mx.example?from=ward@centre.example&tls=none"); !errors.Is(err, core.ErrInvalid) {
		t.Fatalf("ParseURL: %v, want an ErrInvalid", err)
	}
}

// TestSendTemporaryFailure: a 451 is an error, so that the job sending
// the notice runs again, and not a permanent one; the next try passes.
func TestSendTemporaryFailure(t *testing.T) {
	srv := mailtest.Start(t, mailtest.FailNext(1))
	s := sender(t, srv, time.Now())
	m := ward.Message{To: []string{"abuse@host.example"}, Subject: "Notice", Text: "text"}
	err := s.Send(context.Background(), m)
	var te *textproto.Error
	if !errors.As(err, &te) || te.Code != 451 {
		t.Fatalf("error %v, want the server's 451", err)
	}
	if ward.Permanent(err) {
		t.Errorf("Permanent(%v) = true", err)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("%d messages kept after a 451", n)
	}
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	srv.Wait(t, 1, 5*time.Second)
}

// TestSendContext: a server that never answers holds Send only as long
// as its context or its Timeout.
func TestSendContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		var conns []net.Conn // held open, silent
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	cfg := ward.Config{Host: "127.0.0.1", Port: port, Security: ward.NoTLS, From: mail.Address{Address: "ward@centre.example"}}
	m := ward.Message{To: []string{"abuse@host.example"}, Text: "text"}

	for _, tc := range []struct {
		name    string
		ctx     func() (context.Context, context.CancelFunc)
		timeout time.Duration
		want    error
	}{
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 100*time.Millisecond)
		}, 0, context.DeadlineExceeded},
		{"cancelled while waiting", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(100*time.Millisecond, cancel)
			return ctx, cancel
		}, 0, context.Canceled},
		{"cancelled before", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, 0, context.Canceled},
		{"the Sender's timeout", func() (context.Context, context.CancelFunc) {
			return context.Background(), func() {}
		}, 100 * time.Millisecond, context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := tc.ctx()
			defer cancel()
			s := ward.New(cfg)
			s.Timeout = tc.timeout
			start := time.Now()
			err := s.Send(ctx, m)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Send returned after %v", d)
			}
		})
	}
}

func decodeHeader(v string) (string, error) {
	p, err := mailtest.Received{Data: []byte("Subject: " + v + "\r\n\r\n")}.Parse()
	return p.Subject, err
}
