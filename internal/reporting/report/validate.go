package report

import (
	"fmt"
	"net/mail"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/core/text"
	"github.com/wardhq/ward/internal/indicator"
)

// Limits on a report's size. They bound the work of validating, sealing
// and assessing a report; Decode's caller bounds the JSON it reads (a
// report within these limits is well under 1 MiB).
const (
	MaxItems        = 100  // content items per report
	MaxIPCaptures   = 50   // IP captures per reported user
	MaxContacts     = 20   // e-mail addresses, and phone numbers, per reported user
	MaxThirdCountry = 20   // third-country reports per report
	MaxVictims      = 20   // victims per report
	MaxText         = 1024 // bytes of each free-text field
	MaxName         = 256  // bytes of each name, identifier or reference
	MaxURL          = 2048 // bytes of each URL
	MaxAge          = 17   // the highest age in an AgeRange: victims are children
	// MaxErrors is the most field errors a ValidationError lists; its
	// Total counts them all.
	MaxErrors = 100
)

// FieldError is what is wrong with one field of a report.
type FieldError struct {
	// Pointer names the field as a JSON pointer (RFC 6901) into the
	// report's JSON, such as "/items/2/hashes/pdq"; "" for the whole
	// report.
	Pointer string `json:"pointer"`
	Detail  string `json:"detail"` // what is wrong, safe to show to the provider
}

// ValidationError lists the field errors of a report, in the order of the
// fields: the first MaxErrors of them, so that hostile input cannot make
// the answer grow with it. It wraps core.ErrInvalid.
type ValidationError struct {
	Errors []FieldError
	Total  int // how many field errors there were, listed or not
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("invalid report: ")
	for i, fe := range e.Errors {
		if i > 0 {
			b.WriteString("; ")
		}
		if fe.Pointer != "" {
			b.WriteString(fe.Pointer + ": ")
		}
		b.WriteString(fe.Detail)
	}
	return b.String()
}

// Unwrap returns core.ErrInvalid.
func (e *ValidationError) Unwrap() error { return core.ErrInvalid }

// checker collects field errors, and normalises the fields it checks if
// fix is set.
type checker struct {
	errs  []FieldError
	total int
	fix   bool
}

func (c *checker) add(ptr, format string, args ...any) {
	c.total++
	if len(c.errs) < MaxErrors {
		c.errs = append(c.errs, FieldError{Pointer: ptr, Detail: fmt.Sprintf(format, args...)})
	}
}

// err returns the errors collected, as a *ValidationError, or nil.
func (c *checker) err() error {
	if len(c.errs) == 0 {
		return nil
	}
	return &ValidationError{Errors: c.errs, Total: c.total}
}

// Validate checks d, returning a *ValidationError listing every field
// error, or nil. It accepts values in any form Decode accepts (hashes in
// upper case, say), which Normalize puts in canonical form.
func (d Draft) Validate() error {
	c := checker{}
	c.draft(&d)
	return c.err()
}

// Normalize validates d, as Validate does, and returns it in canonical
// form: hashes in lower case, country codes in upper case, IP addresses
// as netip.Addr writes them, times in UTC or a fixed zone of their
// offset, and empty lists nil. d is not changed.
func (d Draft) Normalize() (Draft, error) {
	n := d.clone()
	c := checker{fix: true}
	c.draft(&n)
	if err := c.err(); err != nil {
		return Draft{}, err
	}
	return n, nil
}

// clone returns a copy of d sharing no memory with it.
func (d Draft) clone() Draft {
	d.Items = slices.Clone(d.Items)
	for i := range d.Items {
		d.Items[i].Annotations = slices.Clone(d.Items[i].Annotations)
	}
	d.User.Emails = slices.Clone(d.User.Emails)
	d.User.Phones = slices.Clone(d.User.Phones)
	d.User.IPCaptures = slices.Clone(d.User.IPCaptures)
	d.ThirdCountry = slices.Clone(d.ThirdCountry)
	d.Victims = slices.Clone(d.Victims)
	for i, v := range d.Victims {
		if v.Age != nil {
			a := *v.Age
			d.Victims[i].Age = &a
		}
	}
	return d
}

// nilIfEmpty sets *s to nil if it is empty, so that a normalised draft
// has one representation for "none" and equals itself re-decoded.
func nilIfEmpty[T any](c *checker, s *[]T) {
	if c.fix && *s != nil && len(*s) == 0 {
		*s = nil
	}
}

func (c *checker) draft(d *Draft) {
	c.time("/incident_time", &d.IncidentTime, true)
	oneOf(c, "/type", string(d.Type), true, TypeKnown, TypeNew, TypeSolicitation)

	nilIfEmpty(c, &d.Items)
	switch {
	case len(d.Items) == 0 && d.Type != TypeSolicitation:
		c.add("/items", "at least one item is required, unless the type is solicitation")
	case len(d.Items) > MaxItems:
		c.add("/items", "at most %d items are allowed in one report, got %d: send several reports", MaxItems, len(d.Items))
	default:
		for i := range d.Items {
			c.item(fmt.Sprintf("/items/%d", i), &d.Items[i])
		}
	}

	c.user("/reported_user", &d.User)

	oneOf(c, "/service/type", string(d.Service.Type), true, Hosting, Interpersonal, OtherService)
	c.url("/service/url", d.Service.URL)
	c.text("/service/info", d.Service.Info, false)

	oneOf(c, "/awareness/method", string(d.Awareness.Method), true,
		AutomatedMatch, DetectionOrder, UserReport, Moderator, Authority, HotlineReport, OtherAwareness)
	c.text("/awareness/detail", d.Awareness.Detail, d.Awareness.Method == OtherAwareness)

	if !d.Removal.Removed && !d.Removal.Time.IsZero() {
		c.add("/content_removed/time", "is given only if removed is true")
	}
	c.time("/content_removed/time", &d.Removal.Time, false)

	oneOf(c, "/account_action/action", string(d.Account.Action), d.Account.Detail != "",
		NoAction, Restricted, Suspended, Closed, OtherAction)
	c.text("/account_action/detail", d.Account.Detail, d.Account.Action == OtherAction)

	switch {
	case d.Urgency.Urgent && d.Urgency.Reason == "":
		c.add("/urgency/reason", "is required if urgent is true: say what the imminent threat is")
	case !d.Urgency.Urgent && d.Urgency.Reason != "":
		c.add("/urgency/reason", "is given only if urgent is true")
	default:
		c.text("/urgency/reason", d.Urgency.Reason, false)
	}

	nilIfEmpty(c, &d.ThirdCountry)
	if len(d.ThirdCountry) > MaxThirdCountry {
		c.add("/third_country_reports", "at most %d are allowed, got %d", MaxThirdCountry, len(d.ThirdCountry))
	} else {
		for i := range d.ThirdCountry {
			t := &d.ThirdCountry[i]
			p := fmt.Sprintf("/third_country_reports/%d", i)
			c.country(p+"/country", &t.Country, true)
			c.name(p+"/authority", t.Authority, true)
			c.name(p+"/reference", t.Reference, false)
		}
	}

	nilIfEmpty(c, &d.Victims)
	if len(d.Victims) > MaxVictims {
		c.add("/victims", "at most %d are allowed, got %d", MaxVictims, len(d.Victims))
	} else {
		for i, v := range d.Victims {
			p := fmt.Sprintf("/victims/%d", i)
			if a := v.Age; a != nil && (a.Min < 0 || a.Min > a.Max || a.Max > MaxAge) {
				c.add(p+"/age_range", "must have 0 <= min <= max <= %d, got min %d and max %d", MaxAge, a.Min, a.Max)
			}
			c.text(p+"/info", v.Info, false)
		}
	}

	c.text("/additional_info", d.AdditionalInfo, false)
}

func (c *checker) item(p string, it *Item) {
	oneOf(c, p+"/kind", string(it.Kind), true, ItemFile, ItemHash)
	h := &it.Hashes
	c.hash(p+"/hashes/pdq", indicator.PDQ, &h.PDQ)
	c.hash(p+"/hashes/md5", indicator.MD5, &h.MD5)
	c.hash(p+"/hashes/sha256", indicator.SHA256, &h.SHA256)
	if it.Kind == ItemHash && *h == (Hashes{}) {
		c.add(p+"/hashes", "an item of kind hash needs at least one of pdq, md5 and sha256")
	}
	c.name(p+"/original_file_name", it.FileName, false)
	c.url(p+"/url", it.URL)
	c.time(p+"/upload_time", &it.UploadTime, false)
	nilIfEmpty(c, &it.Annotations)
	for i, a := range it.Annotations {
		ap := fmt.Sprintf("%s/annotations/%d", p, i)
		switch {
		case !slices.Contains(Annotations, a):
			c.add(ap, "unknown annotation %q (want one of %s)", a, list(Annotations))
		case slices.Contains(it.Annotations[:i], a):
			c.add(ap, "annotation %q is given twice", a)
		}
	}
	if it.Category != "" {
		cat, err := indicator.ParseCategory(string(it.Category))
		switch {
		case err != nil || !slices.Contains([]indicator.Category{indicator.A1, indicator.A2, indicator.B1, indicator.B2}, cat):
			c.add(p+"/industry_category", "unknown category %q (want A1, A2, B1 or B2)", it.Category)
		case c.fix:
			it.Category = cat
		}
	}
}

func (c *checker) user(p string, u *User) {
	c.name(p+"/id", u.ID, false)
	c.name(p+"/screen_name", u.ScreenName, false)
	c.name(p+"/display_name", u.DisplayName, false)
	nilIfEmpty(c, &u.Emails)
	if len(u.Emails) > MaxContacts {
		c.add(p+"/emails", "at most %d are allowed, got %d", MaxContacts, len(u.Emails))
	} else {
		for i, e := range u.Emails {
			ep := fmt.Sprintf("%s/emails/%d", p, i)
			if a, err := mail.ParseAddress(e); err != nil || a.Name != "" || a.Address != e || len(e) > 254 {
				c.add(ep, "is not an e-mail address such as name@example.org")
			}
		}
	}
	nilIfEmpty(c, &u.Phones)
	if len(u.Phones) > MaxContacts {
		c.add(p+"/phones", "at most %d are allowed, got %d", MaxContacts, len(u.Phones))
	} else {
		for i, ph := range u.Phones {
			if !validPhone(ph) {
				c.add(fmt.Sprintf("%s/phones/%d", p, i), "is not a phone number such as +3212345678")
			}
		}
	}
	c.country(p+"/country", &u.Country, false)
	nilIfEmpty(c, &u.IPCaptures)
	if len(u.IPCaptures) > MaxIPCaptures {
		c.add(p+"/ip_captures", "at most %d are allowed, got %d", MaxIPCaptures, len(u.IPCaptures))
	} else {
		for i := range u.IPCaptures {
			c.ipCapture(fmt.Sprintf("%s/ip_captures/%d", p, i), &u.IPCaptures[i])
		}
	}
	c.text(p+"/additional_info", u.AdditionalInfo, false)
}

func (c *checker) ipCapture(p string, ip *IPCapture) {
	switch a, err := netip.ParseAddr(ip.IP); {
	case ip.IP == "":
		c.add(p+"/ip", "is required")
	case err != nil || a.Zone() != "":
		c.add(p+"/ip", "is not an IPv4 or IPv6 address")
	case c.fix:
		ip.IP = a.String()
	}
	if ip.Port < 0 || ip.Port > 65535 {
		c.add(p+"/port", "must be between 0 and 65535, got %d", ip.Port)
	}
	c.time(p+"/time", &ip.Time, false)
	if ip.TimeZone != "" && !validTimeZone(ip.TimeZone) {
		c.add(p+"/time_zone", "is not a time zone name such as Europe/Brussels")
	}
	oneOf(c, p+"/event", string(ip.Event), true,
		CaptureUpload, CaptureLogin, CaptureRegistration, CapturePurchase, CaptureOther, CaptureUnknown)
}

// oneOf checks that v is one of want, or empty if not required. (It is
// not a method of checker: methods cannot have type parameters.)
func oneOf[T ~string](c *checker, p, v string, required bool, want ...T) {
	if v == "" {
		if required {
			c.add(p, "is required (one of %s)", list(want))
		}
		return
	}
	if !slices.Contains(want, T(v)) {
		c.add(p, "unknown value %q (want one of %s)", v, list(want))
	}
}

func list[T ~string](vs []T) string {
	ss := make([]string, len(vs))
	for i, v := range vs {
		ss[i] = string(v)
	}
	return strings.Join(ss, ", ")
}

// earliest is the earliest time a report may name: before it there were
// no online services to report.
var earliest = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)

// time checks a time and, if fixing, puts it in UTC if its offset is zero
// and in a fixed zone of its offset otherwise, without monotonic clock
// reading: the form in which it is decoded again from its RFC 3339 text.
func (c *checker) time(p string, t *time.Time, required bool) {
	if t.IsZero() {
		if required {
			c.add(p, "is required (a date and time in RFC 3339 form, such as 2024-05-01T12:00:00+02:00)")
		}
		return
	}
	switch {
	case t.Before(earliest):
		c.add(p, "is out of range: %s is before 1970", t.Format(time.RFC3339))
		return
	case t.Year() > 9999:
		c.add(p, "is out of range: after the year 9999")
		return
	}
	if c.fix {
		if _, off := t.Zone(); off == 0 {
			*t = t.UTC()
		} else {
			*t = t.In(time.FixedZone("", off))
		}
	}
}

func (c *checker) hash(p string, sig indicator.Signal, v *string) {
	if *v == "" {
		return
	}
	n, err := indicator.NormalizeValue(sig, *v)
	if err != nil {
		c.add(p, "%s", err.Error())
		return
	}
	if c.fix {
		*v = n
	}
}

func (c *checker) country(p string, v *string, required bool) {
	if *v == "" {
		if required {
			c.add(p, "is required (an ISO 3166-1 alpha-2 code such as BE)")
		}
		return
	}
	cc, err := org.ParseCountry(*v)
	if err != nil {
		c.add(p, "%q is not an ISO 3166-1 alpha-2 country code such as BE", *v)
		return
	}
	if c.fix {
		*v = cc
	}
}

// name checks a one-line string of at most MaxName bytes.
func (c *checker) name(p, s string, required bool) {
	c.str(p, s, required, MaxName, false)
}

// text checks a free text of at most MaxText bytes.
func (c *checker) text(p, s string, required bool) {
	c.str(p, s, required, MaxText, true)
}

func (c *checker) str(p, s string, required bool, max int, multiline bool) {
	switch {
	case s == "":
		if required {
			c.add(p, "is required")
		}
	case len(s) > max:
		c.add(p, "is too long: at most %d bytes, got %d", max, len(s))
	case text.Check(s) != nil:
		c.add(p, "%v", text.Check(s))
	case !multiline && strings.ContainsFunc(s, unicode.IsControl):
		c.add(p, "is one line: it may not contain tab or newline")
	}
}

func (c *checker) url(p, s string) {
	if s == "" {
		return
	}
	if len(s) > MaxURL {
		c.add(p, "is too long: at most %d bytes, got %d", MaxURL, len(s))
		return
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || !utf8.ValidString(s) {
		c.add(p, "is not an http or https URL")
	}
}

// validPhone reports whether s looks like a phone number: an optional
// leading +, then digits (at least three) and the separators people write
// (space, -, ., parentheses).
func validPhone(s string) bool {
	if len(s) > 32 {
		return false
	}
	digits := 0
	for i, r := range s {
		switch {
		case '0' <= r && r <= '9':
			digits++
		case r == '+' && i == 0:
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return false
		}
	}
	return digits >= 3
}

// validTimeZone reports whether s looks like an IANA time zone name, such
// as "Europe/Brussels", "UTC" or "Etc/GMT+2". It is not looked up: the
// names change with the tz database, and Ward forwards, not converts.
func validTimeZone(s string) bool {
	if len(s) > 64 || s == "" || !('A' <= s[0] && s[0] <= 'Z' || 'a' <= s[0] && s[0] <= 'z') {
		return false
	}
	for _, r := range s {
		if !('A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || strings.ContainsRune("/_+-", r)) {
			return false
		}
	}
	return true
}
