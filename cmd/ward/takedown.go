package main

import (
	"context"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/platform/mail"
)

// smtpMailer sends the takedown notices that go by e-mail.
type smtpMailer struct{ s *mail.Sender }

func (m smtpMailer) Send(ctx context.Context, to []string, subject, text string, headers map[string]string) error {
	return m.s.Send(ctx, mail.Message{To: to, Subject: subject, Text: text, Headers: headers})
}

// fetcherAgent is the User-Agent of the fetcher of reported URLs: it
// names Ward's fetcher and where the centre answers for it, so that a
// host that sees it in its logs knows who fetched and why.
func fetcherAgent(baseURL string) string {
	return "Ward-Fetcher/1 (checks URLs reported to the centre's hotline; +" + baseURL + "/report)"
}

// centre returns the ID of the centre's organisation, which makes the
// takedown flow's reports to the police; 0 if none is registered yet.
func centre(ctx context.Context, orgs *org.Service) (int64, error) {
	all, err := orgs.List(ctx)
	if err != nil {
		return 0, err
	}
	for _, o := range all {
		if o.Kind == org.Centre {
			return o.ID, nil
		}
	}
	return 0, nil
}
