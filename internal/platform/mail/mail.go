// Package mail sends Ward's e-mail, the notices to hosts that take
// notices by e-mail, through the SMTP server of --smtp-url (RFC 5321
// submission, RFC 3207 STARTTLS, RFC 4954 AUTH PLAIN), as plain-text
// messages of RFC 5322 with MIME headers (RFC 2045, RFC 2047).
//
// It is built on the standard library's net/smtp. That package is frozen,
// but what it does is all a submission client needs and it does it
// correctly: STARTTLS, AUTH PLAIN that refuses to send credentials
// without TLS except to localhost, dot-stuffing and CR LF line ends.
//
// Credentials travel only under TLS: an smtp:// URL with a user asks for
// STARTTLS and fails if the server does not offer it, and ?tls=none with
// a user is refused except for a loopback host.
package mail

import (
	"crypto/tls"
	"errors"
	"net"
	"net/mail"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/wardhq/ward/internal/core"
)

// Security is how a Sender protects its connection to the server.
type Security int

const (
	// Opportunistic (smtp:// without credentials) uses STARTTLS when the
	// server offers it, and then only over TLS: a failed handshake is a
	// failed send, never a fall back to clear text.
	Opportunistic Security = iota
	// StartTLS (smtp:// with credentials, or ?tls=starttls) sends
	// nothing but EHLO unless the server offers STARTTLS.
	StartTLS
	// ImplicitTLS (smtps://) speaks TLS from the first byte.
	ImplicitTLS
	// NoTLS (?tls=none) never uses TLS; credentials go only to a
	// loopback host.
	NoTLS
)

// Default ports: submission (RFC 6409) and submission over TLS (RFC 8314).
const (
	portSubmission  = "587"
	portSubmissions = "465"
)

// Config is where and how to send, as parsed from --smtp-url by ParseURL.
type Config struct {
	Host     string // a name or an IP address, without brackets
	Port     string
	Security Security
	User     string // "" for no AUTH
	Password string // shown by nothing: String redacts it
	From     mail.Address
	// TLS, if set, is the base of the TLS configuration (cloned; its
	// ServerName defaults to Host): tests set RootCAs to trust their
	// server's certificate. Nil means the system's roots.
	TLS *tls.Config
}

const urlForm = "smtp://[user:password@]host[:port]?from=address (or smtps://)"

// ParseURL parses an SMTP URL:
//
//	smtp://[user:password@]host[:port]?from=ward@centre.example[&tls=none|starttls]
//	smtps://[user:password@]host[:port]?from=ward@centre.example
//
// smtp:// is port 587 and STARTTLS (required with credentials, used when
// offered without), smtps:// is port 465 and TLS from the start. The
// user and password are percent-encoded. Errors say what is wrong and
// never contain the password.
func ParseURL(raw string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url's errors quote the URL or the part they stumbled on, which
		// may be the password: show them only if there is no userinfo.
		var ue *url.Error
		if !strings.Contains(raw, "@") && errors.As(err, &ue) {
			return Config{}, core.Errorf(core.ErrInvalid, "the SMTP URL is malformed (%v); it reads %s", ue.Err, urlForm)
		}
		return Config{}, core.Errorf(core.ErrInvalid, "the SMTP URL is malformed; it reads %s, with special characters of the user and password percent-encoded", urlForm)
	}
	var c Config
	switch u.Scheme {
	case "smtp":
		c.Port, c.Security = portSubmission, Opportunistic
	case "smtps":
		c.Port, c.Security = portSubmissions, ImplicitTLS
	default:
		return Config{}, core.Errorf(core.ErrInvalid, "the SMTP URL's scheme must be smtp or smtps, not %q", u.Scheme)
	}
	if c.Host = u.Hostname(); u.Opaque != "" || c.Host == "" {
		return Config{}, core.Errorf(core.ErrInvalid, "the SMTP URL names no host; it reads %s", urlForm)
	}
	if u.Path != "" && u.Path != "/" || u.Fragment != "" {
		return Config{}, core.Errorf(core.ErrInvalid, "the SMTP URL must have no path or fragment; it reads %s", urlForm)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return Config{}, core.Errorf(core.ErrInvalid, "the SMTP URL's port must be a number from 1 to 65535, not %q", p)
		}
		c.Port = p
	}
	if u.User != nil {
		c.User = u.User.Username()
		var ok bool
		c.Password, ok = u.User.Password()
		if c.User == "" || !ok || c.Password == "" {
			return Config{}, core.Errorf(core.ErrInvalid, "the SMTP URL must give both a user and a password, or neither")
		}
	}

	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Config{}, core.Errorf(core.ErrInvalid, "the SMTP URL's query is malformed: %v", err)
	}
	for k, v := range q {
		if k != "from" && k != "tls" {
			return Config{}, core.Errorf(core.ErrInvalid, "the SMTP URL has an unknown parameter %q; the parameters are from and tls", k)
		}
		if len(v) > 1 {
			return Config{}, core.Errorf(core.ErrInvalid, "the SMTP URL gives %s more than once", k)
		}
	}
	from := q.Get("from")
	if from == "" {
		return Config{}, core.Errorf(core.ErrInvalid, "the SMTP URL needs ?from=address, the From address of Ward's mail")
	}
	a, err := mail.ParseAddress(from)
	if err != nil || sendable(a.Address) != nil {
		return Config{}, core.Errorf(core.ErrInvalid, "the SMTP URL's from=%q is not an e-mail address such as ward@centre.example", from)
	}
	c.From = *a

	if q.Has("tls") {
		if c.Security == ImplicitTLS {
			return Config{}, core.Errorf(core.ErrInvalid, "the SMTP URL's tls= is for smtp://; smtps:// is always TLS")
		}
		switch q.Get("tls") {
		case "none":
			c.Security = NoTLS
		case "starttls":
			c.Security = StartTLS
		default:
			return Config{}, core.Errorf(core.ErrInvalid, "the SMTP URL's tls= must be none or starttls, not %q", q.Get("tls"))
		}
	}
	if c.User != "" {
		switch {
		case c.Security == Opportunistic:
			c.Security = StartTLS
		case c.Security == NoTLS && !loopback(c.Host):
			return Config{}, core.Errorf(core.ErrInvalid, "the SMTP URL has tls=none and credentials for %s: Ward sends credentials in clear only to a loopback host (localhost, 127.0.0.1, ::1)", c.Host)
		}
	}
	return c, nil
}

// loopback reports whether net/smtp's AUTH PLAIN sends credentials to
// host without TLS: the same three names it accepts.
func loopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// String is c as a URL with the password redacted, for logs.
func (c Config) String() string {
	u := url.URL{Scheme: "smtp", Host: net.JoinHostPort(c.Host, c.Port)}
	from := c.From.Address
	if c.From.Name != "" {
		from = c.From.String()
	}
	q := url.Values{"from": {from}}
	switch c.Security {
	case ImplicitTLS:
		u.Scheme = "smtps"
	case StartTLS:
		if c.User == "" {
			q.Set("tls", "starttls")
		}
	case NoTLS:
		q.Set("tls", "none")
	}
	if c.User != "" {
		u.User = url.UserPassword(c.User, "xxxxx")
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// sendable checks that addr (an addr-spec, as net/mail.Address holds it)
// can go into MAIL FROM or RCPT TO as it is: printable ASCII without
// spaces or angle brackets, with a local part and a domain. Quoted local
// parts and SMTPUTF8 addresses are not supported.
func sendable(addr string) error {
	local, domain, ok := strings.Cut(addr, "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") {
		return errors.New("is not an e-mail address")
	}
	if slices.ContainsFunc([]byte(addr), func(b byte) bool { return b <= ' ' || b >= 0x7f || b == '<' || b == '>' || b == '"' }) {
		return errors.New("has characters Ward does not send in an address (quotes, spaces, non-ASCII)")
	}
	return nil
}

// Permanent reports whether err is a failure that sending again will not
// mend: a message Send refused, or a 5xx answer of the server (a refused
// recipient, failed authentication). Anything else, a 4xx answer such as
// 451 or a broken connection, may pass on a later try.
func Permanent(err error) bool {
	var te *textproto.Error
	return errors.Is(err, core.ErrInvalid) || errors.As(err, &te) && te.Code >= 500
}
