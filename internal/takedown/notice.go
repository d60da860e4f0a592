package takedown

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
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
	if n.Channel == ByHotline || n.Channel == ByEuropol {
		// Without a Europol organisation (Via 0) the send fails below.
		msg.To = ""
		if n.Via != 0 {
			o, err := s.st.OrgByID(ctx, n.Via)
			if err != nil {
				return err
			}
			msg.To = o.Name
		}
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

// deliver sends a signed notice by its channel.
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
	to := n.Host
	if n.Channel != ByWebhook {
		to = n.Via
	}
	if to == 0 {
		return errors.New("no Europol organisation is registered to pass the notice on")
	}
	hook, err := forward.OpenWebhook(ctx, s.st, s.o.Sealer, to)
	if err != nil {
		return err
	}
	if hook == "" {
		return fmt.Errorf("organisation %d has no webhook any more", to)
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
// "notice:ID", and Options.Wake): only the recheck verifies. An answer
// within AnswerQuiet of the last changes nothing.
func (s *Service) Answer(ctx context.Context, host org.Principal, id string) error {
	n, err := s.st.TakedownNotice(ctx, id)
	if err != nil || host.OrgID == 0 || n.Host != host.OrgID {
		return core.Errorf(core.ErrNotFound, "no notice %s was sent to your organisation", id)
	}
	at := s.now()
	actor := principalActor(host)
	var answered bool
	err = s.st.Update(ctx, func(ctx context.Context, tx Tx) error {
		r, err := tx.LockCase(ctx, n.Case)
		if err != nil {
			return err
		}
		if answered, err = tx.AnswerNotice(ctx, id, at, at.Add(-AnswerQuiet)); err != nil || !answered {
			return err
		}
		if r.State == Noticed {
			if err := tx.CheckNow(ctx, n.Case, n.URLs, at); err != nil {
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
		return err
	}
	if answered && s.o.Wake != nil {
		s.o.Wake()
	}
	return nil
}
