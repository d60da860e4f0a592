package translog_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/indicator/translog"
)

var at = time.Date(2026, 12, 7, 23, 25, 1, 123456000, time.UTC)

func TestEntryRoundTrip(t *testing.T) {
	for _, e := range []translog.Entry{
		{Seq: 1, Kind: indicator.Activate, Signal: indicator.PDQ, Value: strings.Repeat("f8", 32), Category: indicator.A1, At: at},
		{Seq: 42, Kind: indicator.Withdraw, Signal: indicator.MD5, Value: "00112233445566778899aabbccddeeff", Category: indicator.National, At: at.Truncate(time.Second)},
		{Seq: 1 << 40, Kind: indicator.Quarantine, Signal: indicator.SHA256, Value: strings.Repeat("0a", 32), Category: indicator.Baseline, At: time.Unix(0, 0).UTC()},
		{Seq: 7, Kind: indicator.Release, Signal: indicator.PDQ, Value: strings.Repeat("01", 32), Category: indicator.B2, At: at},
	} {
		b := e.Marshal()
		got, err := translog.ParseEntry(b)
		if err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		if got != e || !got.At.Equal(e.At) {
			t.Errorf("%q parsed as %+v, want %+v", b, got, e)
		}
		if string(got.Marshal()) != string(b) {
			t.Errorf("%q marshalled again as %q", b, got.Marshal())
		}
	}
}

// TestEntryEncoding pins the bytes of an entry: they are the log's leaves,
// which everyone who checks the log rebuilds.
func TestEntryEncoding(t *testing.T) {
	e := translog.Entry{Seq: 12345, Kind: indicator.Activate, Signal: indicator.MD5, Value: "00112233445566778899aabbccddeeff",
		Category: indicator.A2, At: time.Date(2026, 12, 7, 23, 25, 1, 123456789, time.FixedZone("CET", 3600))}
	const want = "ward-list-change/v1 12345 activate md5 00112233445566778899aabbccddeeff A2 2026-12-07T22:25:01.123456Z\n"
	if got := string(e.Marshal()); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// TestParseEntryStrict: only Marshal's spelling of an entry parses, so
// that no two byte strings (two leaf hashes) mean the same change.
func TestParseEntryStrict(t *testing.T) {
	good := "ward-list-change/v1 12 activate md5 00112233445566778899aabbccddeeff A2 2026-12-07T23:25:01.123456Z\n"
	if _, err := translog.ParseEntry([]byte(good)); err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]string{
		"no newline":       strings.TrimSuffix(good, "\n"),
		"CRLF":             strings.TrimSuffix(good, "\n") + "\r\n",
		"two newlines":     good + "\n",
		"other header":     strings.Replace(good, "v1", "v2", 1),
		"leading zero":     strings.Replace(good, " 12 ", " 012 ", 1),
		"seq zero":         strings.Replace(good, " 12 ", " 0 ", 1),
		"seq sign":         strings.Replace(good, " 12 ", " +12 ", 1),
		"not logged":       strings.Replace(good, "activate", "add", 1),
		"kind case":        strings.Replace(good, "activate", "Activate", 1),
		"signal case":      strings.Replace(good, " md5 ", " MD5 ", 1),
		"upper hex":        strings.Replace(good, "aabbcc", "AABBCC", 1),
		"short value":      strings.Replace(good, "00112233", "112233", 1),
		"category case":    strings.Replace(good, " A2 ", " a2 ", 1),
		"no fraction":      strings.Replace(good, ".123456Z", "Z", 1),
		"millis":           strings.Replace(good, ".123456Z", ".123Z", 1),
		"nanos":            strings.Replace(good, ".123456Z", ".123456789Z", 1),
		"offset":           strings.Replace(good, "Z\n", "+00:00\n", 1),
		"double space":     strings.Replace(good, " md5", "  md5", 1),
		"tab":              strings.Replace(good, " md5", "\tmd5", 1),
		"extra field":      strings.Replace(good, " A2 ", " A2 x ", 1),
		"empty":            "",
		"bad time":         strings.Replace(good, "23:25", "25:25", 1),
		"all-zero pdq":     "ward-list-change/v1 1 activate pdq " + strings.Repeat("0", 64) + " A1 2026-12-07T23:25:01.123456Z\n",
		"trailing garbage": good + "x",
	} {
		if _, err := translog.ParseEntry([]byte(bad)); !errors.Is(err, core.ErrInvalid) {
			t.Errorf("%s: %q parsed (err %v)", name, bad, err)
		}
	}
}

func TestLogged(t *testing.T) {
	for _, tc := range []struct {
		c    indicator.Change
		want bool
	}{
		{indicator.Change{Kind: indicator.Add}, false},
		{indicator.Change{Kind: indicator.Attest}, false},
		{indicator.Change{Kind: indicator.Activate}, true},
		{indicator.Change{Kind: indicator.Quarantine}, true},
		{indicator.Change{Kind: indicator.Release}, true},
		{indicator.Change{Kind: indicator.Withdraw}, false},
		{indicator.Change{Kind: indicator.Withdraw, WasActive: true}, true},
	} {
		if got := translog.Logged(tc.c); got != tc.want {
			t.Errorf("Logged(%s, was active %v) = %v", tc.c.Kind, tc.c.WasActive, got)
		}
	}
}
