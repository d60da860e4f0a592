package audit

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"fmt"
	"slices"
	"time"
)

// Kind is a kind of tampering that Verify finds.
type Kind string

// The kinds of Problem.
const (
	// Edited: the entry's fields do not match its hash.
	Edited Kind = "edited"
	// Deleted: entries are missing between others.
	Deleted Kind = "deleted"
	// Reordered: the entry holds the fields and hash of the entry written
	// with another seq.
	Reordered Kind = "reordered"
	// Inserted: the entry is intact in itself but was not appended after
	// the one before it (its previous hash differs), or lies beyond the
	// chain's head: it was inserted, or the entry before it was rewritten.
	Inserted Kind = "inserted"
	// Truncated: entries at the end are missing, as the chain head or a
	// signed checkpoint shows.
	Truncated Kind = "truncated"
	// Rewritten: the entry's hash differs from the one a signed
	// checkpoint or the chain head recorded: the chain was recomputed.
	Rewritten Kind = "rewritten"
	// BadSignature: a checkpoint is not signed by the key given to Verify.
	BadSignature Kind = "bad signature"
)

// A Problem is one finding of Verify, about entries Seq to Last.
type Problem struct {
	Kind      Kind
	Seq, Last int64
	Detail    string
}

func (p Problem) String() string {
	if p.Last > p.Seq {
		return fmt.Sprintf("entries %d-%d: %s: %s", p.Seq, p.Last, p.Kind, p.Detail)
	}
	return fmt.Sprintf("entry %d: %s: %s", p.Seq, p.Kind, p.Detail)
}

// Report is the result of Verify.
type Report struct {
	// Entries is how many entries were read; Last is the last of them.
	Entries int64
	Last    Head
	// Checkpoints is how many checkpoints have a valid signature;
	// LastCheckpoint is the one with the highest seq (the latest signed
	// of those), if any.
	Checkpoints    int
	LastCheckpoint *Checkpoint
	// Problems are in order of seq, at most MaxProblems of them; More
	// counts those left out.
	Problems []Problem
	More     int
}

// OK reports whether Verify found no problem.
func (r Report) OK() bool { return len(r.Problems) == 0 }

// MaxProblems bounds Report.Problems: an entry inserted near the start
// shifts all the others, and a report of millions helps no one.
const MaxProblems = 1000

// maxSuspects bounds the entries whose hash mismatches that Verify tries
// under other seqs to tell moved entries from edited ones; the search costs
// the square of their number.
const maxSuspects = 1000

func (r *Report) add(k Kind, seq, last int64, format string, a ...any) {
	if len(r.Problems) == MaxProblems {
		r.More++
		return
	}
	r.Problems = append(r.Problems, Problem{Kind: k, Seq: seq, Last: last, Detail: fmt.Sprintf(format, a...)})
}

// Verify recomputes the chain of s from its start and checks it against
// the chain head and against every checkpoint, those stored in s and those
// given as known (kept elsewhere, so that deleting the stored ones hides
// nothing), whose signatures it checks with pub. It returns an error only
// if it cannot read the chain: what it finds wrong is in the Report.
//
// It detects an entry edited (its fields no longer match its hash), deleted
// (a gap in the seqs), moved to another seq (its hash matches its fields
// under that seq), or inserted (its previous hash is not the hash of the
// entry before it); entries cut off the end (fewer entries than the head or
// a checkpoint records); and a chain recomputed after any of these (hashes
// that differ from a checkpoint's). Only entries appended after the last
// checkpoint can be rewritten undetectably, by someone who also rewrites
// the chain head.
func Verify(ctx context.Context, s Store, pub ed25519.PublicKey, known ...Checkpoint) (Report, error) {
	// The head is read first: every entry up to it was committed before,
	// so Verify must find them all, while entries appended during the
	// verification are simply checked too.
	head, err := s.AuditHead(ctx)
	if err != nil {
		return Report{}, err
	}
	cps, err := s.AuditCheckpoints(ctx)
	if err != nil {
		return Report{}, err
	}
	cps = append(cps, known...)
	r := &Report{}
	v := verifier{r: r, keep: map[int64]bool{head.Seq: true}, stored: map[int64]Hash{},
		suspect: map[int64]bool{}, verifiedAt: map[int64]Hash{}}
	var valid []Checkpoint
	for _, c := range cps {
		if c.Valid(pub) {
			valid = append(valid, c)
			v.keep[c.Seq] = true
		} else {
			r.add(BadSignature, c.Seq, c.Seq, "the checkpoint of %s%s is not signed by this key: forged, or checked with the wrong key",
				c.At.Format(time.RFC3339), c.where())
		}
	}

	f := Filter{Limit: exportPage}
	for {
		es, err := s.AuditEntries(ctx, f)
		if err != nil {
			return Report{}, err
		}
		for _, e := range es {
			v.next(e)
		}
		if len(es) < f.Limit {
			break
		}
		f.After = es[len(es)-1].Seq
	}
	if err := v.resolve(ctx, s); err != nil {
		return Report{}, err
	}

	last := r.Last.Seq
	// The end of the chain, against the head as read before and after. An
	// entry found edited or moved is not reported again as rewritten.
	if head.Seq > last {
		r.add(Truncated, last+1, head.Seq, "missing at the end: the chain head records %d entries", head.Seq)
	} else if h, ok := v.stored[head.Seq]; ok && h != head.Hash && !v.suspect[head.Seq] {
		r.add(Rewritten, head.Seq, head.Seq, "its hash differs from the one the chain head records")
	}
	if last > head.Seq {
		now, err := s.AuditHead(ctx)
		if err != nil {
			return Report{}, err
		}
		if last > now.Seq {
			r.add(Inserted, now.Seq+1, last, "beyond the chain head (seq %d): not appended through the audit log", now.Seq)
		}
	}
	// The checkpoints.
	r.Checkpoints = len(valid)
	for _, c := range valid {
		if r.LastCheckpoint == nil || c.Seq >= r.LastCheckpoint.Seq {
			r.LastCheckpoint = &c
		}
		if h, ok := v.stored[c.Seq]; ok && h != c.Hash && !v.suspect[c.Seq] {
			r.add(Rewritten, c.Seq, c.Seq, "its hash differs from the one signed in the checkpoint of %s%s: the chain was recomputed up to here at least",
				c.At.Format(time.RFC3339), c.where())
		}
	}
	if c := r.LastCheckpoint; c != nil && c.Seq > last && c.Seq > head.Seq {
		r.add(Truncated, max(last, head.Seq)+1, c.Seq, "missing at the end: the checkpoint signed %s%s covers %d entries",
			c.At.Format(time.RFC3339), c.where(), c.Seq)
	}
	slices.SortStableFunc(r.Problems, func(a, b Problem) int { return cmp.Compare(a.Seq, b.Seq) })
	return *r, nil
}

// verifier holds the state of Verify's pass over the chain.
type verifier struct {
	r *Report
	// prev is the previous entry read, prevBad whether its fields failed
	// to match its hash.
	prev    Entry
	prevBad bool
	// stored holds the stored hashes of the entries with the seqs in
	// keep (those of checkpoints and of the head) and of the entries
	// whose hash mismatches.
	keep   map[int64]bool
	stored map[int64]Hash
	// suspects are the entries whose hash does not match their fields
	// under their seq, also as a set of seqs; gaps are the seqs missing
	// between entries.
	suspects []Entry
	suspect  map[int64]bool
	gaps     [][2]int64
	// after are the intact entries that follow a suspect: whether they
	// link to it can be told only once it is known what the suspect is.
	after []Entry
	// verifiedAt holds, for seqs whose entry was found at another seq,
	// that entry's hash.
	verifiedAt map[int64]Hash
}

func (v *verifier) next(e Entry) {
	r := v.r
	expect := r.Last.Seq + 1
	linked := true
	if e.Seq != expect {
		if expect == 1 {
			r.add(Deleted, expect, e.Seq-1, "missing at the start, before entry %d", e.Seq)
		} else {
			r.add(Deleted, expect, e.Seq-1, "missing between entries %d and %d", expect-1, e.Seq)
		}
		v.gaps = append(v.gaps, [2]int64{expect, e.Seq - 1})
		linked = false // the link to the missing entries cannot be checked
	}
	bad := e.computeHash() != e.Hash
	if v.keep[e.Seq] || bad {
		v.stored[e.Seq] = e.Hash
	}
	switch {
	case bad:
		v.suspect[e.Seq] = true
		if len(v.suspects) < maxSuspects {
			v.suspects = append(v.suspects, e)
		} else {
			r.add(Edited, e.Seq, e.Seq, "its fields do not match its hash")
		}
	case linked && v.prevBad:
		v.after = append(v.after, e)
	case linked && e.Prev != v.prev.Hash:
		v.insertedAt(e.Seq)
	}
	v.prev, v.prevBad = e, bad
	r.Entries++
	r.Last = Head{Seq: e.Seq, Hash: e.Hash}
}

func (v *verifier) insertedAt(seq int64) {
	v.r.add(Inserted, seq, seq, "does not follow entry %d (its previous hash differs): inserted, or entry %d was rewritten", seq-1, seq-1)
}

// resolve tells, of each suspect, whether it was moved (its hash matches
// its fields under another seq where an entry is missing or suspect, or
// next to a suspect) or edited, and then checks the links of the entries
// after suspects.
func (v *verifier) resolve(ctx context.Context, s Store) error {
	candidates := map[int64]bool{}
	for _, e := range v.suspects {
		candidates[e.Seq-1], candidates[e.Seq], candidates[e.Seq+1] = true, true, true
	}
	for _, g := range v.gaps {
		for seq := g[0]; seq <= g[1] && len(candidates) < 3*maxSuspects; seq++ {
			candidates[seq] = true
		}
	}
	for _, e := range v.suspects {
		moved := false
		for seq := range candidates {
			if seq < 1 || seq == e.Seq {
				continue
			}
			c := e
			c.Seq = seq
			if c.computeHash() == e.Hash {
				v.r.add(Reordered, e.Seq, e.Seq, "holds the entry written as %d", seq)
				v.verifiedAt[seq] = e.Hash
				moved = true
				break
			}
		}
		if !moved {
			v.r.add(Edited, e.Seq, e.Seq, "its fields do not match its hash")
		}
	}
	// An intact entry at a seq whose original was found elsewhere was put
	// in its place.
	for seq := range v.verifiedAt {
		if v.suspect[seq] {
			continue
		}
		es, err := s.AuditEntries(ctx, Filter{After: seq - 1, Limit: 1})
		if err != nil {
			return err
		}
		if len(es) == 1 && es[0].Seq == seq {
			v.r.add(Inserted, seq, seq, "is not the entry written as %d, which was found at another seq", seq)
		}
	}
	// An entry after a suspect links to the hash of the entry written
	// with the suspect's seq: found elsewhere if the suspect was moved,
	// else still the suspect's stored hash if only its fields were edited.
	for _, e := range v.after {
		want, ok := v.verifiedAt[e.Seq-1]
		if !ok {
			want = v.stored[e.Seq-1]
		}
		if e.Prev != want {
			v.insertedAt(e.Seq)
		}
	}
	return nil
}

// where names where a checkpoint was read, for problems' details.
func (c Checkpoint) where() string {
	if c.From == "" {
		return ""
	}
	return " (" + c.From + ")"
}
