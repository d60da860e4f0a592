package matcher

import (
	"context"
	"fmt"
	"testing"

	"github.com/wardhq/ward/internal/indicator"
)

// feedSource is a Source of one list, "known", whose feed the test
// appends to; nothing is active at the start.
type feedSource struct{ changes []indicator.Change }

func (s *feedSource) Lists(context.Context) ([]indicator.ListInfo, error) {
	return []indicator.ListInfo{{List: indicator.List{Name: "known", MaxDistance: 31}, Head: int64(len(s.changes))}}, nil
}

func (s *feedSource) ForEachActive(context.Context, string, func(indicator.Indicator) error) (map[string]int64, error) {
	return map[string]int64{"known": 0}, nil
}

func (s *feedSource) Changes(_ context.Context, _ string, after int64, limit int) ([]indicator.Change, error) {
	end := min(int(after)+limit, len(s.changes))
	if int(after) >= end {
		return nil, nil
	}
	return s.changes[after:end], nil
}

func (s *feedSource) add(kind indicator.ChangeKind, id int64, sig indicator.Signal, value string) {
	s.changes = append(s.changes, indicator.Change{Seq: int64(len(s.changes) + 1), List: "known", Kind: kind,
		IndicatorID: id, Signal: sig, Value: value, Category: indicator.A1})
}

// TestFollowQuarantine: a quarantine change removes the indicator from
// the index at the next poll, a release puts it back, and the other
// changes of pending indicators change nothing.
func TestFollowQuarantine(t *testing.T) {
	ctx := context.Background()
	src := &feedSource{}
	m := New()
	f := NewFollower(m, src)
	if err := f.Load(ctx); err != nil {
		t.Fatal(err)
	}
	pdqValue := fmt.Sprintf("%064x", 7)
	md5Value := fmt.Sprintf("%032x", 9)
	pdqItem, _ := ParseItem(indicator.PDQ, pdqValue)
	md5Item, _ := ParseItem(indicator.MD5, md5Value)
	matched := func() string {
		t.Helper()
		if err := f.Poll(ctx); err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, it := range []Item{pdqItem, md5Item} {
			ms, err := m.Match(Query{Threshold: 31}, it, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range ms {
				ids = append(ids, x.Indicator)
			}
		}
		return fmt.Sprint(ids)
	}
	src.add(indicator.Add, 1, indicator.PDQ, pdqValue)
	src.add(indicator.Add, 2, indicator.MD5, md5Value)
	if g := matched(); g != "[]" {
		t.Errorf("pending: matched %s", g)
	}
	src.add(indicator.Activate, 1, indicator.PDQ, pdqValue)
	src.add(indicator.Activate, 2, indicator.MD5, md5Value)
	if g := matched(); g != "[1 2]" {
		t.Errorf("active: matched %s", g)
	}
	src.add(indicator.Quarantine, 1, indicator.PDQ, pdqValue)
	src.add(indicator.Quarantine, 2, indicator.MD5, md5Value)
	src.add(indicator.Attest, 1, indicator.PDQ, pdqValue)
	if g := matched(); g != "[]" {
		t.Errorf("quarantined: matched %s", g)
	}
	src.add(indicator.Release, 1, indicator.PDQ, pdqValue)
	if g := matched(); g != "[1]" {
		t.Errorf("one released: matched %s", g)
	}
	src.add(indicator.Withdraw, 2, indicator.MD5, md5Value)
	src.add(indicator.Quarantine, 1, indicator.PDQ, pdqValue)
	src.add(indicator.Release, 1, indicator.PDQ, pdqValue)
	if g := matched(); g != "[1]" {
		t.Errorf("quarantined and released within one poll: matched %s", g)
	}
}
