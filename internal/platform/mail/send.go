package mail

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"slices"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/core/text"
)

const (
	dialTimeout    = 10 * time.Second
	defaultTimeout = time.Minute
	maxLine        = 998 // octets of a header line without its CR LF (RFC 5322 2.1.1)
	foldAt         = 78  // where header lines are folded when they can be
)

// Message is a plain-text e-mail. Its From is the Config's.
type Message struct {
	To      []string // addresses as net/mail parses them ("Name <a@b>" or "a@b"); at least one
	Subject string   // one line; non-ASCII is encoded
	Text    string   // the body; newlines LF or CR LF
	// Headers are further header fields, such as X-Ward-Notice; not the
	// ones the Sender writes itself (Date, From, To, Subject, ...).
	Headers map[string]string
}

// Sender sends messages through the server of its Config, one connection
// for each.
type Sender struct {
	Clock   core.Clock    // for the Date header; nil is the system clock
	Timeout time.Duration // bound on one Send beside its ctx; 0 is a minute
	cfg     Config
}

// New returns a Sender through the server of cfg.
func New(cfg Config) *Sender {
	return &Sender{cfg: cfg}
}

// The header fields the Sender writes and Message.Headers may not.
var reserved = []string{
	"Bcc", "Cc", "Content-Transfer-Encoding", "Content-Type", "Date", "From",
	"Message-Id", "Mime-Version", "Reply-To", "Sender", "Subject", "To",
}

// Send sends m, within ctx and the Sender's Timeout. A message that
// cannot be sent as it is (no recipient, an invalid address, a header
// with a line break) is an ErrInvalid error; any other error is of the
// server or the connection, and Permanent tells whether it may pass on a
// later try.
func (s *Sender) Send(ctx context.Context, m Message) error {
	to, data, err := s.compose(m)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(s.Timeout, defaultTimeout))
	defer cancel()
	if err := s.send(ctx, to, data); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return fmt.Errorf("sending mail through %s: %w", net.JoinHostPort(s.cfg.Host, s.cfg.Port), err)
	}
	return nil
}

// compose checks m, and that the Config sends no credentials in clear,
// and writes m out: the envelope's recipients and the message, with CR LF
// line ends, 7-bit.
func (s *Sender) compose(m Message) (to []string, data []byte, err error) {
	if err := sendable(s.cfg.From.Address); err != nil {
		return nil, nil, core.Errorf(core.ErrInvalid, "the From address %q %v", s.cfg.From.Address, err)
	}
	if s.cfg.User != "" && s.cfg.Security == NoTLS && !loopback(s.cfg.Host) {
		return nil, nil, core.Errorf(core.ErrInvalid, "credentials go in clear only to a loopback host, not to %s", s.cfg.Host)
	}
	if len(m.To) == 0 {
		return nil, nil, core.Errorf(core.ErrInvalid, "a message needs at least one recipient")
	}
	heads := make([]string, 0, len(m.To))
	for _, raw := range m.To {
		a, err := mail.ParseAddress(raw)
		if err != nil {
			return nil, nil, core.Errorf(core.ErrInvalid, "the recipient %q is not an e-mail address", raw)
		}
		if err := sendable(a.Address); err != nil {
			return nil, nil, core.Errorf(core.ErrInvalid, "the recipient %q %v", raw, err)
		}
		to = append(to, a.Address)
		heads = append(heads, addressString(a))
	}

	var b bytes.Buffer
	id := make([]byte, 16)
	rand.Read(id)
	_, domain, _ := strings.Cut(s.cfg.From.Address, "@")
	fields := []struct{ name, value string }{
		{"Date", s.Clock.Now().Format(time.RFC1123Z)},
		{"From", addressString(&s.cfg.From)},
		{"To", strings.Join(heads, ", ")},
		{"Subject", m.Subject},
		{"Message-ID", "<" + hex.EncodeToString(id) + "@" + domain + ">"},
		{"MIME-Version", "1.0"},
		{"Content-Type", "text/plain; charset=utf-8"},
		{"Content-Transfer-Encoding", "quoted-printable"},
	}
	for _, k := range sortedKeys(m.Headers) {
		if !fieldName(k) {
			return nil, nil, core.Errorf(core.ErrInvalid, "%q is not a header field name", k)
		}
		if slices.Contains(reserved, textproto.CanonicalMIMEHeaderKey(k)) {
			return nil, nil, core.Errorf(core.ErrInvalid, "the header %s is written by the sender, not the message", k)
		}
		fields = append(fields, struct{ name, value string }{k, m.Headers[k]})
	}
	for _, f := range fields {
		if err := header(&b, f.name, f.value); err != nil {
			return nil, nil, err
		}
	}
	b.WriteString("\r\n")

	if err := text.Check(m.Text); err != nil {
		return nil, nil, core.Errorf(core.ErrInvalid, "the message's text %v", err)
	}
	qp := quotedprintable.NewWriter(&b)
	qp.Write([]byte(m.Text))
	qp.Close()
	if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
		b.WriteString("\r\n")
	}
	return to, b.Bytes(), nil
}

// addressString is a as a header shows it: the bare address without a
// name (net/mail would write <a@b>).
func addressString(a *mail.Address) string {
	if a.Name == "" {
		return a.Address
	}
	return a.String()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// fieldName reports whether k is a header field name: printable ASCII
// but the colon (RFC 5322 3.6.8).
func fieldName(k string) bool {
	return k != "" && !strings.ContainsFunc(k, func(r rune) bool { return r <= ' ' || r >= 0x7f || r == ':' })
}

// header writes the field name: value to b, the value's non-ASCII
// encoded (RFC 2047) and the line folded at spaces before 78 octets where
// it can be. A value with a line break, which would start a header of
// its own, is refused.
func header(b *bytes.Buffer, name, value string) error {
	if strings.ContainsAny(value, "\r\n") {
		return core.Errorf(core.ErrInvalid, "the header %s must be one line", name)
	}
	if err := text.Check(value); err != nil {
		return core.Errorf(core.ErrInvalid, "the header %s %v", name, err)
	}
	value = mime.QEncoding.Encode("utf-8", value)
	b.WriteString(name + ":")
	line, onLine := len(name)+1, false
	for i, w := range strings.Split(" "+value, " ") {
		if i > 0 {
			if onLine && line+1+len(w) > foldAt {
				b.WriteString("\r\n")
				line, onLine = 0, false
			}
			b.WriteByte(' ')
			line++
		}
		b.WriteString(w)
		line += len(w)
		onLine = onLine || w != ""
		if line > maxLine {
			return core.Errorf(core.ErrInvalid, "the header %s has a word too long for a line of mail (%d octets at most)", name, maxLine)
		}
	}
	b.WriteString("\r\n")
	return nil
}

// send delivers data to the recipients to in one SMTP session.
func (s *Sender) send(ctx context.Context, to []string, data []byte) error {
	cfg := s.cfg
	d := net.Dialer{Timeout: dialTimeout}
	raw, err := d.DialContext(ctx, "tcp", net.JoinHostPort(cfg.Host, cfg.Port))
	if err != nil {
		return err
	}
	defer raw.Close()
	// net/smtp knows no context: the end of ctx (its deadline too) moves
	// the connection's deadline to the past, failing the read or write
	// under way, after ctx.Err is set.
	stop := context.AfterFunc(ctx, func() { raw.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	tc := &tls.Config{}
	if cfg.TLS != nil {
		tc = cfg.TLS.Clone()
	}
	if tc.ServerName == "" {
		tc.ServerName = cfg.Host
	}
	tc.MinVersion = max(tc.MinVersion, tls.VersionTLS12)
	conn := raw
	if cfg.Security == ImplicitTLS {
		tlsConn := tls.Client(raw, tc)
		if err := tlsConn.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("TLS: %w", err)
		}
		conn = tlsConn
	}

	c, err := smtp.NewClient(conn, cfg.Host)
	if err != nil {
		return err
	}
	defer c.Close()
	// The From domain names the client in EHLO: a name of the sender's,
	// where net/smtp would say "localhost", which some servers refuse.
	_, domain, _ := strings.Cut(cfg.From.Address, "@")
	if err := c.Hello(domain); err != nil {
		return fmt.Errorf("EHLO: %w", err)
	}
	if cfg.Security == Opportunistic || cfg.Security == StartTLS {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(tc); err != nil {
				return fmt.Errorf("STARTTLS: %w", err)
			}
		} else if cfg.Security == StartTLS || cfg.User != "" {
			return errors.New("the server does not offer STARTTLS, which the URL requires (credentials go only under TLS)")
		}
	}
	if cfg.User != "" {
		ok, mechs := c.Extension("AUTH")
		if !ok || !slices.Contains(strings.Fields(mechs), "PLAIN") {
			return fmt.Errorf("the server does not offer AUTH PLAIN (it offers %q)", mechs)
		}
		if err := c.Auth(smtp.PlainAuth("", cfg.User, cfg.Password, cfg.Host)); err != nil {
			return fmt.Errorf("AUTH: %w", err)
		}
	}
	if err := c.Mail(cfg.From.Address); err != nil {
		return fmt.Errorf("MAIL FROM: %w", err)
	}
	for _, r := range to {
		if err := c.Rcpt(r); err != nil {
			return fmt.Errorf("RCPT TO %s: %w", r, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	// The message is accepted: a failed QUIT changes nothing.
	c.Quit()
	return nil
}
