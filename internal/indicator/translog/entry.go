package translog

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/indicator"
)

// EntryHeader is the first word of every entry of a list's log, naming
// the encoding and its version.
const EntryHeader = "ward-list-change/v1"

// TimeLayout is how an entry writes its time: RFC 3339 in UTC with
// exactly six digits of fraction, the precision both databases keep.
const TimeLayout = "2006-01-02T15:04:05.000000Z"

// Entry is one entry of a list's log: a change of the list's feed that
// changed what providers match.
type Entry struct {
	Seq      int64 // the change's Seq in the list's feed
	Kind     indicator.ChangeKind
	Signal   indicator.Signal
	Value    string // lower-case hex
	Category indicator.Category
	At       time.Time // UTC, to the microsecond
}

// Logged reports whether c is logged: an activation, quarantine or
// release, or the withdrawal of an indicator that had been active. The
// others (add, attest, the withdrawal of a pending indicator) changed
// nothing a provider could match.
func Logged(c indicator.Change) bool {
	switch c.Kind {
	case indicator.Activate, indicator.Quarantine, indicator.Release:
		return true
	case indicator.Withdraw:
		return c.WasActive
	}
	return false
}

// EntryOf returns the entry of change c (one that is Logged).
func EntryOf(c indicator.Change) Entry {
	return Entry{Seq: c.Seq, Kind: c.Kind, Signal: c.Signal, Value: c.Value, Category: c.Category, At: c.At}
}

// Marshal returns the entry's bytes, the leaf of the log:
//
//	ward-list-change/v1 SEQ KIND SIGNAL VALUE CATEGORY TIME\n
//
// one line of UTF-8 (ASCII in fact), fields separated by one space: SEQ
// in decimal, KIND activate, withdraw, quarantine or release, SIGNAL pdq,
// md5 or sha256, VALUE in lower-case hex, CATEGORY as stored (A1, A2, B1,
// B2, baseline, national), TIME as TimeLayout. Each entry has exactly one
// encoding, so that anyone can rebuild it from the change feed and check
// it against the log's hash.
func (e Entry) Marshal() []byte {
	b := make([]byte, 0, 160)
	b = append(b, EntryHeader...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.Seq, 10)
	for _, f := range []string{string(e.Kind), string(e.Signal), e.Value, string(e.Category)} {
		b = append(b, ' ')
		b = append(b, f...)
	}
	b = append(b, ' ')
	b = e.At.UTC().AppendFormat(b, TimeLayout)
	return append(b, '\n')
}

// loggedKinds are the kinds of change a log holds.
var loggedKinds = []indicator.ChangeKind{indicator.Activate, indicator.Withdraw, indicator.Quarantine, indicator.Release}

// ParseEntry reads an entry as Marshal writes it, and only so: any other
// spelling of the same change (a leading zero, upper-case hex, another
// time zone or precision, a missing newline) is an error, so that what
// parses is exactly what was hashed.
func ParseEntry(b []byte) (Entry, error) {
	bad := func(format string, a ...any) (Entry, error) {
		return Entry{}, core.Errorf(core.ErrInvalid, "log entry %q: %s", clip(b), fmt.Sprintf(format, a...))
	}
	line, ok := bytes.CutSuffix(b, []byte("\n"))
	if !ok {
		return bad("does not end with a newline")
	}
	f := strings.Split(string(line), " ")
	if len(f) != 7 || f[0] != EntryHeader {
		return bad("is not %q and 6 fields separated by single spaces", EntryHeader)
	}
	var e Entry
	seq, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil || seq < 1 || strconv.FormatInt(seq, 10) != f[1] {
		return bad("sequence number %q is not a positive decimal number", f[1])
	}
	e.Seq = seq
	e.Kind = indicator.ChangeKind(f[2])
	if !slices.Contains(loggedKinds, e.Kind) {
		return bad("kind %q is not activate, withdraw, quarantine or release", f[2])
	}
	sig, err := indicator.ParseSignal(f[3])
	if err != nil || string(sig) != f[3] {
		return bad("signal %q is not pdq, md5 or sha256", f[3])
	}
	e.Signal = sig
	v, err := indicator.NormalizeValue(sig, f[4])
	if err != nil || v != f[4] {
		return bad("value %q is not a %s value in lower-case hex", f[4], sig)
	}
	e.Value = v
	c, err := indicator.ParseCategory(f[5])
	if err != nil || string(c) != f[5] {
		return bad("category %q is not A1, A2, B1, B2, baseline or national", f[5])
	}
	e.Category = c
	at, err := time.Parse(TimeLayout, f[6])
	if err != nil || at.Format(TimeLayout) != f[6] {
		return bad("time %q is not UTC in the form %s", f[6], TimeLayout)
	}
	e.At = at
	return e, nil
}

// clip shortens what an error quotes of untrusted bytes.
func clip(b []byte) []byte {
	if len(b) > 200 {
		return b[:200]
	}
	return b
}
