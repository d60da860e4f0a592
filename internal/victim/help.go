package victim

import (
	"context"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/core/text"
)

// MaxHelpName bounds a help service's name, in bytes.
const MaxHelpName = 200

// validPhone reports whether s reads as a phone number: digits, with an
// optional leading +, spaces, dashes, dots and parentheses, 3 to 20
// digits.
func validPhone(s string) bool {
	if len(s) > 32 {
		return false
	}
	digits := 0
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' && i == 0, r == ' ', r == '-', r == '.', r == '(', r == ')':
		default:
			return false
		}
	}
	return digits >= 3 && digits <= 20
}

func letters(s string, lo, hi rune) bool {
	for _, r := range s {
		if r < lo || r > hi {
			return false
		}
	}
	return true
}

// ParseCountry returns an ISO 3166-1 alpha-2 code in upper case.
func ParseCountry(s string) (string, error) {
	c := strings.ToUpper(strings.TrimSpace(s))
	if len(c) != 2 || !letters(c, 'A', 'Z') {
		return "", core.Errorf(core.ErrInvalid, "the country must be a two-letter ISO 3166-1 code such as BE, not %q", s)
	}
	return c, nil
}

// ParseLanguage returns an ISO 639-1 code in lower case.
func ParseLanguage(s string) (string, error) {
	l := strings.ToLower(strings.TrimSpace(s))
	if len(l) != 2 || !letters(l, 'a', 'z') {
		return "", core.Errorf(core.ErrInvalid, "the language must be a two-letter ISO 639-1 code such as fr, not %q", s)
	}
	return l, nil
}

// CheckHelpService checks h as the directory takes it, and returns it
// normalised: a country and a language, a name, and a URL (https only) or
// a phone number, or both.
func CheckHelpService(h HelpService) (HelpService, error) {
	var err error
	if h.Country, err = ParseCountry(h.Country); err != nil {
		return h, err
	}
	if h.Language, err = ParseLanguage(h.Language); err != nil {
		return h, err
	}
	h.Name, h.URL, h.Phone = strings.TrimSpace(h.Name), strings.TrimSpace(h.URL), strings.TrimSpace(h.Phone)
	switch {
	case h.Name == "" || len(h.Name) > MaxHelpName || text.Check(h.Name) != nil:
		return h, core.Errorf(core.ErrInvalid, "the name must be text of 1 to %d bytes", MaxHelpName)
	case h.URL == "" && h.Phone == "":
		return h, core.Errorf(core.ErrInvalid, "a help service needs a URL or a phone number, or both")
	case h.Phone != "" && !validPhone(h.Phone):
		return h, core.Errorf(core.ErrInvalid, "the phone number %q must be digits, with an optional leading +, spaces, dashes, dots or parentheses", h.Phone)
	}
	if h.URL != "" {
		u, err := url.Parse(h.URL)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || len(h.URL) > 2000 || text.Check(h.URL) != nil {
			return h, core.Errorf(core.ErrInvalid, "the URL must be an https:// address, not %q", h.URL)
		}
	}
	return h, nil
}

// AddHelpService adds h to the directory on behalf of actor (as the
// audit trail names actors: audit.AdminCLI for "ward admin") and returns
// it with its ID.
func (s *Service) AddHelpService(ctx context.Context, actor string, h HelpService) (HelpService, error) {
	h, err := CheckHelpService(h)
	if err != nil {
		return HelpService{}, err
	}
	at := s.now()
	err = s.st.Update(ctx, func(ctx context.Context, tx Tx) error {
		if h.ID, err = tx.AddHelpService(ctx, h, at); err != nil {
			return err
		}
		return s.audit(ctx, tx, audit.Event{At: at, Actor: actor, Action: "helpservice.add", Object: "help-service:" + strconv.FormatInt(h.ID, 10),
			Purpose: h.Country + "/" + h.Language + " " + h.Name, Outcome: audit.OK})
	})
	if err != nil {
		return HelpService{}, err
	}
	return h, nil
}

// RemoveHelpService removes help service id from the directory on behalf
// of actor, and returns it.
func (s *Service) RemoveHelpService(ctx context.Context, actor string, id int64) (HelpService, error) {
	var h HelpService
	at := s.now()
	err := s.st.Update(ctx, func(ctx context.Context, tx Tx) (err error) {
		if h, err = tx.RemoveHelpService(ctx, id); err != nil {
			return err
		}
		return s.audit(ctx, tx, audit.Event{At: at, Actor: actor, Action: "helpservice.remove", Object: "help-service:" + strconv.FormatInt(id, 10),
			Purpose: h.Country + "/" + h.Language + " " + h.Name, Outcome: audit.OK})
	})
	return h, err
}

// AllHelpServices returns the whole directory, by country, language and
// name.
func (s *Service) AllHelpServices(ctx context.Context) ([]HelpService, error) {
	return s.st.HelpServiceList(ctx)
}

// HelpServices returns the help services for a person of country and
// language: those of the country, in the language first, then in its
// other languages. With country "" it returns every country's, those in
// the language first. Either may be "" and is otherwise checked.
func (s *Service) HelpServices(ctx context.Context, country, language string) ([]HelpService, error) {
	var err error
	if country != "" {
		if country, err = ParseCountry(country); err != nil {
			return nil, err
		}
	}
	if language != "" {
		if language, err = ParseLanguage(language); err != nil {
			return nil, err
		}
	}
	all, err := s.st.HelpServiceList(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]HelpService, 0, len(all))
	for _, h := range all {
		if country == "" || h.Country == country {
			out = append(out, h)
		}
	}
	// Stable: the store's order holds within each part.
	slices.SortStableFunc(out, func(a, b HelpService) int {
		return boolRank(a.Language == language) - boolRank(b.Language == language)
	})
	return out, nil
}

func boolRank(b bool) int {
	if b {
		return 0
	}
	return 1
}
