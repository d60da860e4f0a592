package forward

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/platform/jobs"
	"github.com/wardhq/ward/internal/reporting/report"
)

// Suggested settings of the job kinds whose handlers are Route, Push and
// Notify.
const (
	// DeadAfter: a webhook still failing after a day is given up on, and
	// the job shown to staff. An authority can pull its reports meanwhile.
	DeadAfter = 24 * time.Hour
	// MaxBackoff caps the wait between two attempts, so that a webhook
	// that comes back gets its reports within the hour.
	MaxBackoff = 30 * time.Minute
)

// permanent marks errors that trying a job again cannot cure (a bad ref,
// a report or delivery that is not there, a report in the wrong state) as
// jobs.Permanent, so that the job is dead-lettered at once.
func permanent(err error) error {
	if errors.Is(err, core.ErrNotFound) || errors.Is(err, core.ErrInvalid) || errors.Is(err, core.ErrConflict) {
		return jobs.Permanent(err)
	}
	return err
}

// maxWebhookURL bounds a webhook URL, as report.MaxURL bounds a report's.
const maxWebhookURL = 2048

// ErrPrivateAddress is the error of a push or notification refused because
// the webhook's address, as resolved when connecting, is not a public
// unicast address: a webhook must not reach the centre's own services
// (a database, a cloud metadata service at 169.254.169.254) on their
// behalf. Service.AllowPrivateWebhooks lifts it.
var ErrPrivateAddress = errors.New("the webhook's address is loopback, private, link-local, shared (CGNAT), multicast or otherwise not public, and pushes to such addresses are not allowed (ward serve --allow-private-webhooks allows them, for tests and closed networks)")

// nonPublic are the prefixes, beyond those netip.Addr's methods name, of
// addresses that are not public unicast (IANA special-purpose registries,
// RFC 6890).
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // shared address space, CGNAT (RFC 6598)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and the broadcast address
	netip.MustParsePrefix("100::/64"),        // discard
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("fec0::/10"),       // site-local, deprecated
}

// embedsIPv4 are IPv6 prefixes whose addresses lead to an IPv4 address
// they carry (NAT64, RFC 6052 and 8215; 6to4, RFC 3056): public only if it
// is. The offset is where the IPv4 address starts.
var embedsIPv4 = []struct {
	prefix netip.Prefix
	offset int
}{
	{netip.MustParsePrefix("64:ff9b::/96"), 12},
	{netip.MustParsePrefix("64:ff9b:1::/48"), 12},
	{netip.MustParsePrefix("2002::/16"), 2},
}

// PublicAddr reports whether a is a public unicast address, one that a
// webhook may be pushed to: not loopback, private (RFC 1918, fc00::/7),
// link-local (169.254/16, fe80::/10), unspecified, multicast, shared
// (100.64/10), reserved or documentation, in IPv4, IPv6 or the IPv6 forms
// of IPv4 addresses (IPv4-mapped, NAT64, 6to4).
func PublicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsUnspecified() ||
		a.IsMulticast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() || !a.IsGlobalUnicast() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	if a.Is6() {
		b := a.As16()
		for _, e := range embedsIPv4 {
			if e.prefix.Contains(a) {
				return PublicAddr(netip.AddrFrom4([4]byte(b[e.offset : e.offset+4])))
			}
		}
	}
	return true
}

// checkDial is the Control of the webhook client's dialer: it sees each
// address that is about to be connected to, after name resolution, so
// that a name resolving to an internal address, also one that changes
// between a check and the connection (DNS rebinding), is refused.
func checkDial(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w (%s)", ErrPrivateAddress, address)
	}
	if !PublicAddr(ap.Addr()) {
		return fmt.Errorf("%w (%s)", ErrPrivateAddress, ap.Addr())
	}
	return nil
}

// WebhookClient returns the client of pushes and notifications (and of
// takedown notices to hosts); unless allowPrivate, it connects to public
// addresses only (checkDial), and it follows no redirect.
func WebhookClient(allowPrivate bool) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		dialer.Control = checkDial
	}
	return &http.Client{
		// A push is a signed manifest, not the files: a minute is ample,
		// and a hung push holds its job's lease.
		Timeout: 2 * time.Minute,
		Transport: &http.Transport{
			// No proxy: it would make the connection for us, and the
			// dialer would check the proxy's address, not the webhook's.
			Proxy:                 nil,
			DialContext:           dialer.DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: time.Minute,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          16,
			IdleConnTimeout:       90 * time.Second,
		},
		// A redirect would send the package, or the next one, to a host
		// that nobody checked: a 3xx is a failure like any non-2xx.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// CheckWebhookURL returns raw as the webhook URL to store: an absolute
// https URL, or http to a loopback host (for tests and a receiver on the
// same machine), without user name or password or fragment. Unless
// allowPrivate, its host must not be an address that is not public
// (PublicAddr) nor localhost: such a webhook would be refused at every
// push anyway, since the address is checked again when connecting (for
// host names, only then).
func CheckWebhookURL(raw string, allowPrivate bool) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || len(raw) > maxWebhookURL {
		return "", core.Errorf(core.ErrInvalid, "the webhook is not an absolute https URL of at most %d bytes", maxWebhookURL)
	}
	host := u.Hostname()
	switch {
	case u.Scheme == "http" && !loopback(host):
		return "", core.Errorf(core.ErrInvalid, "the webhook on %s must be https (http is allowed only to a loopback host)", host)
	case u.User != nil:
		return "", core.Errorf(core.ErrInvalid, "the webhook URL must not hold a user name or password")
	case u.Fragment != "":
		return "", core.Errorf(core.ErrInvalid, "the webhook URL must not have a #fragment")
	}
	if !allowPrivate {
		if a, err := netip.ParseAddr(host); (err == nil && !PublicAddr(a)) || loopback(host) {
			return "", core.Errorf(core.ErrInvalid, "the webhook's host %s: %w", host, ErrPrivateAddress)
		}
	}
	return u.String(), nil
}

func loopback(host string) bool {
	if h := strings.ToLower(strings.TrimSuffix(host, ".")); h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// WebhookHost returns the host of a webhook URL, the part of it that may
// be shown and logged: the rest may hold the receiver's secret.
func WebhookHost(hook string) string {
	u, err := url.Parse(hook)
	if err != nil {
		return "(invalid URL)"
	}
	return u.Host
}

// Sealer seals webhook URLs; *seal.Sealer is one.
type Sealer interface {
	Seal(ctx context.Context, plaintext, aad []byte) ([]byte, error)
	Open(ctx context.Context, sealed, aad []byte) ([]byte, error)
}

// WebhookStore keeps webhook URLs, sealed; package store implements it.
type WebhookStore interface {
	// Webhook returns organisation orgID's webhook URL sealed with
	// WebhookAAD(orgID), nil if none, or an core.ErrNotFound error.
	Webhook(ctx context.Context, orgID int64) ([]byte, error)
	// SetWebhook sets organisation orgID's sealed webhook URL; nil
	// removes it.
	SetWebhook(ctx context.Context, orgID int64, sealed []byte) error
}

// WebhookAAD is the associated data a webhook URL is sealed with.
func WebhookAAD(orgID int64) []byte { return []byte("orgs.webhook:" + strconv.FormatInt(orgID, 10)) }

// SetWebhook stores hook, a URL that CheckWebhookURL returned, as
// organisation orgID's webhook, sealed by s; "" removes it.
func SetWebhook(ctx context.Context, st WebhookStore, s Sealer, orgID int64, hook string) error {
	if hook == "" {
		return st.SetWebhook(ctx, orgID, nil)
	}
	sealed, err := s.Seal(ctx, []byte(hook), WebhookAAD(orgID))
	if err != nil {
		return fmt.Errorf("sealing the webhook: %w", err)
	}
	return st.SetWebhook(ctx, orgID, sealed)
}

// OpenWebhook returns organisation orgID's webhook URL, "" if none.
func OpenWebhook(ctx context.Context, st WebhookStore, s Sealer, orgID int64) (string, error) {
	sealed, err := st.Webhook(ctx, orgID)
	if err != nil || sealed == nil {
		return "", err
	}
	b, err := s.Open(ctx, sealed, WebhookAAD(orgID))
	if err != nil {
		return "", fmt.Errorf("opening the webhook of organisation %d: %w", orgID, err)
	}
	return string(b), nil
}

// SealClearWebhooks seals the webhook URLs that a database migrated from
// before they were sealed (migration 0012) still holds in clear, and
// returns how many; run at start, before any push.
func SealClearWebhooks(ctx context.Context, st interface {
	SealClearWebhooks(ctx context.Context, seal func(orgID int64, hook string) ([]byte, error)) (int, error)
}, s Sealer) (int, error) {
	return st.SealClearWebhooks(ctx, func(orgID int64, hook string) ([]byte, error) {
		return s.Seal(ctx, []byte(hook), WebhookAAD(orgID))
	})
}

// PushRef is the ref of the JobPush job that pushes report id to
// organisation orgID.
func PushRef(id string, orgID int64) string { return id + "/" + strconv.FormatInt(orgID, 10) }

func parsePushRef(ref string) (string, int64, error) {
	id, o, ok := strings.Cut(ref, "/")
	n, err := strconv.ParseInt(o, 10, 64)
	if !ok || err != nil || id == "" {
		return "", 0, core.Errorf(core.ErrInvalid, "push job ref %q is not REPORT/ORG", ref)
	}
	return id, n, nil
}

// Push pushes a report's package to the webhook of the authority it was
// routed to, ref being PushRef's: the handler of JobPush. The
// package is the signed manifest of GET /v1/lea/reports/{id}, without the
// files, which the authority downloads with its key (each download
// audited): a push costs the server no more memory than a manifest, and
// the files go only to whoever holds the authority's key, not to whoever
// answers at the webhook's address. A 2xx
// answer delivers the report (the authority still acknowledges it); any
// other answer, or none, is an error, for the job runner to try again
// later. A delivery pushed or acknowledged already, or whose authority
// has no webhook any more, needs nothing.
//
// The request is a POST of the package with the headers Ward-Signature,
// Ward-Report-Id and Ward-Delivery-Attempt (1 for the first).
func (s *Service) Push(ctx context.Context, ref string) error {
	return permanent(s.push(ctx, ref))
}

func (s *Service) push(ctx context.Context, ref string) error {
	id, orgID, err := parsePushRef(ref)
	if err != nil {
		return err
	}
	d, err := s.store.Delivery(ctx, id, orgID)
	if err != nil {
		return err
	}
	if !d.PushedAt.IsZero() || !d.AckedAt.IsZero() {
		return nil
	}
	hook, err := OpenWebhook(ctx, s.store, s.sealer, orgID)
	if err != nil || hook == "" {
		return err
	}
	body, sig, err := s.pack(ctx, d)
	if err != nil {
		return err
	}
	if s.Audit != nil {
		_, err := s.Audit.Append(ctx, audit.Event{Actor: audit.System, Action: "report.push", Object: "report:" + id,
			Purpose: "push to authority " + strconv.FormatInt(orgID, 10), Outcome: audit.OK})
		if err != nil {
			return err
		}
	}
	pushErr := s.post(ctx, hook, body, sig, http.Header{
		"Ward-Report-Id":        {id},
		"Ward-Delivery-Attempt": {strconv.Itoa(d.Attempts + 1)},
	})
	s.observe("push", pushErr)
	failure := ""
	if pushErr != nil {
		failure = pushErr.Error()
	}
	if err := s.store.RecordPush(ctx, id, orgID, s.Clock.Now(), failure); err != nil {
		return errors.Join(pushErr, err)
	}
	if pushErr != nil {
		return fmt.Errorf("pushing report %s to organisation %d: %w", id, orgID, pushErr)
	}
	return nil
}

// notification is what a provider's webhook receives: no personal data,
// only where the report is.
type notification struct {
	ReportID string           `json:"report_id"`
	Event    report.EventKind `json:"event"`
	At       time.Time        `json:"at"`
	State    report.State     `json:"state"` // the report's state now
}

// Notify tells the webhook of a report's provider, if it has one, of an
// event of the report, ref being the event's ID: the handler of
// JobNotify. The POST carries the JSON object {"report_id",
// "event", "at", "state"}, signed (context NotificationContext) in the
// header Ward-Signature, and the headers Ward-Report-Id and
// Ward-Event-Id, by which the provider de-duplicates. Errors are as
// Push's.
func (s *Service) Notify(ctx context.Context, ref string) error {
	return permanent(s.notify(ctx, ref))
}

func (s *Service) notify(ctx context.Context, ref string) error {
	evID, err := strconv.ParseInt(ref, 10, 64)
	if err != nil {
		return core.Errorf(core.ErrInvalid, "notify job ref %q is not an event ID", ref)
	}
	ev, err := s.store.ReportEvent(ctx, evID)
	if err != nil {
		return err
	}
	rec, err := s.store.ReportByID(ctx, ev.ReportID)
	if err != nil {
		return err
	}
	hook, err := OpenWebhook(ctx, s.store, s.sealer, rec.Provider)
	if err != nil || hook == "" {
		return err
	}
	body, err := json.Marshal(notification{ReportID: rec.ID, Event: ev.Kind, At: ev.At, State: rec.State})
	if err != nil {
		return err
	}
	err = s.post(ctx, hook, body, s.sign(NotificationContext, body), http.Header{
		"Ward-Report-Id": {rec.ID},
		"Ward-Event-Id":  {ref},
	})
	s.observe("notify", err)
	if err != nil {
		return fmt.Errorf("notifying provider %d of event %d: %w", rec.Provider, evID, err)
	}
	return nil
}

func (s *Service) observe(channel string, err error) {
	if s.Observe != nil && !errors.Is(err, context.Canceled) {
		s.Observe(channel, err)
	}
}

// post sends a signed JSON body to a webhook (PostSigned).
func (s *Service) post(ctx context.Context, hook string, body []byte, sig string, h http.Header) error {
	return PostSigned(ctx, s.http, hook, body, sig, h)
}

// PostSigned POSTs a JSON body with its signature (the SignatureHeader
// value sig) and the headers h to a webhook through c (WebhookClient),
// and returns an error unless it answers 2xx. The error never holds the
// URL, which may carry the receiver's secret.
func PostSigned(ctx context.Context, c *http.Client, hook string, body []byte, sig string, h http.Header) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook request: %w", stripURL(err))
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SignatureHeader, sig)
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: %w", stripURL(err))
	}
	defer resp.Body.Close()
	// Read a little, so that the connection can serve the next push.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}

func stripURL(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}
