package mirror

import (
	"context"
	"fmt"
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

// Sync applies list's change feed from c to m, page by page, until m
// reaches the list's head. A malformed change is given to skip and left
// out, so that one bad entry cannot stall the mirror forever; applied, if
// not nil, is called for each change applied.
func Sync(ctx context.Context, c *client.Client, m *Mirror, list string, skip func(client.Change, error), applied func()) (SyncResult, error) {
	start := time.Now()
	res := SyncResult{List: list}
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

// Matcher loads the mirror's entries into a matcher, matching PDQ hashes
// up to threshold, and returns it with the mirror's list. An empty mirror
// (never synced) is an error.
func (m *Mirror) Matcher(ctx context.Context, threshold int) (*matcher.Matcher, string, error) {
	st, err := m.State(ctx)
	if err != nil {
		return nil, "", err
	}
	if st.List == "" {
		return nil, "", fmt.Errorf("mirror %s is empty: run ward sync first", m.path)
	}
	b := matcher.NewBuilder()
	err = m.ForEach(ctx, func(en Entry) error {
		return b.Add(matcher.Entry{ID: en.ID, List: st.List, Signal: indicator.Signal(en.Signal), Value: en.Value, Category: indicator.Category(en.Category)})
	})
	if err != nil {
		return nil, "", fmt.Errorf("loading mirror %s: %w", m.path, err)
	}
	idx := matcher.New()
	b.Install(idx, map[string]int{st.List: threshold})
	return idx, st.List, nil
}
