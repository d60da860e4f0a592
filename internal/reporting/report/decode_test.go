package report_test

import (
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/reporting/report"
)

// fullReport uses every field of a report.
const fullReport = `{
  "incident_time": "2024-05-01T12:00:00+02:00",
  "type": "new",
  "items": [
    {
      "kind": "file",
      "original_file_name": "IMG_0042.JPG",
      "url": "https://photos.example.com/p/42",
      "upload_time": "2024-05-01T11:58:00+02:00",
      "viewed_by_provider": true,
      "publicly_available": false,
      "annotations": ["self_generated", "viral"],
      "industry_category": "a1"
    },
    {
      "kind": "hash",
      "hashes": {
        "pdq": "F8F8F0CEE0F4A84F06370A22038F63F0B36E2ED596621E1D33E6B39C4E9C9B22",
        "md5": "d41d8cd98f00b204e9800998ecf8427e",
        "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
      },
      "annotations": ["generative_ai"]
    }
  ],
  "reported_user": {
    "id": "u-123456",
    "screen_name": "someone",
    "display_name": "Some One",
    "emails": ["someone@example.org"],
    "phones": ["+32 2 123 45 67"],
    "country": "be",
    "ip_captures": [
      {"ip": "2001:DB8::1", "port": 51234, "time": "2024-05-01T09:58:00Z", "time_zone": "Europe/Brussels", "event": "upload"},
      {"ip": "192.0.2.7", "event": "login"}
    ],
    "additional_info": "Account created 2024-04-30."
  },
  "service": {"type": "hosting", "url": "https://photos.example.com/", "info": "Photo sharing"},
  "awareness": {"method": "automated_match", "detail": "PDQ match against our own list"},
  "content_removed": {"removed": true, "time": "2024-05-01T12:05:00+02:00"},
  "account_action": {"action": "suspended"},
  "urgency": {"urgent": true, "reason": "The user announced a meeting with the child tomorrow."},
  "third_country_reports": [{"country": "us", "authority": "NCMEC", "reference": "CT-123"}],
  "victims": [{"age_range": {"min": 12, "max": 14}, "identified": false, "info": "Appears in both items."}],
  "additional_info": "Line one.\nLine two."
}`

// minimalReport has only the required fields.
const minimalReport = `{
  "incident_time": "2024-05-01T10:00:00Z",
  "type": "known",
  "items": [{"kind": "hash", "hashes": {"md5": "d41d8cd98f00b204e9800998ecf8427e"}}],
  "service": {"type": "interpersonal_communication"},
  "awareness": {"method": "user_report"}
}`

func TestDecodeFull(t *testing.T) {
	d, err := report.Decode(strings.NewReader(fullReport))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	// Normalised: hashes in lower case, countries and categories in
	// upper case, IP addresses as netip writes them.
	if got := d.Items[1].Hashes.PDQ; got != strings.ToLower(got) {
		t.Errorf("PDQ not lower case: %s", got)
	}
	if d.Items[0].Category != "A1" || d.User.Country != "BE" || d.ThirdCountry[0].Country != "US" {
		t.Errorf("category %q, countries %q %q", d.Items[0].Category, d.User.Country, d.ThirdCountry[0].Country)
	}
	if got := d.User.IPCaptures[0].IP; got != "2001:db8::1" {
		t.Errorf("IP %q", got)
	}
	if _, off := d.IncidentTime.Zone(); off != 7200 {
		t.Errorf("incident time offset %d, want 7200 (the time zone is kept)", off)
	}
	want := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	if !d.IncidentTime.Equal(want) {
		t.Errorf("incident time %v, want %v", d.IncidentTime, want)
	}
	roundTrip(t, d)
}

func TestDecodeMinimal(t *testing.T) {
	d, err := report.Decode(strings.NewReader(minimalReport))
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, d)
}

// roundTrip checks that d encodes to JSON that decodes to d again.
func roundTrip(t *testing.T, d report.Draft) {
	t.Helper()
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := report.Decode(strings.NewReader(string(b)))
	if err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	if !reflect.DeepEqual(d, d2) {
		t.Errorf("round trip changed the report:\n%#v\n%#v", d, d2)
	}
}

func fieldErrors(t *testing.T, err error) []report.FieldError {
	t.Helper()
	if !errors.Is(err, core.ErrInvalid) {
		t.Fatalf("error %v does not wrap core.ErrInvalid", err)
	}
	var ve *report.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v is not a *ValidationError", err)
	}
	return ve.Errors
}

func pointers(fes []report.FieldError) []string {
	var ps []string
	for _, fe := range fes {
		ps = append(ps, fe.Pointer)
	}
	return ps
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want []string // pointers, in order
	}{
		{"empty", ``, []string{""}},
		{"not JSON", `{"type": `, []string{""}},
		{"syntax", `{"type" "known"}`, []string{""}},
		{"array", `[]`, []string{""}},
		{"null", `null`, []string{""}},
		{"trailing", minimalReport + ` {}`, []string{""}},
		{"empty object", `{}`, []string{"/incident_time", "/type", "/items", "/service/type", "/awareness/method"}},
		{"unknown fields", `{"Type": "known", "items": [{"kind": "hash", "colour": 1}], "a/b~c": 0}`,
			[]string{"/Type", "/a~1b~0c", "/items/0/colour"}},
		{"types", `{"incident_time": 5, "type": 1, "items": {}, "urgency": {"urgent": "yes"},
			"reported_user": {"ip_captures": [{"ip": "192.0.2.1", "port": "80"}, {"port": 1.5}, {"port": 1e99}]},
			"victims": [{"age_range": []}]}`,
			[]string{"/incident_time", "/items", "/reported_user/ip_captures/0/port", "/reported_user/ip_captures/1/port",
				"/reported_user/ip_captures/2/port", "/type", "/urgency/urgent", "/victims/0/age_range"}},
		{"bad time", `{"incident_time": "yesterday"}`, []string{"/incident_time"}},
		{"values", `{
			"incident_time": "1969-12-31T23:59:59Z",
			"type": "old",
			"items": [
				{"kind": "hash"},
				{"kind": "file", "hashes": {"pdq": "00000000000000000000000000000000000000000000000000000000000000000", "md5": "xyz"},
				 "url": "ftp://example.org/a", "annotations": ["viral", "cute", "viral"], "industry_category": "C3",
				 "original_file_name": "a\u0000b"},
				{"kind": "hash", "hashes": {"pdq": "0000000000000000000000000000000000000000000000000000000000000000"}}
			],
			"reported_user": {
				"emails": ["Someone <someone@example.org>", "nobody"],
				"phones": ["call me"],
				"country": "EU",
				"ip_captures": [{"ip": "fe80::1%eth0", "port": 70000, "time_zone": "../etc", "event": "visit"}, {"event": "login"}]
			},
			"service": {"type": "hosting", "url": "javascript:alert(1)"},
			"awareness": {"method": "other"},
			"content_removed": {"removed": false, "time": "2024-05-01T10:00:00Z"},
			"account_action": {"detail": "banned"},
			"urgency": {"urgent": true},
			"third_country_reports": [{"country": "XX"}],
			"victims": [{"age_range": {"min": 10, "max": 9}}]
		}`, []string{
			"/incident_time", "/type",
			"/items/0/hashes",
			"/items/1/hashes/pdq", "/items/1/hashes/md5", "/items/1/original_file_name", "/items/1/url",
			"/items/1/annotations/1", "/items/1/annotations/2", "/items/1/industry_category",
			"/items/2/hashes/pdq",
			"/reported_user/emails/0", "/reported_user/emails/1", "/reported_user/phones/0", "/reported_user/country",
			"/reported_user/ip_captures/0/ip", "/reported_user/ip_captures/0/port", "/reported_user/ip_captures/0/time_zone",
			"/reported_user/ip_captures/0/event", "/reported_user/ip_captures/1/ip",
			"/service/url", "/awareness/detail", "/content_removed/time", "/account_action/action", "/urgency/reason",
			"/third_country_reports/0/country", "/third_country_reports/0/authority", "/victims/0/age_range",
		}},
		{"too long", `{"incident_time": "2024-05-01T10:00:00Z", "type": "solicitation",
			"service": {"type": "hosting"}, "awareness": {"method": "moderator"},
			"additional_info": "` + strings.Repeat("é", report.MaxText) + `"}`, []string{"/additional_info"}},
		{"too many", `{"incident_time": "2024-05-01T10:00:00Z", "type": "known",
			"items": [` + strings.Repeat(`{"kind": "hash", "hashes": {"md5": "d41d8cd98f00b204e9800998ecf8427e"}},`, report.MaxItems) + `{}],
			"service": {"type": "hosting"}, "awareness": {"method": "moderator"}}`, []string{"/items"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := report.Decode(strings.NewReader(tc.in))
			got := pointers(fieldErrors(t, err))
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("pointers:\n got %q\nwant %q\nerror: %v", got, tc.want, err)
			}
		})
	}
}

func TestDecodeManyErrors(t *testing.T) {
	in := `{"items": [` + strings.Repeat(`1,`, 500) + `1]}`
	_, err := report.Decode(strings.NewReader(in))
	var ve *report.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v", err)
	}
	if len(ve.Errors) != report.MaxErrors || ve.Total != 501 {
		t.Errorf("%d errors listed of %d, want %d of 501", len(ve.Errors), ve.Total, report.MaxErrors)
	}
}

func TestDecodeReadError(t *testing.T) {
	boom := errors.New("boom")
	_, err := report.Decode(io.MultiReader(strings.NewReader("{"), iotest.ErrReader(boom)))
	if !errors.Is(err, boom) || errors.Is(err, core.ErrInvalid) {
		t.Errorf("error %v: want the reader's, not ErrInvalid", err)
	}
}

func TestValidate(t *testing.T) {
	d, err := report.Decode(strings.NewReader(fullReport))
	if err != nil {
		t.Fatal(err)
	}
	// Validate does not change the draft it checks.
	d.Items[1].Hashes.MD5 = "D41D8CD98F00B204E9800998ECF8427E"
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if d.Items[1].Hashes.MD5 != "D41D8CD98F00B204E9800998ECF8427E" {
		t.Error("Validate changed the draft")
	}
	n, err := d.Normalize()
	if err != nil || n.Items[1].Hashes.MD5 != "d41d8cd98f00b204e9800998ecf8427e" || d.Items[1].Hashes.MD5[0] != 'D' {
		t.Errorf("Normalize: %v, %q, original %q", err, n.Items[1].Hashes.MD5, d.Items[1].Hashes.MD5)
	}

	d.Urgency.Reason = ""
	d.User.IPCaptures[1].Port = -1
	fes := fieldErrors(t, d.Validate())
	want := []report.FieldError{
		{Pointer: "/reported_user/ip_captures/1/port", Detail: "must be between 0 and 65535, got -1"},
		{Pointer: "/urgency/reason", Detail: "is required if urgent is true: say what the imminent threat is"},
	}
	if !reflect.DeepEqual(fes, want) {
		t.Errorf("got %+v, want %+v", fes, want)
	}
}
