package report_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/reporting/report"
)

// FuzzDecode checks that Decode never panics, that what it accepts is
// valid and survives encoding and decoding again unchanged, and that what
// it refuses is refused as core.ErrInvalid.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		fullReport,
		minimalReport,
		``,
		`{}`,
		`null`,
		`[]`,
		`{"type": `,
		`{"type": "known"} {}`,
		`{"Type": "known"}`,
		`{"items": [{"kind": "hash", "hashes": {"pdq": 1}}]}`,
		`{"incident_time": "2024-13-01T00:00:00Z"}`,
		`{"incident_time": "0001-01-01T00:00:00Z", "type": "known", "items": [{"kind": "file"}], "service": {"type": "hosting"}, "awareness": {"method": "moderator"}}`,
		`{"reported_user": {"ip_captures": [{"ip": "::ffff:192.0.2.1", "port": 65536, "event": "upload"}]}}`,
		`{"victims": [{"age_range": {"min": -1, "max": 99}}], "urgency": {"urgent": false, "reason": "x"}}`,
		"{\"additional_info\": \"\xff\xfe\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := report.Decode(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, core.ErrInvalid) {
				t.Fatalf("error %v does not wrap core.ErrInvalid", err)
			}
			var ve *report.ValidationError
			if !errors.As(err, &ve) || len(ve.Errors) == 0 {
				t.Fatalf("error %v is not a *ValidationError with errors", err)
			}
			return
		}
		if err := d.Validate(); err != nil {
			t.Fatalf("Decode accepted a report that Validate refuses: %v", err)
		}
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatalf("encoding: %v", err)
		}
		d2, err := report.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("decoding %s again: %v", b, err)
		}
		if !reflect.DeepEqual(d, d2) {
			t.Fatalf("round trip changed the report:\n%#v\n%#v", d, d2)
		}
	})
}
