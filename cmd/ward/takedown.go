package main

import (
	"context"
	"errors"

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

// centreOrg returns a lookup of the centre's organisation, which makes
// the takedown flow's reports to the police.
func centreOrg(orgs *org.Service) func(ctx context.Context) (int64, error) {
	return func(ctx context.Context) (int64, error) {
		all, err := orgs.List(ctx)
		if err != nil {
			return 0, err
		}
		for _, o := range all {
			if o.Kind == org.Centre {
				return o.ID, nil
			}
		}
		return 0, errors.New("no organisation of kind centre is registered to report takedown cases to the police: run 'ward admin init'")
	}
}
