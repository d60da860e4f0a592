package takedown

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/reporting/forward"
)

// The headers of a notice sent to a webhook, besides
// forward.SignatureHeader; an e-mailed notice has them as mail headers.
const (
	NoticeIDHeader   = "Ward-Notice-Id"
	NoticeSendHeader = "Ward-Notice-Send" // 1 for the first send, then 2, 3...
)

// NoticeMessage is the JSON body of a notice, as sent and signed (see the
// package documentation).
type NoticeMessage struct {
	// Notice identifies the notice for good: every send of it has the same,
	// and receivers de-duplicate by it.
	Notice         string         `json:"notice"`
	Case           string         `json:"case"`
	URLs           []string       `json:"urls"`
	Classification Classification `json:"classification"`
	// Host names the registered host the content is on; "" if none.
	Host string `json:"host,omitempty"`
	// Channel says how the notice travels: "hotline" and "europol"
	// receivers pass it on to the host.
	Channel Channel `json:"channel"`
	// To names the organisation the notice is sent to: the host, or the
	// hotline or Europol that passes it on. Signed with the rest, it
	// keeps a notice from being replayed to another party as if meant for
	// it: a receiver refuses a notice not to itself.
	To         string    `json:"to"`
	ReportedAt time.Time `json:"reported_at"`
	SentAt     time.Time `json:"sent_at"`
	Send       int       `json:"send"` // 1 for the first, then 2, 3...
	// RemovalURL is where the host says it removed the content:
	// POST, with its key, schedules an immediate recheck.
	RemovalURL string `json:"removal_url"`
}

// SendNotice sends notice ref: the handler of JobNotice. The notice is
// the JSON NoticeMessage signed with the centre's key in context
// NoticeContext: POSTed to the host's webhook (ByWebhook), or to that of
// the hotline or Europol organisation it goes through, with the headers
// Ward-Signature, Ward-Notice-Id and Ward-Notice-Send; or e-mailed
// (ByEmail) through Options.Mailer to the host's notice address, in plain
// text with the signed JSON and its signature, which are also in the
// mail headers. Each attempt is recorded on the notice; a success
// schedules the next send Options.Renotice later, which RecheckDue
// queues while the case is not removed. A failure is an error, for the
// job to be tried again. A notice sent already in its round, or of a
// case no longer noticed, needs nothing.
//
// A hotline or Europol without a webhook receives the notice by pull:
//
//   - a hotline finds it in the case (GET /v1/hotline/cases/{id}, the
//     console), which it sees through the notice (as relay only: see
//     Service.Case), to pass it on to the host:
//     the notice is delivered at once, and each round marks it sent again
//     (Sends) for the hotline to see;
//   - Europol receives it with the case's report to the police (Refer),
//     as it receives every forwarded report: the notice is delivered,
//     once, when the referral is made, and waits until then.
//
// A notice with no hotline of the country nor Europol to go through
// waits, saying so in its LastError, and is tried again every
// Options.Renotice, when it goes through whichever has been registered
// since.
func (s *Service) SendNotice(ctx context.Context, ref string) error {
	return permanent(s.sendNotice(ctx, ref))
}

func (s *Service) sendNotice(ctx context.Context, id string) error {
	n, err := s.st.TakedownNotice(ctx, id)
	if err != nil {
		return err
	}
	r, err := s.st.TakedownCase(ctx, n.Case)
	if err != nil {
		return err
	}
	now := s.now()
	if r.State != Noticed || (!n.SentAt.IsZero() && now.Before(n.NextSendAt)) {
		return nil
	}
	relayed := func() bool { return n.Channel == ByHotline || n.Channel == ByEuropol }
	if relayed() && n.Via == 0 {
		var routed bool
		if n, routed, err = s.reroute(ctx, r, n, now); err != nil || !routed {
			return err
		}
	}
	var through Contact
	if relayed() {
		if through, err = s.st.NoticeContact(ctx, n.Via); err != nil {
			return err
		}
		switch {
		case through.HasWebhook:
		case n.Channel == ByHotline:
			return s.inQueue(ctx, n, through.Org, now)
		default:
			return s.withReport(ctx, n, through.Org, now)
		}
	}
	msg := NoticeMessage{Notice: n.ID, Case: n.Case, URLs: n.URLs, Classification: n.Classification, Channel: n.Channel,
		ReportedAt: r.ReceivedAt, SentAt: now, Send: n.Sends + 1, RemovalURL: s.o.BaseURL + "/v1/notices/" + n.ID + "/removed"}
	if n.Host != 0 {
		o, err := s.st.OrgByID(ctx, n.Host)
		if err != nil {
			return err
		}
		msg.Host = o.Name
	}
	msg.To = msg.Host
	if relayed() {
		msg.To = through.Org.Name
	}
	body, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	sig := forward.Sign(s.o.Key, NoticeContext, body)
	sendErr := s.deliver(ctx, n, msg, body, sig)
	if errors.Is(sendErr, context.Canceled) {
		return sendErr
	}
	failure := ""
	if sendErr != nil {
		failure = sendErr.Error()
	}
	err = s.st.Update(ctx, func(ctx context.Context, tx Tx) error {
		if err := tx.RecordSend(ctx, id, now, now.Add(s.o.Renotice), failure); err != nil {
			return err
		}
		if sendErr != nil {
			return nil
		}
		if msg.Send == 1 {
			detail := fmt.Sprintf("notice %s by %s", n.ID, n.Channel)
			if err := tx.AddEvent(ctx, n.Case, Event{At: now, Kind: EventNoticed, Actor: audit.System, Org: n.Host, Detail: detail}); err != nil {
				return err
			}
		}
		return s.audit(ctx, tx, audit.Event{At: now, Actor: audit.System, Action: "takedown.notice.send", Object: "notice:" + n.ID,
			Purpose: fmt.Sprintf("case %s, send %d by %s", n.Case, msg.Send, n.Channel), Outcome: audit.OK})
	})
	if err != nil {
		return errors.Join(sendErr, err)
	}
	if sendErr != nil {
		return fmt.Errorf("sending notice %s: %w", n.ID, sendErr)
	}
	return nil
}

// reroute looks again for the way of notice n of case r, which waits for
// a hotline of the country or a Europol organisation to be registered:
// it records the way found, or, with none yet, why the notice waits and
// when it is tried again, and reports whether it found one. A Europol
// registered since the case's report to the police did not receive that
// report, so the notice cannot go with it: it waits for Europol's
// webhook.
func (s *Service) reroute(ctx context.Context, r Record, n Notice, now time.Time) (Notice, bool, error) {
	orgs, err := s.st.Orgs(ctx)
	if err != nil {
		return n, false, err
	}
	var h Hosting
	for _, it := range r.Items {
		if slices.Contains(n.URLs, it.URL) {
			h = itemHosting(r.Case, it)
			break
		}
	}
	ch, via, country, err := s.channel(ctx, orgs, h)
	if err != nil {
		return n, false, err
	}
	why := ""
	switch {
	case ch == ByEuropol && via == 0 && country == "":
		why = "the hosting country is not known and no Europol organisation is registered: " +
			"register one (ward admin org add --kind europol)"
	case ch == ByEuropol && via == 0:
		why = fmt.Sprintf("no hotline for %s and no Europol organisation is registered: "+
			"register one (ward admin org add --kind hotline|europol)", country)
	case ch == ByEuropol && r.Referral != "":
		ct, err := s.st.NoticeContact(ctx, via)
		if err != nil {
			return n, false, err
		}
		if !ct.HasWebhook {
			why = fmt.Sprintf("%s was registered after the case's report went to the police, so the notice cannot go with it: "+
				"give %s a webhook (ward admin org set-webhook)", ct.Org.Name, ct.Org.Name)
		}
	}
	err = s.st.Update(ctx, func(ctx context.Context, tx Tx) error {
		if why != "" {
			return tx.DeferNotice(ctx, n.ID, now.Add(s.o.Renotice), why)
		}
		return tx.SetNoticeRoute(ctx, n.ID, ch, via)
	})
	n.Channel, n.Via = ch, via
	return n, why == "" && err == nil, err
}

// inQueue delivers notice n through hotline h, which has no webhook, by
// its pull: the notice is in the case, which the hotline sees through it
// (in its lists, GET /v1/hotline/cases/{id} and the console: only as
// relay of its notices, see Service.Case), for it to pass on to the
// host. The case stays in its queue: the notice comes after the
// assessment, and cases are handed over only before. Each round marks
// the notice sent again.
func (s *Service) inQueue(ctx context.Context, n Notice, h org.Organisation, now time.Time) error {
	return s.st.Update(ctx, func(ctx context.Context, tx Tx) error {
		cur, err := tx.LockCase(ctx, n.Case)
		if err != nil || cur.State != Noticed {
			return err
		}
		if err := tx.RecordSend(ctx, n.ID, now, now.Add(s.o.Renotice), ""); err != nil {
			return err
		}
		if n.Sends == 0 {
			detail := fmt.Sprintf("notice %s in the queue of hotline %s, to pass on to the host", n.ID, h.Name)
			if err := tx.AddEvent(ctx, n.Case, Event{At: now, Kind: EventNoticed, Actor: audit.System, Org: n.Host, Detail: detail}); err != nil {
				return err
			}
		}
		return s.audit(ctx, tx, audit.Event{At: now, Actor: audit.System, Action: "takedown.notice.send", Object: "notice:" + n.ID,
			Purpose: fmt.Sprintf("case %s, send %d in the queue of hotline %d", n.Case, n.Sends+1, h.ID), Outcome: audit.OK})
	})
}

// withReport delivers notice n through Europol organisation eu, which has
// no webhook, with the case's report to the police, which Europol
// receives as it receives every forwarded report: once the report is
// made (Refer records it delivered then, in the referral's transaction),
// and not before; the notice waits until then. It is not sent again, as
// the report is not: a notice delivered with the report needs nothing.
func (s *Service) withReport(ctx context.Context, n Notice, eu org.Organisation, now time.Time) error {
	if n.Sends > 0 && n.NextSendAt.IsZero() {
		return nil
	}
	return s.st.Update(ctx, func(ctx context.Context, tx Tx) error {
		cur, err := tx.LockCase(ctx, n.Case)
		if err != nil || cur.State != Noticed {
			return err
		}
		if cur.Referral == "" {
			return tx.DeferNotice(ctx, n.ID, now.Add(s.o.Renotice),
				fmt.Sprintf("waits for the case's report to the police, which takes it to %s", eu.Name))
		}
		// Not sent before as read: delivered meanwhile, with the report.
		delivered, err := s.deliveredWithReport(ctx, tx, n, eu, cur.Referral, now)
		if err != nil || delivered || n.Sends == 0 {
			return err
		}
		// Pushed to Europol's webhook before, which is gone: the notice
		// waits for one.
		return tx.DeferNotice(ctx, n.ID, now.Add(s.o.Renotice),
			fmt.Sprintf("%s has no webhook any more: give it one (ward admin org set-webhook) for the notice to be sent again", eu.Name))
	})
}

// deliveredWithReport records notice n delivered with report rep to
// Europol eu, unless it was sent before, and reports whether it did.
func (s *Service) deliveredWithReport(ctx context.Context, tx Tx, n Notice, eu org.Organisation, rep string, at time.Time) (bool, error) {
	ok, err := tx.DeliverOnce(ctx, n.ID, at)
	if err != nil || !ok {
		return false, err
	}
	detail := fmt.Sprintf("notice %s with the report %s to %s", n.ID, rep, eu.Name)
	if err := tx.AddEvent(ctx, n.Case, Event{At: at, Kind: EventNoticed, Actor: audit.System, Org: n.Host, Detail: detail}); err != nil {
		return false, err
	}
	return true, s.audit(ctx, tx, audit.Event{At: at, Actor: audit.System, Action: "takedown.notice.send", Object: "notice:" + n.ID,
		Purpose: fmt.Sprintf("case %s, with report %s to Europol %d", n.Case, rep, eu.ID), Outcome: audit.OK})
}

// deliver sends a signed notice by its channel: by e-mail, or to the
// webhook of the host or of the organisation it goes through.
func (s *Service) deliver(ctx context.Context, n Notice, msg NoticeMessage, body []byte, sig string) error {
	if n.Channel == ByEmail {
		if s.o.Mailer == nil {
			return errors.New("no mail server is configured to send notices by e-mail")
		}
		ct, err := s.st.NoticeContact(ctx, n.Host)
		if err != nil {
			return err
		}
		if ct.Email == "" {
			return fmt.Errorf("host %d has no notice address any more", n.Host)
		}
		return s.o.Mailer.Send(ctx, []string{ct.Email}, "Notice "+n.ID+": illegal content on your service",
			noticeText(msg, body, sig), map[string]string{
				forward.SignatureHeader: sig, NoticeIDHeader: n.ID, NoticeSendHeader: strconv.Itoa(msg.Send)})
	}
	to, whose := n.Host, "host"
	if n.Channel != ByWebhook {
		to, whose = n.Via, "organisation"
	}
	hook, err := forward.OpenWebhook(ctx, s.st, s.o.Sealer, to)
	if err != nil {
		return err
	}
	if hook == "" {
		return fmt.Errorf("%s %d has no webhook any more", whose, to)
	}
	return forward.PostSigned(ctx, s.http, hook, body, sig, http.Header{
		NoticeIDHeader:   {n.ID},
		NoticeSendHeader: {strconv.Itoa(msg.Send)},
	})
}

// noticeText is the plain text of an e-mailed notice: the facts, then the
// signed JSON and its signature.
func noticeText(m NoticeMessage, body []byte, sig string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "This is notice %s of case %s (sent %d time(s), first report %s).\n\n", m.Notice, m.Case, m.Send,
		m.ReportedAt.Format(time.RFC3339))
	fmt.Fprintf(&b, "The following URLs on your service were assessed as child sexual abuse material (%s):\n\n", m.Classification)
	for _, u := range m.URLs {
		fmt.Fprintf(&b, "  %s\n", u)
	}
	fmt.Fprintf(&b, "\nPlease remove the content. Once removed, tell us so with a POST to\n  %s\n", m.RemovalURL)
	b.WriteString("with your API key; we then check again at once. Until the content is gone, the notice is sent again.\n\n")
	b.WriteString("The notice as signed (the signature covers \"ward takedown notice v1\\n\" and then this line exactly):\n\n")
	b.Write(body)
	fmt.Fprintf(&b, "\n\n%s: %s\n", forward.SignatureHeader, sig)
	return b.String()
}

// AnswerQuiet is how long after a notice's answer another changes
// nothing: a host repeating its answer gets the same reply, without
// another recheck, event or audit entry.
const AnswerQuiet = time.Minute

// Answer records a host's word that it removed the content of notice id
// (sent to it, else an core.ErrNotFound error), and schedules an
// immediate recheck of the notice's items (a JobRecheck, ref
// "notice:ID", and Options.Wake): only the recheck verifies. It reports
// whether a recheck is scheduled: not for a case whose content is
// verified removed already. An answer within AnswerQuiet of the last
// changes nothing (the recheck it scheduled stands).
func (s *Service) Answer(ctx context.Context, host org.Principal, id string) (bool, error) {
	n, err := s.st.TakedownNotice(ctx, id)
	if err != nil || host.OrgID == 0 || n.Host != host.OrgID {
		return false, core.Errorf(core.ErrNotFound, "no notice %s was sent to your organisation", id)
	}
	at := s.now()
	actor := principalActor(host)
	var answered, recheck bool
	err = s.st.Update(ctx, func(ctx context.Context, tx Tx) error {
		r, err := tx.LockCase(ctx, n.Case)
		if err != nil {
			return err
		}
		recheck = r.State == Noticed
		if answered, err = tx.AnswerNotice(ctx, id, at, at.Add(-AnswerQuiet)); err != nil || !answered {
			return err
		}
		if recheck {
			urls, err := checkedURLs(ctx, tx, r.Case, n)
			if err != nil {
				return err
			}
			if err := tx.CheckNow(ctx, n.Case, urls, at); err != nil {
				return err
			}
			if err := tx.EnsureJob(ctx, JobRecheck, "notice:"+id, at); err != nil {
				return err
			}
		}
		if err := tx.AddEvent(ctx, n.Case, Event{At: at, Kind: EventAnswered, Actor: actor, Org: host.OrgID, Detail: "notice " + id}); err != nil {
			return err
		}
		return s.audit(ctx, tx, audit.Event{At: at, OrgID: host.OrgID, OrgName: host.OrgName, Actor: actor,
			Action: "takedown.notice.answer", Object: "notice:" + id, Outcome: audit.OK})
	})
	if err != nil {
		return false, err
	}
	if answered && recheck && s.o.Wake != nil {
		s.o.Wake()
	}
	return recheck, nil
}

// checkedURLs are the URLs of the items of case c that notice n is
// about: its URLs, and the inline items' if it lists the page's, by
// which they are noticed (noticeURL).
func checkedURLs(ctx context.Context, tx Tx, c Case, n Notice) ([]string, error) {
	if !slices.Contains(n.URLs, c.URL) {
		return n.URLs, nil
	}
	items, err := tx.Items(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	urls := slices.Clip(n.URLs)
	for _, it := range items {
		if inline(it.URL) {
			urls = append(urls, it.URL)
		}
	}
	return urls, nil
}
