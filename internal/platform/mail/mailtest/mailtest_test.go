package mailtest

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"os"
	"strings"
	"testing"
	"time"
)

// client is a raw SMTP connection to srv, greeted.
type client struct {
	t    *testing.T
	conn net.Conn
	text *textproto.Conn
}

func dial(t *testing.T, srv *Server) *client {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	c := &client{t: t, conn: conn, text: textproto.NewConn(conn)}
	c.expect(220)
	return c
}

// expect reads an answer and fails unless its code is code.
func (c *client) expect(code int) string {
	c.t.Helper()
	got, msg, err := c.text.ReadResponse(0)
	if err != nil && got == 0 || got != code {
		c.t.Fatalf("answer %d %q (%v), want %d", got, msg, err, code)
	}
	return msg
}

// do sends a command line and expects the answer code.
func (c *client) do(code int, format string, args ...any) string {
	c.t.Helper()
	if err := c.text.PrintfLine(format, args...); err != nil {
		c.t.Fatal(err)
	}
	return c.expect(code)
}

// raw writes s as it is.
func (c *client) raw(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.t.Fatal(err)
	}
}

// hungUp reports whether the server closed the connection (with unread
// data, a reset rather than EOF).
func (c *client) hungUp() bool {
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.text.R.ReadByte()
	return err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
}

func TestDataIsDotUnstuffedAndRecorded(t *testing.T) {
	srv := Start(t)
	c := dial(t, srv)
	c.do(250, "EHLO client.example")
	c.do(250, "MAIL FROM:<ward@centre.example>")
	c.do(250, "RCPT TO:<a@host.example>")
	c.do(250, "RCPT TO:<b@host.example>")
	c.do(354, "DATA")
	c.raw("Subject: hi\r\n\r\n..one dot\r\n...two\r\n.\r\n")
	c.expect(250)
	c.do(221, "QUIT")
	got := srv.Wait(t, 1, 5*time.Second)[0]
	if got.From != "ward@centre.example" || strings.Join(got.To, " ") != "a@host.example b@host.example" || got.TLS || got.User != "" {
		t.Errorf("envelope %+v", got)
	}
	if want := "Subject: hi\r\n\r\n.one dot\r\n..two\r\n"; string(got.Data) != want {
		t.Errorf("data %q, want %q", got.Data, want)
	}
	p, err := got.Parse()
	if err != nil || p.Subject != "hi" || p.Text != ".one dot\n..two\n" {
		t.Errorf("parsed %+v, %v", p, err)
	}
}

func TestCommandsInOrder(t *testing.T) {
	srv := Start(t, WithAuth("ward", "secret"))
	c := dial(t, srv)
	c.do(503, "MAIL FROM:<ward@centre.example>") // before EHLO
	if ext := c.do(250, "EHLO client.example"); !strings.Contains(ext, "AUTH PLAIN") || strings.Contains(ext, "STARTTLS") {
		t.Errorf("EHLO offers %q", ext)
	}
	c.do(530, "MAIL FROM:<ward@centre.example>") // before AUTH
	c.do(535, "AUTH PLAIN %s", base64.StdEncoding.EncodeToString([]byte("\x00ward\x00wrong")))
	c.do(501, "AUTH PLAIN not-base64")
	c.do(235, "AUTH PLAIN %s", base64.StdEncoding.EncodeToString([]byte("\x00ward\x00secret")))
	c.do(503, "AUTH PLAIN %s", base64.StdEncoding.EncodeToString([]byte("\x00ward\x00secret")))
	c.do(503, "RCPT TO:<a@host.example>") // before MAIL
	c.do(501, "MAIL FROM:ward@centre.example")
	c.do(250, "MAIL FROM:<ward@centre.example>")
	c.do(503, "MAIL FROM:<ward@centre.example>")
	c.do(503, "DATA") // before RCPT
	c.do(250, "RCPT TO:<a@host.example>")
	c.do(250, "NOOP")
	c.do(250, "RSET")
	c.do(503, "DATA") // the transaction was reset
	c.do(500, "VRFY a@host.example")
	c.do(221, "QUIT")
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("%d messages", n)
	}
}

// TestAuthWithoutInitialResponse: AUTH PLAIN, then the credentials
// after the server's 334.
func TestAuthWithoutInitialResponse(t *testing.T) {
	srv := Start(t, WithAuth("ward", "secret"))
	c := dial(t, srv)
	c.do(250, "EHLO client.example")
	c.do(334, "AUTH PLAIN")
	c.do(235, "%s", base64.StdEncoding.EncodeToString([]byte("ward\x00ward\x00secret")))
	c.do(250, "MAIL FROM:<ward@centre.example>")
}

func TestSTARTTLS(t *testing.T) {
	srv := Start(t, WithSTARTTLS(), WithAuth("ward", "secret"))
	c := dial(t, srv)
	if ext := c.do(250, "EHLO client.example"); !strings.Contains(ext, "STARTTLS") || strings.Contains(ext, "AUTH") {
		t.Errorf("EHLO in clear offers %q, want STARTTLS and no AUTH", ext)
	}
	c.do(538, "AUTH PLAIN %s", base64.StdEncoding.EncodeToString([]byte("\x00ward\x00secret")))
	c.do(220, "STARTTLS")
	tc := tls.Client(c.conn, &tls.Config{RootCAs: srv.TLSConfig().RootCAs, ServerName: "127.0.0.1"})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	c.conn, c.text = tc, textproto.NewConn(tc)
	c.do(503, "MAIL FROM:<ward@centre.example>") // EHLO again first
	if ext := c.do(250, "EHLO client.example"); strings.Contains(ext, "STARTTLS") || !strings.Contains(ext, "AUTH PLAIN") {
		t.Errorf("EHLO under TLS offers %q, want AUTH and no STARTTLS", ext)
	}
	c.do(502, "STARTTLS")
	c.do(235, "AUTH PLAIN %s", base64.StdEncoding.EncodeToString([]byte("\x00ward\x00secret")))
	c.do(250, "MAIL FROM:<ward@centre.example>")
	c.do(250, "RCPT TO:<a@host.example>")
	c.do(354, "DATA")
	c.raw("\r\nunder TLS\r\n.\r\n")
	c.expect(250)
	got := srv.Wait(t, 1, 5*time.Second)[0]
	if !got.TLS || got.User != "ward" {
		t.Errorf("TLS %v, user %q", got.TLS, got.User)
	}
}

// TestSTARTTLSInjection: commands sent in clear behind STARTTLS are not
// taken as said under TLS: the server hangs up.
func TestSTARTTLSInjection(t *testing.T) {
	srv := Start(t, WithSTARTTLS())
	c := dial(t, srv)
	c.do(250, "EHLO client.example")
	c.raw("STARTTLS\r\nMAIL FROM:<evil@attacker.example>\r\n")
	c.expect(220)
	if !c.hungUp() {
		t.Error("the server went on after STARTTLS with commands in clear")
	}
}

// TestRefuses: what a buggy client could send is refused, and nothing
// is kept.
func TestRefuses(t *testing.T) {
	big := strings.Repeat(strings.Repeat("x", 998)+"\r\n", MaxSize/1000+1)
	for _, tc := range []struct {
		name   string
		data   string // after DATA's 354
		code   int
		hangUp bool
	}{
		{"a bare LF", "Subject: hi\n\r\n.\r\n", 500, true},
		{"a bare CR", "Subject: hi\rBcc: x\r\n\r\n.\r\n", 500, true},
		{"a line over 1000 octets", strings.Repeat("x", 999) + "\r\n.\r\n", 500, true},
		{"more than MaxSize", big + ".\r\n", 552, false},
		{"8-bit data", "Subject: Grüße\r\n\r\n.\r\n", 554, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := Start(t)
			c := dial(t, srv)
			c.do(250, "EHLO client.example")
			c.do(250, "MAIL FROM:<ward@centre.example>")
			c.do(250, "RCPT TO:<a@host.example>")
			c.do(354, "DATA")
			w := bufio.NewWriter(c.conn)
			go func() { // the server may answer before it has read it all
				w.WriteString(tc.data)
				w.Flush()
			}()
			c.expect(tc.code)
			if tc.hangUp {
				if !c.hungUp() {
					t.Error("the server did not hang up")
				}
			} else {
				c.do(250, "NOOP") // the session goes on
			}
			if n := len(srv.Messages()); n != 0 {
				t.Errorf("%d messages kept", n)
			}
		})
	}
}

func TestFailNext(t *testing.T) {
	srv := Start(t, FailNext(2))
	c := dial(t, srv)
	c.do(250, "HELO client.example")
	for i, code := range []int{451, 451, 250} {
		c.do(250, "MAIL FROM:<ward@centre.example>")
		c.do(250, "RCPT TO:<a@host.example>")
		c.do(354, "DATA")
		c.raw(fmt.Sprintf("\r\n%d\r\n.\r\n", i))
		c.expect(code)
	}
	if got := srv.Wait(t, 1, 5*time.Second); len(got) != 1 || string(got[0].Data) != "\r\n2\r\n" {
		t.Errorf("kept %v, want only the third", got)
	}
}

func TestCloseEndsSessions(t *testing.T) {
	srv := Start(t)
	c := dial(t, srv)
	srv.close()
	if !c.hungUp() {
		t.Error("the session outlived the server")
	}
	if _, err := net.Dial("tcp", srv.Addr()); err == nil {
		t.Error("the server still listens")
	}
}
