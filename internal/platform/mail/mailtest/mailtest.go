// Package mailtest is a real SMTP server for tests, on 127.0.0.1 and a
// free port, that records what it is sent. It speaks enough of RFC 5321
// for a submission client (EHLO, HELO, MAIL, RCPT, DATA, RSET, NOOP,
// QUIT), STARTTLS (RFC 3207) with a certificate of its own, and AUTH
// PLAIN (RFC 4954), and it is strict where a client could be wrong: lines
// must end in CR LF and be at most 1000 octets, data must be 7-bit (it
// offers no 8BITMIME), a message at most MaxSize, and commands come in
// order.
package mailtest

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	// MaxSize is the largest message accepted, in octets of its data.
	MaxSize = 10 << 20
	// maxLine is the longest line, CR LF included (RFC 5321 4.5.3.1.6).
	maxLine = 1000
	// maxRcpts is the most recipients of one message (RFC 5321 4.5.3.1.8).
	maxRcpts = 100
	// idle is how long the server waits for a line before hanging up.
	idle = 30 * time.Second
)

// Received is a message the server accepted.
type Received struct {
	From string   // the envelope's sender (MAIL FROM)
	To   []string // the envelope's recipients (RCPT TO)
	Data []byte   // the message as sent, dot-unstuffed, CR LF line ends
	TLS  bool     // whether it came under TLS
	User string   // who authenticated, "" if nobody
}

// Parsed is a Received message read with net/mail.
type Parsed struct {
	Header  mail.Header
	Subject string // decoded from RFC 2047 words
	Text    string // the body, decoded if quoted-printable, LF line ends
}

// Parse reads r's message with net/mail, decoding its Subject and a
// quoted-printable body.
func (r Received) Parse() (Parsed, error) {
	m, err := mail.ReadMessage(bytes.NewReader(r.Data))
	if err != nil {
		return Parsed{}, err
	}
	var p Parsed
	p.Header = m.Header
	if p.Subject, err = new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject")); err != nil {
		return Parsed{}, fmt.Errorf("subject: %w", err)
	}
	body := m.Body
	if strings.EqualFold(m.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	text, err := io.ReadAll(body)
	if err != nil {
		return Parsed{}, fmt.Errorf("body: %w", err)
	}
	p.Text = strings.ReplaceAll(string(text), "\r\n", "\n")
	return p, nil
}

// Option sets up a Server.
type Option func(*Server)

// WithAuth makes the server require AUTH PLAIN as user with password
// before MAIL; with WithSTARTTLS it offers AUTH only under TLS, as real
// servers do.
func WithAuth(user, password string) Option {
	return func(s *Server) { s.user, s.password = user, password }
}

// WithSTARTTLS makes the server offer STARTTLS, with a certificate for
// 127.0.0.1, ::1 and localhost that Server.TLSConfig trusts.
func WithSTARTTLS() Option {
	return func(s *Server) { s.starttls = true }
}

// WithImplicitTLS makes the server speak TLS from the first byte, as on
// port 465 (RFC 8314), with the certificate of WithSTARTTLS.
func WithImplicitTLS() Option {
	return func(s *Server) { s.implicit = true }
}

// FailNext makes the server answer the next n messages' data with 451,
// keeping none of them: a temporary failure, for retry tests.
func FailNext(n int) Option {
	return func(s *Server) { s.fail = n }
}

// Server is an SMTP server for one test.
type Server struct {
	ln       net.Listener
	user     string
	password string
	starttls bool
	implicit bool
	tls      *tls.Config // the server's
	roots    *x509.CertPool

	mu      sync.Mutex
	fail    int
	msgs    []Received
	changed chan struct{} // closed and replaced on each message
	conns   map[net.Conn]bool
	closed  bool
	wg      sync.WaitGroup
}

// Start starts a server on 127.0.0.1 and a free port, closed when the
// test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{changed: make(chan struct{}), conns: make(map[net.Conn]bool)}
	for _, o := range opts {
		o(s)
	}
	if s.starttls || s.implicit {
		cert, roots, err := certificate()
		if err != nil {
			t.Fatal(err)
		}
		s.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.roots = roots
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.ln = ln
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.close)
	return s
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is a URL of the server for mail.ParseURL, with from as the From
// address and the credentials of WithAuth: smtps:// with WithImplicitTLS,
// else smtp://, with tls=none unless the server offers STARTTLS
// (credentials in clear are accepted for loopback only).
func (s *Server) URL(from string) string {
	u := url.URL{Scheme: "smtp", Host: s.Addr()}
	q := url.Values{"from": {from}}
	if s.user != "" {
		u.User = url.UserPassword(s.user, s.password)
	}
	switch {
	case s.implicit:
		u.Scheme = "smtps"
	case !s.starttls:
		q.Set("tls", "none")
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// TLSConfig is a client configuration that trusts the server's
// certificate (mail.Config.TLS); nil without WithSTARTTLS or
// WithImplicitTLS.
func (s *Server) TLSConfig() *tls.Config {
	if s.roots == nil {
		return nil
	}
	return &tls.Config{RootCAs: s.roots}
}

// Messages returns the messages accepted so far, in order.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.msgs)
}

// Wait returns the messages accepted once there are at least n, failing
// t if there are not within timeout.
func (s *Server) Wait(t testing.TB, n int, timeout time.Duration) []Received {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		msgs, changed := slices.Clone(s.msgs), s.changed
		s.mu.Unlock()
		if len(msgs) >= n {
			return msgs
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("mailtest: %d messages after %v, want %d", len(msgs), timeout, n)
		}
	}
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return // closed
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			conn.Close()
			return
		}
		s.conns[conn] = true
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, conn)
				s.mu.Unlock()
				conn.Close()
			}()
			c := &session{s: s, conn: conn}
			if s.implicit {
				c.conn, c.tls = tls.Server(conn, s.tls), true
			}
			c.r = bufio.NewReaderSize(c.conn, maxLine)
			c.run()
		}()
	}
}

func (s *Server) close() {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.ln.Close()
	s.wg.Wait()
}

// deliver records m, or refuses it if a failure is due.
func (s *Server) deliver(m Received) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail > 0 {
		s.fail--
		return false
	}
	s.msgs = append(s.msgs, m)
	close(s.changed)
	s.changed = make(chan struct{})
	return true
}

// session is one client's connection.
type session struct {
	s     *Server
	conn  net.Conn
	r     *bufio.Reader
	hello bool // EHLO or HELO seen since the start or STARTTLS
	tls   bool
	user  string
	from  *string // MAIL FROM given, the transaction begun
	rcpts []string
}

var errHangUp = errors.New("hang up")

func (c *session) run() {
	if err := c.reply("220 mailtest ESMTP ready"); err != nil {
		return
	}
	for {
		line, err := c.readLine()
		if err != nil {
			if errors.Is(err, errLineTooLong) {
				c.reply("500 5.5.2 line too long")
			}
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		if err := c.command(strings.ToUpper(verb), arg); err != nil {
			return
		}
	}
}

var errLineTooLong = errors.New("line too long")

// readLine reads a line ending in CR LF and returns it without them.
func (c *session) readLine() (string, error) {
	c.conn.SetReadDeadline(time.Now().Add(idle))
	line, err := c.r.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return "", errLineTooLong
	case err != nil:
		return "", err
	case !bytes.HasSuffix(line, []byte("\r\n")) || bytes.IndexByte(line[:len(line)-2], '\r') >= 0:
		c.reply("500 5.5.2 lines end in CR LF, and only there")
		return "", errHangUp
	}
	return string(line[:len(line)-2]), nil
}

func (c *session) reply(lines ...string) error {
	var b strings.Builder
	for i, l := range lines {
		if i < len(lines)-1 {
			l = l[:3] + "-" + l[4:]
		}
		b.WriteString(l + "\r\n")
	}
	c.conn.SetWriteDeadline(time.Now().Add(idle))
	_, err := io.WriteString(c.conn, b.String())
	return err
}

func (c *session) reset() { c.from, c.rcpts = nil, nil }

// authOffered reports whether AUTH may be used now: the server requires
// it and, if it offers STARTTLS, the session is under TLS.
func (c *session) authOffered() bool {
	return c.s.user != "" && (c.tls || !c.s.starttls)
}

func (c *session) command(verb, arg string) error {
	switch verb {
	case "EHLO":
		if arg == "" {
			return c.reply("501 5.5.4 EHLO needs a domain")
		}
		c.hello = true
		c.reset()
		lines := []string{"250 mailtest greets " + arg, fmt.Sprintf("250 SIZE %d", MaxSize)}
		if c.s.starttls && !c.tls {
			lines = append(lines, "250 STARTTLS")
		}
		if c.authOffered() {
			lines = append(lines, "250 AUTH PLAIN")
		}
		return c.reply(lines...)
	case "HELO":
		if arg == "" {
			return c.reply("501 5.5.4 HELO needs a domain")
		}
		c.hello = true
		c.reset()
		return c.reply("250 mailtest")
	case "STARTTLS":
		switch {
		case !c.s.starttls || c.tls:
			return c.reply("502 5.5.1 STARTTLS not offered")
		case !c.hello:
			return c.reply("503 5.5.1 EHLO first")
		}
		if err := c.reply("220 2.0.0 ready for TLS"); err != nil {
			return err
		}
		// Anything the client sent after STARTTLS, still in clear, must
		// not count as said under TLS (CVE-2011-0411).
		if c.r.Buffered() > 0 {
			return errHangUp
		}
		tc := tls.Server(c.conn, c.s.tls)
		tc.SetDeadline(time.Now().Add(idle))
		if err := tc.Handshake(); err != nil {
			return err
		}
		c.conn, c.r = tc, bufio.NewReaderSize(tc, maxLine)
		c.tls, c.hello, c.user = true, false, ""
		c.reset()
		return nil
	case "AUTH":
		return c.auth(arg)
	case "MAIL":
		switch {
		case !c.hello:
			return c.reply("503 5.5.1 EHLO first")
		case c.s.user != "" && c.user == "":
			return c.reply("530 5.7.0 authentication required")
		case c.from != nil:
			return c.reply("503 5.5.1 MAIL already given")
		}
		addr, ok := path(arg, "FROM:")
		if !ok {
			return c.reply("501 5.5.4 MAIL FROM:<address>")
		}
		c.from = &addr
		return c.reply("250 2.1.0 ok")
	case "RCPT":
		switch {
		case c.from == nil:
			return c.reply("503 5.5.1 MAIL first")
		case len(c.rcpts) >= maxRcpts:
			return c.reply("452 4.5.3 too many recipients")
		}
		addr, ok := path(arg, "TO:")
		if !ok || addr == "" {
			return c.reply("501 5.5.4 RCPT TO:<address>")
		}
		c.rcpts = append(c.rcpts, addr)
		return c.reply("250 2.1.5 ok")
	case "DATA":
		if len(c.rcpts) == 0 {
			return c.reply("503 5.5.1 RCPT first")
		}
		return c.data()
	case "RSET":
		c.reset()
		return c.reply("250 2.0.0 ok")
	case "NOOP":
		return c.reply("250 2.0.0 ok")
	case "QUIT":
		c.reply("221 2.0.0 bye")
		return errHangUp
	}
	return c.reply("500 5.5.1 unknown command")
}

// path parses "FROM:<address> [parameters]" (or TO:) into the address.
// No parameters are offered, so none are accepted.
func path(arg, prefix string) (string, bool) {
	if len(arg) < len(prefix) || !strings.EqualFold(arg[:len(prefix)], prefix) {
		return "", false
	}
	rest := strings.TrimLeft(arg[len(prefix):], " ")
	if !strings.HasPrefix(rest, "<") || !strings.HasSuffix(rest, ">") {
		return "", false
	}
	addr := rest[1 : len(rest)-1]
	if strings.ContainsAny(addr, "<> ") {
		return "", false
	}
	return addr, true
}

func (c *session) auth(arg string) error {
	mech, initial, hasInitial := strings.Cut(arg, " ")
	switch {
	case c.s.user == "":
		return c.reply("502 5.5.1 AUTH not offered")
	case !c.authOffered():
		return c.reply("538 5.7.11 encryption required for AUTH")
	case c.user != "":
		return c.reply("503 5.5.1 already authenticated")
	case c.from != nil:
		return c.reply("503 5.5.1 AUTH during a transaction")
	case !strings.EqualFold(mech, "PLAIN"):
		return c.reply("504 5.5.4 only PLAIN")
	}
	if !hasInitial {
		if err := c.reply("334 "); err != nil {
			return err
		}
		line, err := c.readLine()
		if err != nil {
			return err
		}
		initial = line
	}
	if initial == "*" {
		return c.reply("501 5.0.0 AUTH cancelled")
	}
	raw, err := base64.StdEncoding.DecodeString(initial)
	if err != nil {
		return c.reply("501 5.5.2 not base64")
	}
	parts := strings.Split(string(raw), "\x00")
	if len(parts) != 3 || parts[0] != "" && parts[0] != parts[1] {
		return c.reply("501 5.5.2 PLAIN is [authzid] NUL user NUL password")
	}
	if parts[1] != c.s.user || parts[2] != c.s.password {
		return c.reply("535 5.7.8 authentication credentials invalid")
	}
	c.user = parts[1]
	return c.reply("235 2.7.0 authenticated")
}

// data reads a message up to the line ".", dot-unstuffing, and delivers
// it. A message over MaxSize or with 8-bit octets is read to its end and
// refused.
func (c *session) data() error {
	if err := c.reply("354 end with <CR LF>.<CR LF>"); err != nil {
		return err
	}
	var b bytes.Buffer
	var tooLarge, eightBit bool
	for {
		line, err := c.readLine()
		if err != nil {
			if errors.Is(err, errLineTooLong) {
				c.reply("500 5.5.2 line too long")
			}
			return err
		}
		if line == "." {
			break
		}
		line = strings.TrimPrefix(line, ".")
		if b.Len()+len(line)+2 > MaxSize {
			tooLarge = true
			continue
		}
		eightBit = eightBit || strings.ContainsFunc(line, func(r rune) bool { return r >= 0x80 })
		b.WriteString(line + "\r\n")
	}
	m := Received{From: *c.from, To: c.rcpts, Data: b.Bytes(), TLS: c.tls, User: c.user}
	c.reset()
	switch {
	case tooLarge:
		return c.reply(fmt.Sprintf("552 5.3.4 message larger than %d octets", MaxSize))
	case eightBit:
		return c.reply("554 5.6.1 8-bit data, and no 8BITMIME was offered")
	case !c.s.deliver(m):
		return c.reply("451 4.3.0 temporary failure, try again later")
	}
	return c.reply("250 2.0.0 queued")
}

// certificate makes a self-signed certificate for the loopback addresses
// and the pool that trusts it.
func certificate() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mailtest"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, roots, nil
}
