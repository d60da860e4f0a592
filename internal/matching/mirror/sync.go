package mirror

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/internal/accountability/witness"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/matching/matcher"
)

// SyncResult is what a Sync did, as "ward sync" prints it.
type SyncResult struct {
	List    string `json:"list"`
	Seq     int64  `json:"seq"`
	Active  int64  `json:"active"`
	Applied int    `json:"applied"`
	Skipped int    `json:"skipped"`
	// Verified counts the log entries checked, each against the
	// checkpoint and against the change applied for it.
	Verified   int64          `json:"verified"`
	Checkpoint CheckpointInfo `json:"checkpoint"`
	// Witnesses names the witnesses whose cosignatures were counted.
	Witnesses []string `json:"witnesses,omitempty"`
	Seconds   float64  `json:"seconds"`
}

// CheckpointInfo identifies a checkpoint of a list's log: what a mirror
// was verified against.
type CheckpointInfo struct {
	Origin string `json:"origin"`
	Size   int64  `json:"size"`
	Root   string `json:"root"` // base64, as in the checkpoint
}

func checkpointInfo(c witness.Checkpoint) CheckpointInfo {
	return CheckpointInfo{Origin: c.Origin, Size: c.N, Root: base64.StdEncoding.EncodeToString(c.Hash[:])}
}

// SyncOptions are what a Sync trusts, and whom it tells what it does.
type SyncOptions struct {
	// LogKey pins the verifier key of the list's log. "" trusts the key
	// the mirror holds, or in a new mirror the key the server gives, on
	// first use (Trusted is told).
	LogKey string
	// Quorum is how many valid cosignatures, from distinct Witnesses, a
	// checkpoint needs.
	Witnesses []note.Verifier
	Quorum    int
	// Skip, if not nil, is told of each authentic change left out for
	// being malformed, so that one bad entry cannot stall the mirror.
	Skip func(client.Change, error)
	// Applied, if not nil, is called for each change applied.
	Applied func()
	// Trusted, if not nil, is told the key a mirror trusts on first use.
	Trusted func(vkey string)
}

// syncPage is how many changes Sync asks for at once.
const syncPage = 10000

// Sync brings m up to the latest checkpoint of list's log, verified: the
// checkpoint is signed by the log's key (and cosigned by o.Quorum of
// o.Witnesses) and consistent with the checkpoint m holds; each entry
// added to the log since hashes into it; and each change of the list's
// feed up to the checkpoint's last entry is applied only if it is that
// entry (same seq, kind, signal, value and category), or changes nothing
// the mirror holds. It also records the list's settings. Everything is
// applied in one transaction, with the checkpoint: after any failed
// check, which the error names and which wraps ErrVerify, m is as it was.
// A mirror no verified sync made is rebuilt from the start of the log.
func Sync(ctx context.Context, c *client.Client, m *Mirror, list string, o SyncOptions) (SyncResult, error) {
	start := time.Now()
	res := SyncResult{List: list}
	settings, err := listSettings(ctx, c, list)
	if err != nil {
		return res, err
	}
	st, err := m.State(ctx)
	if err != nil {
		return res, err
	}
	vkey, key, err := trustedKey(ctx, c, list, st, o.LogKey)
	if err != nil {
		return res, err
	}
	msg, err := c.LogCheckpoint(ctx, list)
	if err != nil {
		return res, fmt.Errorf("reading the checkpoint of list %q's log: %w", list, err)
	}
	cp, n, err := witness.OpenCheckpoint(msg, key)
	if err != nil {
		if k, kerr := c.LogKey(ctx, list); kerr == nil && k != vkey {
			return res, verifyErrorf("the checkpoint of list %q is not signed by the log key the mirror trusts (%s); the server now gives the key %s, which the mirror refuses", list, vkey, k)
		}
		return res, verifyErrorf("checkpoint of list %q: %v", list, err)
	}
	if cp.Origin != key.Name() {
		return res, verifyErrorf("the checkpoint is of log %q, not of %q, whose key the mirror trusts", cp.Origin, key.Name())
	}
	res.Checkpoint = checkpointInfo(cp)
	if o.Quorum > 0 {
		res.Witnesses = witness.Cosigned(n, o.Witnesses)
		if len(res.Witnesses) < o.Quorum {
			return res, verifyErrorf("the checkpoint of size %d has %d valid cosignatures of the witnesses given, %d required", cp.N, len(res.Witnesses), o.Quorum)
		}
	}

	fetch := serverTiles(c, list)
	from, after := int64(0), int64(0)
	if st.Checkpoint != "" {
		old, err := storedCheckpoint(st)
		if err != nil {
			return res, err
		}
		if old.Origin != cp.Origin {
			return res, verifyErrorf("the checkpoint is of log %q, the mirror's of %q", cp.Origin, old.Origin)
		}
		if err := consistent(ctx, old, cp, fetch); err != nil {
			return res, err
		}
		if cp.N < old.N {
			return res, verifyErrorf("the server's checkpoint has size %d, older than the mirror's (%d): refusing to go back", cp.N, old.N)
		}
		from, after = old.N, st.Seq
	}

	entries := &entryReader{ctx: ctx, tiles: newTileReader(ctx, fetch), fetch: fetch, tree: cp.Tree, next: from}
	err = m.update(ctx, func(tx *sql.Tx) error {
		if st.Checkpoint == "" && st.Seq > 0 {
			// Made by a sync that did not verify: nothing in it is known
			// to be the log's.
			if _, err := tx.ExecContext(ctx, `DELETE FROM indicators`); err != nil {
				return err
			}
		}
		a, err := newApplier(ctx, tx)
		if err != nil {
			return err
		}
		defer a.close()
		seq, err := applyVerified(ctx, c, list, after, entries, a, o, &res)
		if err != nil {
			return err
		}
		return setMeta(ctx, tx, map[string]string{
			"seq": strconv.FormatInt(seq, 10), "log_key": vkey, "checkpoint": string(msg),
			"kind": string(settings.kind), "max_distance": strconv.Itoa(settings.maxDistance), "threshold": strconv.Itoa(settings.threshold),
		})
	})
	if err != nil {
		return res, err
	}
	if st.LogKey == "" && o.LogKey == "" && o.Trusted != nil {
		o.Trusted(vkey)
	}
	res.Verified = cp.N - from
	st, err = m.State(ctx)
	if err != nil {
		return res, err
	}
	res.Seq, res.Active, res.Seconds = st.Seq, st.Count, time.Since(start).Seconds()
	return res, nil
}

// trustedKey returns the log key a sync of the mirror in state st trusts:
// the one it holds, which pinned may not contradict; else pinned; else
// the server's.
func trustedKey(ctx context.Context, c *client.Client, list string, st State, pinned string) (string, note.Verifier, error) {
	vkey := st.LogKey
	switch {
	case vkey != "" && pinned != "" && pinned != vkey:
		return "", nil, verifyErrorf("the mirror trusts the log key %s, not the %s given: refusing (a new key needs a new mirror)", vkey, pinned)
	case vkey == "" && pinned != "":
		vkey = pinned
	case vkey == "":
		k, err := c.LogKey(ctx, list)
		if err != nil {
			return "", nil, fmt.Errorf("reading the key of list %q's log: %w", list, err)
		}
		vkey = k
	}
	key, err := note.NewVerifier(vkey)
	if err != nil {
		return "", nil, fmt.Errorf("log key %q: %w", vkey, err)
	}
	return vkey, key, nil
}

// Verified returns the checkpoint of the list's log the mirror was last
// verified against, and false if none was (a mirror made by a ward that
// did not verify, or not synced yet).
func (s State) Verified() (CheckpointInfo, bool) {
	c, err := storedCheckpoint(s)
	if s.Checkpoint == "" || err != nil {
		return CheckpointInfo{}, false
	}
	return checkpointInfo(c), true
}

// storedCheckpoint returns the body of the checkpoint st holds.
func storedCheckpoint(st State) (witness.Checkpoint, error) {
	text, _, ok := strings.Cut(st.Checkpoint, "\n\n")
	c, err := witness.ParseCheckpoint(text + "\n")
	if !ok || err != nil {
		return witness.Checkpoint{}, fmt.Errorf("the mirror's checkpoint is malformed: %q", st.Checkpoint)
	}
	return c, nil
}

// applyVerified applies, through a, the changes of list's feed after seq
// after that the log's entries, read from entries, vouch for, and returns
// the seq of the last entry (after, if none).
func applyVerified(ctx context.Context, c *client.Client, list string, after int64, entries *entryReader, a *applier, o SyncOptions, res *SyncResult) (int64, error) {
	e, more, err := entries.Next()
	if err != nil {
		return 0, err
	}
	if more && e.Seq <= after {
		return 0, verifyErrorf("log entry %d has seq %d, but the mirror is at seq %d already", e.Index, e.Seq, after)
	}
	for more {
		page, err := c.Changes(ctx, list, after, syncPage)
		if err != nil {
			return 0, err
		}
		if page.Next <= after {
			return 0, verifyErrorf("log entry %d (seq %d, %s %s %s) is not in the list's change feed, which ends at seq %d", e.Index, e.Seq, e.Kind, e.Signal, e.Value, after)
		}
		for _, ch := range page.Changes {
			if !more {
				break
			}
			switch {
			case ch.Seq > e.Seq:
				return 0, verifyErrorf("log entry %d (seq %d, %s %s %s) is not in the list's change feed", e.Index, e.Seq, e.Kind, e.Signal, e.Value)
			case ch.Seq < e.Seq:
				if err := a.unlogged(ch); err != nil {
					return 0, err
				}
			default:
				if d := differs(ch, e); d != "" {
					return 0, verifyErrorf("change seq %d (indicator %d) is not its log entry %d: %s", ch.Seq, ch.Indicator, e.Index, d)
				}
				if _, perr := matcher.ParseItem(indicator.Signal(ch.Signal), ch.Value); perr != nil {
					if o.Skip != nil {
						o.Skip(ch, perr)
					}
					res.Skipped++
				} else {
					if err := a.apply(ch); err != nil {
						return 0, err
					}
					res.Applied++
					if o.Applied != nil {
						o.Applied()
					}
				}
				last := e.Seq
				if e, more, err = entries.Next(); err != nil {
					return 0, err
				}
				if !more {
					return last, nil
				}
			}
			after = ch.Seq
		}
		after = max(after, page.Next)
	}
	return after, nil
}

// differs says how change ch differs from its log entry e, "" if not.
func differs(ch client.Change, e logEntry) string {
	var d []string
	for _, f := range []struct{ name, feed, log string }{
		{"kind", ch.Kind, string(e.Kind)}, {"signal", ch.Signal, string(e.Signal)}, {"value", ch.Value, e.Value}, {"category", ch.Category, string(e.Category)},
	} {
		if f.feed != f.log {
			d = append(d, fmt.Sprintf("the feed has %s %q, the log %q", f.name, f.feed, f.log))
		}
	}
	return strings.Join(d, "; ")
}

// applier applies verified changes in a transaction, refusing any that
// would make the mirror other than what the log's entries say: an
// indicator's ID, which the log does not hold, may not change its value.
type applier struct {
	upsert, remove, held *sql.Stmt
}

func newApplier(ctx context.Context, tx *sql.Tx) (*applier, error) {
	var a applier
	var err error
	// The upsert changes nothing of an ID held with another hash.
	if a.upsert, err = tx.PrepareContext(ctx, `INSERT INTO indicators (id, signal, value, category) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET category = excluded.category
		WHERE indicators.signal = excluded.signal AND indicators.value = excluded.value`); err != nil {
		return nil, err
	}
	if a.remove, err = tx.PrepareContext(ctx, `DELETE FROM indicators WHERE id = ? AND signal = ? AND value = ?`); err != nil {
		return nil, err
	}
	if a.held, err = tx.PrepareContext(ctx, `SELECT signal, value FROM indicators WHERE id = ?`); err != nil {
		return nil, err
	}
	return &a, nil
}

func (a *applier) close() {
	a.upsert.Close()
	a.remove.Close()
	a.held.Close()
}

// heldAs returns how the mirror holds indicator id, "" if it does not.
func (a *applier) heldAs(id int64) (string, error) {
	var sig, value string
	err := a.held.QueryRow(id).Scan(&sig, &value)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return sig + " " + value, err
}

func (a *applier) apply(ch client.Change) error {
	var stmt *sql.Stmt
	args := []any{ch.Indicator, ch.Signal, ch.Value}
	switch ch.Kind {
	case client.ChangeActivate, client.ChangeRelease:
		stmt, args = a.upsert, append(args, ch.Category)
	default:
		stmt = a.remove
	}
	r, err := stmt.Exec(args...)
	if err != nil {
		return err
	}
	if n, err := r.RowsAffected(); err != nil || n == 1 {
		return err
	}
	held, err := a.heldAs(ch.Indicator)
	if err != nil || held == "" {
		return err // a removal of what the mirror does not hold: it was quarantined
	}
	return verifyErrorf("change seq %d (%s of indicator %d as %s %s): the mirror holds indicator %d as %s", ch.Seq, ch.Kind, ch.Indicator, ch.Signal, ch.Value, ch.Indicator, held)
}

// unlogged accepts a change of the feed that no log entry vouches for
// only if it changes nothing the mirror holds: a withdrawal of what was
// never active, or a change a key that reads pending indicators sees.
func (a *applier) unlogged(ch client.Change) error {
	switch ch.Kind {
	case client.ChangeActivate, client.ChangeRelease, client.ChangeQuarantine:
		return verifyErrorf("change seq %d (%s of indicator %d, %s %s) is not in the log", ch.Seq, ch.Kind, ch.Indicator, ch.Signal, ch.Value)
	case client.ChangeWithdraw:
		held, err := a.heldAs(ch.Indicator)
		if err != nil {
			return err
		}
		if held != "" {
			return verifyErrorf("change seq %d withdraws indicator %d, which the mirror holds (%s), but is not in the log", ch.Seq, ch.Indicator, held)
		}
	}
	return nil
}

// settings are a list's settings, which are not in its feed.
type settings struct {
	kind                   indicator.ListKind
	maxDistance, threshold int
}

// listSettings reads list's kind and distances: a suppress list mirrored
// as a match list would report benign content as known, so a sync that
// cannot read them fails.
func listSettings(ctx context.Context, c *client.Client, list string) (settings, error) {
	lists, err := c.Lists(ctx)
	if err != nil {
		return settings{}, fmt.Errorf("reading the settings of list %q (a key needs lists.read to sync): %w", list, err)
	}
	for _, l := range lists {
		if l.Name != list {
			continue
		}
		if l.Kind == "" { // a server from before lists had kinds and thresholds
			return settings{indicator.MatchList, l.MaxDistance, min(indicator.DefaultThreshold, l.MaxDistance)}, nil
		}
		kind, err := indicator.ParseListKind(l.Kind)
		if err != nil {
			return settings{}, fmt.Errorf("list %q: %w", list, err)
		}
		return settings{kind, l.MaxDistance, l.Threshold}, nil
	}
	return settings{}, fmt.Errorf("the server has no list named %q", list)
}

// unknownMaxDistance caps a mirror whose list's settings were never
// recorded: the largest distance PDQ has, as before mirrors recorded them.
const unknownMaxDistance = 128

// Matcher loads the entries of the mirrors, each of its list, into one
// matcher with the lists' settings as of their last sync. A mirror synced
// before mirrors recorded them is a match list of threshold 31 that no
// maximum distance caps, until its next sync. An empty mirror (never
// synced), or two of the same list, are errors.
func Matcher(ctx context.Context, mirrors ...*Mirror) (*matcher.Matcher, error) {
	b := matcher.NewBuilder()
	var lists []indicator.List
	for _, m := range mirrors {
		st, err := m.State(ctx)
		if err != nil {
			return nil, err
		}
		if st.List == "" {
			return nil, fmt.Errorf("mirror %s is empty: run ward sync first", m.path)
		}
		if slices.ContainsFunc(lists, func(l indicator.List) bool { return l.Name == st.List }) {
			return nil, fmt.Errorf("two mirrors of list %q: give each list once", st.List)
		}
		l := indicator.List{Name: st.List, Kind: st.Kind, MaxDistance: st.MaxDistance, Threshold: st.Threshold}
		if st.Kind == "" {
			l.Kind, l.MaxDistance, l.Threshold = indicator.MatchList, unknownMaxDistance, indicator.DefaultThreshold
		}
		lists = append(lists, l)
		err = m.ForEach(ctx, func(en Entry) error {
			return b.Add(matcher.Entry{ID: en.ID, List: st.List, Signal: indicator.Signal(en.Signal), Value: en.Value, Category: indicator.Category(en.Category)})
		})
		if err != nil {
			return nil, fmt.Errorf("loading mirror %s: %w", m.path, err)
		}
	}
	idx := matcher.New()
	b.Install(idx, lists)
	return idx, nil
}
