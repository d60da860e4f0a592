package mirror

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/matching/matcher"
)

// SyncResult is what a Sync did, as "ward sync" prints it.
type SyncResult struct {
	List    string  `json:"list"`
	Seq     int64   `json:"seq"`
	Active  int64   `json:"active"`
	Applied int     `json:"applied"`
	Skipped int     `json:"skipped"`
	Seconds float64 `json:"seconds"`
}

// syncPage is how many changes Sync asks for at once.
const syncPage = 10000

// Sync records list's settings from c in m, and applies its change feed,
// page by page, until m reaches the list's head. A malformed change is
// given to skip and left out, so that one bad entry cannot stall the mirror
// forever; applied, if not nil, is called for each change applied.
func Sync(ctx context.Context, c *client.Client, m *Mirror, list string, skip func(client.Change, error), applied func()) (SyncResult, error) {
	start := time.Now()
	res := SyncResult{List: list}
	if err := syncSettings(ctx, c, m, list); err != nil {
		return res, err
	}
	st, err := m.State(ctx)
	if err != nil {
		return res, err
	}
	after := st.Seq
	for {
		page, err := c.Changes(ctx, list, after, syncPage)
		if err != nil {
			return res, err
		}
		changes := make([]Change, 0, len(page.Changes))
		for _, ch := range page.Changes {
			if _, err := matcher.ParseItem(indicator.Signal(ch.Signal), ch.Value); err != nil {
				skip(ch, err)
				res.Skipped++
				continue
			}
			changes = append(changes, Change{Seq: ch.Seq, Kind: ch.Kind, Entry: Entry{
				ID: ch.Indicator, Signal: ch.Signal, Value: ch.Value, Category: ch.Category,
			}})
			if applied != nil {
				applied()
			}
		}
		if page.Next < after {
			return res, fmt.Errorf("server answered with cursor %d before %d", page.Next, after)
		}
		if err := m.Apply(ctx, changes, page.Next); err != nil {
			return res, err
		}
		res.Applied += len(changes)
		if page.Next >= page.Head || page.Next == after {
			break
		}
		after = page.Next
	}
	st, err = m.State(ctx)
	if err != nil {
		return res, err
	}
	res.Seq, res.Active, res.Seconds = st.Seq, st.Count, time.Since(start).Seconds()
	return res, nil
}

// syncSettings records list's kind and distances, which are not in its
// feed: a suppress list mirrored as a match list would report benign
// content as known, so a sync that cannot read them fails.
func syncSettings(ctx context.Context, c *client.Client, m *Mirror, list string) error {
	lists, err := c.Lists(ctx)
	if err != nil {
		return fmt.Errorf("reading the settings of list %q (a key needs lists.read to sync): %w", list, err)
	}
	for _, l := range lists {
		if l.Name != list {
			continue
		}
		if l.Kind == "" { // a server from before lists had kinds and thresholds
			return m.SetList(ctx, indicator.MatchList, l.MaxDistance, min(indicator.DefaultThreshold, l.MaxDistance))
		}
		kind, err := indicator.ParseListKind(l.Kind)
		if err != nil {
			return fmt.Errorf("list %q: %w", list, err)
		}
		return m.SetList(ctx, kind, l.MaxDistance, l.Threshold)
	}
	return fmt.Errorf("the server has no list named %q", list)
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
