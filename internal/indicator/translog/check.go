package translog

import (
	"bytes"
	"context"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardhq/ward/internal/indicator"
)

// Feed reads lists' change feeds, as indicator.Service does.
type Feed interface {
	Changes(ctx context.Context, list string, after int64, limit int) ([]indicator.Change, error)
}

// maxProblems is how many disagreements with its feed Check reports of a
// log: past the first, the rest usually follow from it.
const maxProblems = 10

// feedPage is how many changes Check reads from a feed at a time
// (indicator.MaxChanges).
const feedPage = indicator.MaxChanges

// Check looks for signs that the logs, or the lists, were changed behind
// the store's back, and returns one line for each it finds: a log whose
// stored root is not the root of its stored hashes, one of whose last n
// entries does not have its stored leaf hash, or a list whose feed does
// not hold, from its change of the first of those entries up to the
// log's Through, exactly the changes they say (an indicator's value or
// category edited in its table, a change deleted, inserted or reordered).
// It reads O(n) rows per log, plus the changes of the feeds in between;
// a server runs it at start and serves what it has in any case.
func (s *Service) Check(ctx context.Context, feed Feed, n int) ([]string, error) {
	logs, err := s.store.Logs(ctx)
	if err != nil {
		return nil, err
	}
	var problems []string
	for _, l := range logs {
		p, err := s.check(ctx, feed, l, n)
		if err != nil {
			return nil, fmt.Errorf("checking log %s: %w", l.Name, err)
		}
		problems = append(problems, p...)
	}
	return problems, nil
}

func (s *Service) check(ctx context.Context, feed Feed, l Log, n int) ([]string, error) {
	var problems []string
	stored := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		return s.store.LogHashes(ctx, l.Name, indexes)
	})
	root, err := tlog.TreeHash(l.Size, stored)
	if err != nil {
		return nil, err
	}
	if root != l.Root {
		problems = append(problems, fmt.Sprintf("log %s: its stored hashes give the root %s, not the stored root %s", l.Name, root, l.Root))
	}
	start := max(0, l.Size-int64(n))
	entries, err := s.store.LogEntries(ctx, l.Name, start, int(l.Size-start))
	if err != nil {
		return nil, err
	}
	indexes := make([]int64, len(entries))
	for i := range entries {
		indexes[i] = tlog.StoredHashIndex(0, start+int64(i))
	}
	leaves, err := s.store.LogHashes(ctx, l.Name, indexes)
	if err != nil {
		return nil, err
	}
	for i, e := range entries {
		if tlog.RecordHash(e) != leaves[i] {
			problems = append(problems, fmt.Sprintf("log %s: entry %d does not have its stored hash: it was edited", l.Name, start+int64(i)))
		}
	}
	if l.List == "" || feed == nil {
		return problems, nil
	}
	return append(problems, compareFeed(ctx, feed, l, start, entries, n)...), nil
}

// compareFeed compares entries (from index start) of list log l with its
// feed, from the change before the first entry's up to l.Through, reading
// at most 100n changes.
func compareFeed(ctx context.Context, feed Feed, l Log, start int64, entries [][]byte, n int) []string {
	var problems []string
	after := max(0, l.Through-int64(n)) // an empty tail: the last changes should log nothing
	if len(entries) > 0 {
		first, err := ParseEntry(entries[0])
		if err != nil {
			return []string{fmt.Sprintf("log %s: entry %d: %v", l.Name, start, err)}
		}
		after = first.Seq - 1
	}
	i := 0 // the next entry to meet in the feed
	for budget := 100 * max(n, 1); after < l.Through && budget > 0; {
		page, err := feed.Changes(ctx, l.List, after, min(feedPage, int(l.Through-after)))
		if err != nil {
			return append(problems, fmt.Sprintf("log %s: reading the feed after %d: %v", l.Name, after, err))
		}
		if len(page) == 0 {
			break
		}
		for _, c := range page {
			if c.Seq > l.Through {
				break
			}
			after = c.Seq
			if !Logged(c) {
				continue
			}
			want := EntryOf(c).Marshal()
			switch {
			case i == len(entries):
				problems = append(problems, fmt.Sprintf("log %s: the feed's change %d (%s) is not in the log", l.Name, c.Seq, bytes.TrimSpace(want)))
			case !bytes.Equal(entries[i], want):
				problems = append(problems, fmt.Sprintf("log %s: entry %d is %q, but the feed's change %d is %q", l.Name, start+int64(i),
					bytes.TrimSpace(entries[i]), c.Seq, bytes.TrimSpace(want)))
				i++
			default:
				i++
			}
		}
		budget -= len(page)
		if len(problems) >= maxProblems {
			return append(problems[:maxProblems], fmt.Sprintf("log %s: and perhaps more", l.Name))
		}
	}
	if after >= l.Through && i < len(entries) {
		problems = append(problems, fmt.Sprintf("log %s: entry %d (%q) is not in the feed", l.Name, start+int64(i), bytes.TrimSpace(entries[i])))
	}
	return problems
}
