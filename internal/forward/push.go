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
	"time"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/jobs"
	"github.com/wardhq/ward/internal/org"
	"github.com/wardhq/ward/internal/report"
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
	if errors.Is(err, org.ErrNotFound) || errors.Is(err, org.ErrInvalid) || errors.Is(err, org.ErrConflict) {
		return jobs.Permanent(err)
	}
	return err
}

// maxWebhookURL bounds a webhook URL, as report.MaxURL bounds a report's.
const maxWebhookURL = 2048

// webhookClient returns the client of pushes and notifications.
func webhookClient() *http.Client {
	return &http.Client{
		// A package carries the report's files: give a slow link time,
		// but not forever, since a hung push holds its job's lease.
		Timeout: 5 * time.Minute,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
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
// same machine), without user name or password (the URL is shown to
// administrators and in errors) or fragment.
func CheckWebhookURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || len(raw) > maxWebhookURL:
		return "", fmt.Errorf("%w: the webhook %q is not an absolute https URL of at most %d bytes", org.ErrInvalid, raw, maxWebhookURL)
	case u.Scheme == "http" && !loopback(u.Hostname()):
		return "", fmt.Errorf("%w: the webhook %q must be https (http is allowed only to a loopback host)", org.ErrInvalid, raw)
	case u.User != nil:
		return "", fmt.Errorf("%w: the webhook URL must not hold a user name or password", org.ErrInvalid)
	case u.Fragment != "":
		return "", fmt.Errorf("%w: the webhook URL must not have a #fragment", org.ErrInvalid)
	}
	return u.String(), nil
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// PushRef is the ref of the store.JobPush job that pushes report id to
// organisation orgID.
func PushRef(id string, orgID int64) string { return id + "/" + strconv.FormatInt(orgID, 10) }

func parsePushRef(ref string) (string, int64, error) {
	id, o, ok := strings.Cut(ref, "/")
	n, err := strconv.ParseInt(o, 10, 64)
	if !ok || err != nil || id == "" {
		return "", 0, fmt.Errorf("%w: push job ref %q is not REPORT/ORG", org.ErrInvalid, ref)
	}
	return id, n, nil
}

// Push pushes a report's package to the webhook of the authority it was
// routed to, ref being PushRef's: the handler of store.JobPush. A 2xx
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
	hook, err := s.store.Webhook(ctx, orgID)
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
	if err := s.store.RecordPush(ctx, id, orgID, s.clock(), failure); err != nil {
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
// store.JobNotify. The POST carries the JSON object {"report_id",
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
		return fmt.Errorf("%w: notify job ref %q is not an event ID", org.ErrInvalid, ref)
	}
	ev, err := s.store.ReportEvent(ctx, evID)
	if err != nil {
		return err
	}
	rec, err := s.store.ReportByID(ctx, ev.ReportID)
	if err != nil {
		return err
	}
	hook, err := s.store.Webhook(ctx, rec.Provider)
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

// post sends a signed JSON body to a webhook and returns an error unless
// it answers 2xx. The error never holds the URL, which may carry the
// receiver's secret.
func (s *Service) post(ctx context.Context, hook string, body []byte, sig string, h http.Header) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook request: %w", stripURL(err))
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SignatureHeader, sig)
	resp, err := s.http.Do(req)
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
