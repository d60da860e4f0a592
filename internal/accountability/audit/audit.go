// Package audit keeps Ward's audit trail: who, of which organisation, did
// what to which object, for what purpose, when, and with what outcome.
// Every access to or change of sensitive data is appended to it.
//
// The trail is tamper-evident, as a hash chain with signed checkpoints in
// the manner of RFC 6962 (Certificate Transparency) logs, simplified to a
// chain since auditors read it whole: entries are numbered densely from 1,
// each entry's hash covers its fields and the previous entry's hash, and
// checkpoints sign the number and hash of the latest entry with an Ed25519
// key (RFC 8032) kept outside the database. Verify recomputes the chain and
// names each entry that was edited, deleted, inserted or moved, and whether
// the tail was cut off or the whole chain recomputed since the last
// checkpoint. Someone who can write to the database but lacks the signing
// key can rewrite only what no checkpoint covers yet.
// Checkpoints are stored in the database and also appended to a checkpoint
// file outside it (Log.CheckpointFile, ReadCheckpointFile), so that
// deleting the stored ones, with the whole trail, hides nothing.
//
// # Entry hash
//
// An entry's hash is SHA-256 of
//
//	"ward audit entry v1\n"
//	seq        8 bytes, big-endian
//	prev       32 bytes: the previous entry's hash; zero for entry 1
//	at         8 bytes, big-endian: Unix time in microseconds
//	org ID     8 bytes, big-endian; 0 for none
//	then org name, actor, action, object, purpose and outcome, each as
//	           4 bytes of big-endian length followed by its UTF-8 bytes
//
// Fixed-size fields need no length, and the others have one, so no two
// different entries share an encoding.
//
// The trail holds no personal data in clear: people appear as "user:ID",
// API keys as "key:ID"; Append refuses anything resembling an e-mail
// address.
package audit

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/wardhq/ward/internal/core"
)

// Event is what happened, as the caller of Append describes it.
type Event struct {
	// At is when it happened; Append sets it to the current time if it is
	// zero. It is kept in UTC to the microsecond, as both databases do.
	At time.Time `json:"at"`
	// OrgID and OrgName are the actor's organisation; 0 and "" if none
	// (the admin CLI, an anonymous visitor).
	OrgID   int64  `json:"org_id"`
	OrgName string `json:"org_name"`
	// Actor is who acted: "user:ID", "key:ID" (an API key), AdminCLI,
	// System or Anonymous. Never an e-mail address or a name.
	Actor string `json:"actor"`
	// Action is what was done, as "noun.verb": "report.view",
	// "indicator.withdraw", "user.add", "login.fail".
	Action string `json:"action"`
	// Object is what it was done to, as "kind:ID" ("indicator:42"), or
	// empty.
	Object string `json:"object"`
	// Purpose is why, as the actor stated it; may be empty.
	Purpose string `json:"purpose"`
	// Outcome is OK, Denied or Failed.
	Outcome string `json:"outcome"`
}

// Actors that are not a user or an API key.
const (
	AdminCLI  = "admin-cli" // a "ward admin" command
	System    = "system"    // Ward itself: jobs, retention
	Anonymous = "anonymous" // a visitor not logged in
)

// Outcomes.
const (
	OK     = "ok"     // done
	Denied = "denied" // refused by the policy or by authentication
	Failed = "error"  // attempted but failed
)

// Entry is an event as recorded in the chain.
type Entry struct {
	// Seq numbers the entries densely from 1, in the order appended.
	Seq int64 `json:"seq"`
	Event
	// Prev is the hash of entry Seq-1, zero for entry 1.
	Prev Hash `json:"prev"`
	// Hash is the entry's hash (see the package documentation).
	Hash Hash `json:"hash"`
}

// Hash is a SHA-256 hash of an entry.
type Hash [sha256.Size]byte

// String returns h in hexadecimal.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText returns h in hexadecimal, for JSON.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText reads h in hexadecimal, so that an exported trail can be
// read back and checked.
func (h *Hash) UnmarshalText(b []byte) error {
	if hex.DecodedLen(len(b)) != len(h) {
		return core.Errorf(core.ErrInvalid, "hash %q is not %d hexadecimal digits", b, 2*len(h))
	}
	_, err := hex.Decode(h[:], b)
	return err
}

// Head is the last entry of a chain: its seq and hash, zero for an empty
// chain.
type Head struct {
	Seq  int64
	Hash Hash
}

// Next returns the entry that appends ev to a chain whose last entry is
// head. Stores call it inside the transaction that holds the chain head.
func Next(head Head, ev Event) Entry {
	e := Entry{Seq: head.Seq + 1, Event: ev, Prev: head.Hash}
	e.Hash = e.computeHash()
	return e
}

// hashDomain starts every entry's hashed encoding, so that no other
// SHA-256 input of Ward can be taken for an entry.
const hashDomain = "ward audit entry v1\n"

// computeHash returns the hash e should have, from its seq, previous hash
// and fields.
func (e *Entry) computeHash() Hash {
	var b []byte
	b = append(b, hashDomain...)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Seq))
	b = append(b, e.Prev[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(e.At.UnixMicro()))
	b = binary.BigEndian.AppendUint64(b, uint64(e.OrgID))
	for _, s := range []string{e.OrgName, e.Actor, e.Action, e.Object, e.Purpose, e.Outcome} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return sha256.Sum256(b)
}

// Store keeps the chain. Package store implements it.
type Store interface {
	// AppendAudit appends ev in one transaction: it locks the chain head,
	// makes the entry with Next(head, ev), stores it and makes it the new
	// head. Concurrent appends are thereby ordered and their seqs dense.
	AppendAudit(ctx context.Context, ev Event) (Entry, error)
	// AuditEntries returns the entries, as stored, that match every
	// condition of f, ordered by seq, at most f.Limit (> 0) of them.
	AuditEntries(ctx context.Context, f Filter) ([]Entry, error)
	// AuditHead returns the chain head as stored.
	AuditHead(ctx context.Context) (Head, error)
	// AddAuditCheckpoint stores a checkpoint.
	AddAuditCheckpoint(ctx context.Context, c Checkpoint) error
	// AuditCheckpoints returns every checkpoint, ordered by seq and then
	// time.
	AuditCheckpoints(ctx context.Context) ([]Checkpoint, error)
}

// Filter selects entries. Zero fields select everything.
type Filter struct {
	// After selects the entries after this seq.
	After int64
	// Limit is the most entries returned: for List, DefaultLimit if 0,
	// and at most MaxLimit; for Export, all if 0.
	Limit int
	// Action selects one action, such as "report.view".
	Action string
	// OrgID selects one organisation's entries.
	OrgID int64
	// Since and Until select the entries with Since <= At < Until.
	Since, Until time.Time
}

// Limits of List.
const (
	DefaultLimit = 1000
	MaxLimit     = 10000
)

// Log appends to and reads the audit trail. It is safe for concurrent use.
type Log struct {
	// CheckpointFile, if set before the Log is used, is a checkpoint file
	// (see AppendCheckpointFile) to which Checkpoint appends each
	// checkpoint of a new head, outside the database.
	CheckpointFile string
	// Clock is the Log's clock, the system's if nil; set it, if at all,
	// before the Log is used.
	Clock core.Clock

	store Store
	key   ed25519.PrivateKey

	// filedMu orders Checkpoint's appends to CheckpointFile; filed is the
	// head of the last line this Log appended (valid if filedOK), so that
	// an idle server does not add a line a minute.
	filedMu sync.Mutex
	filed   Head
	filedOK bool
}

// NewLog returns a Log kept in s that signs checkpoints with key. key may
// be nil if the Log makes no checkpoints.
func NewLog(s Store, key ed25519.PrivateKey) *Log {
	return &Log{store: s, key: key}
}

var (
	actorPattern  = regexp.MustCompile(`^(admin-cli|system|anonymous|user:[0-9]{1,19}|key:[A-Za-z0-9_-]{1,64})$`)
	actionPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`)
)

// Bounds on the fields' lengths in bytes.
const (
	maxAction  = 64
	maxName    = 200 // organisation name, object
	maxPurpose = 1000
)

// Append records ev and returns its entry. It fails with an error wrapping
// core.ErrInvalid if ev is malformed or seems to hold personal data.
func (l *Log) Append(ctx context.Context, ev Event) (Entry, error) {
	return l.AppendTo(ctx, l.store, ev)
}

// Appender appends to the chain as Store.AppendAudit does. A transaction
// of the store's is one, so that a change and the entry recording it are
// committed together or not at all.
type Appender interface {
	AppendAudit(ctx context.Context, ev Event) (Entry, error)
}

// AppendTo is Append through a, such as the transaction of the change ev
// records.
func (l *Log) AppendTo(ctx context.Context, a Appender, ev Event) (Entry, error) {
	if ev.At.IsZero() {
		ev.At = l.Clock.Now()
	}
	// What the databases keep, so that the hash computed now is the one
	// recomputed from the stored entry.
	ev.At = ev.At.UTC().Truncate(time.Microsecond)
	if err := check(ev); err != nil {
		return Entry{}, err
	}
	e, err := a.AppendAudit(ctx, ev)
	if err != nil {
		return Entry{}, fmt.Errorf("appending to the audit trail: %w", err)
	}
	return e, nil
}

func check(ev Event) error {
	invalid := func(format string, a ...any) error {
		return core.Errorf(core.ErrInvalid, "audit event: %s", fmt.Sprintf(format, a...))
	}
	if !actorPattern.MatchString(ev.Actor) {
		return invalid(`actor %q is not "user:ID", "key:ID", %q, %q or %q`, ev.Actor, AdminCLI, System, Anonymous)
	}
	if len(ev.Action) > maxAction || !actionPattern.MatchString(ev.Action) {
		return invalid(`action %q is not of the form "noun.verb"`, ev.Action)
	}
	if ev.Outcome != OK && ev.Outcome != Denied && ev.Outcome != Failed {
		return invalid("outcome %q is not %q, %q or %q", ev.Outcome, OK, Denied, Failed)
	}
	if ev.OrgID < 0 {
		return invalid("negative organisation ID")
	}
	for _, f := range []struct {
		name, value string
		max         int
	}{{"organisation name", ev.OrgName, maxName}, {"object", ev.Object, maxName}, {"purpose", ev.Purpose, maxPurpose}} {
		if len(f.value) > f.max {
			return invalid("%s longer than %d bytes", f.name, f.max)
		}
		if !utf8.ValidString(f.value) || strings.ContainsFunc(f.value, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
			return invalid("%s holds invalid UTF-8 or control characters", f.name)
		}
	}
	// The trail must hold no personal data in clear; an e-mail address is
	// the likeliest to slip in.
	if strings.Contains(ev.Object, "@") || strings.Contains(ev.Purpose, "@") {
		return invalid("object and purpose must not hold e-mail addresses: name people by their user ID")
	}
	return nil
}

// List returns the entries that match f, ordered by seq.
func (l *Log) List(ctx context.Context, f Filter) ([]Entry, error) {
	switch {
	case f.Limit == 0:
		f.Limit = DefaultLimit
	case f.Limit < 0 || f.Limit > MaxLimit:
		return nil, core.Errorf(core.ErrInvalid, "limit %d is not between 1 and %d", f.Limit, MaxLimit)
	}
	return l.store.AuditEntries(ctx, f)
}

// Latest returns the last n entries, newest first.
func (l *Log) Latest(ctx context.Context, n int) ([]Entry, error) {
	if n <= 0 || n > MaxLimit {
		return nil, core.Errorf(core.ErrInvalid, "%d is not between 1 and %d", n, MaxLimit)
	}
	head, err := l.store.AuditHead(ctx)
	if err != nil {
		return nil, err
	}
	// Seqs are dense, so the last n are those after head - n.
	es, err := l.store.AuditEntries(ctx, Filter{After: max(0, head.Seq-int64(n)), Limit: n})
	slices.Reverse(es)
	return es, err
}

// exportPage is how many entries Export reads at a time: each page is a
// short transaction, so an export of millions neither holds one open for
// long nor keeps them all in memory.
const exportPage = 1000

// Export writes the entries that match f, ordered by seq, in format "csv"
// (with a header line, for spreadsheets) or "jsonl" (one JSON object per
// line, with the field names of Entry's JSON form). Both include each
// entry's hashes, so that a copy can be checked against the trail. In CSV,
// a field that a spreadsheet would take for a formula (starting with =, +,
// -, @, tab or carriage return) is prefixed with a single quote; JSON lines
// hold the fields exactly.
func (l *Log) Export(ctx context.Context, w io.Writer, f Filter, format string) error {
	var (
		write func(e Entry) error
		flush = func() error { return nil }
	)
	switch format {
	case "csv":
		cw := csv.NewWriter(w)
		flush = func() error { cw.Flush(); return cw.Error() }
		if err := cw.Write([]string{"seq", "at", "org_id", "org_name", "actor", "action", "object", "purpose", "outcome", "prev_hash", "hash"}); err != nil {
			return err
		}
		write = func(e Entry) error {
			return cw.Write([]string{
				strconv.FormatInt(e.Seq, 10), e.At.Format(time.RFC3339Nano), strconv.FormatInt(e.OrgID, 10),
				csvSafe(e.OrgName), csvSafe(e.Actor), csvSafe(e.Action), csvSafe(e.Object), csvSafe(e.Purpose), csvSafe(e.Outcome),
				e.Prev.String(), e.Hash.String(),
			})
		}
	case "jsonl":
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		write = func(e Entry) error { return enc.Encode(e) }
	default:
		return core.Errorf(core.ErrInvalid, "export format %q is not csv or jsonl", format)
	}
	left := f.Limit
	for {
		page := f
		page.Limit = exportPage
		if f.Limit > 0 {
			page.Limit = min(exportPage, left)
		}
		es, err := l.store.AuditEntries(ctx, page)
		if err != nil {
			return err
		}
		for _, e := range es {
			if err := write(e); err != nil {
				return err
			}
		}
		left -= len(es)
		if len(es) < page.Limit || f.Limit > 0 && left == 0 {
			return flush()
		}
		f.After = es[len(es)-1].Seq
	}
}

// csvSafe defuses a field that spreadsheets would evaluate as a formula
// (OWASP's advice on CSV injection).
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
