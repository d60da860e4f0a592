// Package matcher answers "is this hash known?" against the active
// indicators of every list, in memory: an exact Hamming-range index for PDQ
// and exact sets for MD5 and SHA-256. The server fills it from the store and
// keeps it current from the lists' change feeds (Follow); "ward scan" fills
// it from an offline mirror.
package matcher

import (
	"cmp"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/hashing/pdq"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/matching/hashindex"
)

// Entry is one active indicator to match against.
type Entry struct {
	ID       int64
	List     string
	Signal   indicator.Signal
	Value    string // lower-case hex
	Category indicator.Category
}

// Match is one indicator an item matched.
type Match struct {
	Indicator int64
	List      string
	Category  indicator.Category
	Signal    indicator.Signal
	Distance  int
	Variant   string // the dihedral variant of the query that matched; "" for the original
}

// Item is one query: a PDQ hash or a digest.
type Item struct {
	Signal indicator.Signal
	PDQ    pdq.Hash
	MD5    [16]byte
	SHA256 [32]byte
}

// ParseItem parses a hex value of the given signal type.
func ParseItem(sig indicator.Signal, value string) (Item, error) {
	v, err := indicator.NormalizeValue(sig, value)
	if err != nil {
		return Item{}, err
	}
	it := Item{Signal: sig}
	if sig == indicator.PDQ {
		it.PDQ, err = pdq.ParseHex(v)
		return it, err
	}
	// NormalizeValue checked the digits and the length.
	if sig == indicator.MD5 {
		hex.Decode(it.MD5[:], []byte(v))
	} else {
		hex.Decode(it.SHA256[:], []byte(v))
	}
	return it, nil
}

// Matcher holds the indexes of every list. It is safe for concurrent use;
// updates are visible to the next query.
type Matcher struct {
	// Observe, if set before the matcher is used, is told of each item
	// matched: its signal, how long it took and how many matches it had
	// (metrics). It must be quick and safe for concurrent use.
	Observe func(sig indicator.Signal, took time.Duration, matches int)

	mu    sync.RWMutex
	lists map[string]*list
}

type list struct {
	maxDistance int
	pdq         *hashindex.Index
	md5         *hashindex.MD5Set
	sha256      *hashindex.SHA256Set
}

func newList(maxDistance int, pdqIndex *hashindex.Index) *list {
	return &list{maxDistance: maxDistance, pdq: pdqIndex, md5: hashindex.NewDigestSet[[16]byte](), sha256: hashindex.NewDigestSet[[32]byte]()}
}

// New returns an empty matcher.
func New() *Matcher { return &Matcher{lists: map[string]*list{}} }

// Categories are kept in the low bits of the index keys, so a match needs
// no look-up to say what it matched and the index holds 10M indicators with
// nothing beside it.
const catBits = 4

var catCodes = map[indicator.Category]uint64{
	indicator.A1: 1, indicator.A2: 2, indicator.B1: 3, indicator.B2: 4,
	indicator.Baseline: 5, indicator.National: 6,
}

var catNames = func() []indicator.Category {
	n := make([]indicator.Category, 1<<catBits)
	for c, code := range catCodes {
		n[code] = c
	}
	return n
}()

func key(id int64, c indicator.Category) uint64 { return uint64(id)<<catBits | catCodes[c] }

func unkey(k uint64) (int64, indicator.Category) {
	return int64(k >> catBits), catNames[k&(1<<catBits-1)]
}

// SetList creates a list or changes its PDQ distance cap.
func (m *Matcher) SetList(name string, maxDistance int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.lists[name]; ok {
		l.maxDistance = maxDistance
		return
	}
	m.lists[name] = newList(maxDistance, hashindex.New())
}

// Lists returns the names of the lists, sorted.
func (m *Matcher) Lists() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	names := make([]string, 0, len(m.lists))
	for n := range m.lists {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (m *Matcher) list(name string) (*list, error) {
	m.mu.RLock()
	l := m.lists[name]
	m.mu.RUnlock()
	if l == nil {
		return nil, core.Errorf(core.ErrNotFound, "no list named %q", name)
	}
	return l, nil
}

// A Builder collects entries for a bulk build of whole lists, much faster
// than adding them one by one and without holding the entries themselves.
type Builder struct {
	lists map[string]*pending
}

type pending struct {
	ids    []uint64
	hashes []hashindex.Hash
	list   *list // its digest sets
}

// NewBuilder returns an empty builder.
func NewBuilder() *Builder { return &Builder{lists: map[string]*pending{}} }

// Add adds one entry.
func (b *Builder) Add(e Entry) error {
	it, k, err := parseEntry(e)
	if err != nil {
		return err
	}
	p := b.lists[e.List]
	if p == nil {
		p = &pending{list: newList(0, nil)}
		b.lists[e.List] = p
	}
	if it.Signal == indicator.PDQ {
		p.ids = append(p.ids, k)
		p.hashes = append(p.hashes, hashindex.Hash(it.PDQ))
	} else {
		p.list.addDigest(it, k)
	}
	return nil
}

// Install replaces the named lists of m with what was added for them (an
// empty list when nothing was), with the given PDQ distance caps.
func (b *Builder) Install(m *Matcher, maxDistance map[string]int) {
	built := map[string]*list{}
	for name, d := range maxDistance {
		p := b.lists[name]
		if p == nil {
			p = &pending{list: newList(0, nil)}
		}
		l := p.list
		l.maxDistance, l.pdq = d, hashindex.Build(p.ids, p.hashes)
		built[name] = l
		delete(b.lists, name) // let the inputs be collected
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, l := range built {
		m.lists[name] = l
	}
}

func parseEntry(e Entry) (Item, uint64, error) {
	if _, ok := catCodes[e.Category]; !ok {
		return Item{}, 0, core.Errorf(core.ErrInvalid, "indicator %d has unknown category %q", e.ID, e.Category)
	}
	it, err := ParseItem(e.Signal, e.Value)
	if err != nil {
		return Item{}, 0, fmt.Errorf("indicator %d: %w", e.ID, err)
	}
	return it, key(e.ID, e.Category), nil
}

// Add makes an indicator matchable.
func (m *Matcher) Add(e Entry) error {
	l, it, k, err := m.entry(e)
	if err != nil {
		return err
	}
	if it.Signal == indicator.PDQ {
		l.pdq.Add(k, hashindex.Hash(it.PDQ))
	} else {
		l.addDigest(it, k)
	}
	return nil
}

// Remove stops an indicator from matching; removing one that is not there
// does nothing.
func (m *Matcher) Remove(e Entry) error {
	l, it, k, err := m.entry(e)
	if err != nil {
		return err
	}
	switch it.Signal {
	case indicator.PDQ:
		l.pdq.Remove(k)
	case indicator.MD5:
		l.md5.Remove(k)
	default:
		l.sha256.Remove(k)
	}
	return nil
}

// entry parses e and finds its list.
func (m *Matcher) entry(e Entry) (*list, Item, uint64, error) {
	it, k, err := parseEntry(e)
	if err != nil {
		return nil, Item{}, 0, err
	}
	l, err := m.list(e.List)
	return l, it, k, err
}

func (l *list) addDigest(it Item, k uint64) {
	if it.Signal == indicator.MD5 {
		l.md5.Add(k, it.MD5)
	} else {
		l.sha256.Add(k, it.SHA256)
	}
}

// Len returns the number of indicators in a list.
func (m *Matcher) Len(name string) int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	l := m.lists[name]
	if l == nil {
		return 0
	}
	return l.pdq.Len() + l.md5.Len() + l.sha256.Len()
}

// Query is one matching request.
type Query struct {
	Threshold int      // largest PDQ distance; each list may cap it lower
	Dihedral  bool     // also match the 7 rotations and reflections
	Lists     []string // nil means every list
}

var variantNames = [8]string{"", "rot90", "rot180", "rot270", "flipx", "flipy", "flipp", "flipm"}

// Match returns the matches of each item, nearest first. A PDQ item with
// Dihedral set must carry its variants in dihedral (nil otherwise).
func (m *Matcher) Match(q Query, it Item, dihedral *pdq.Dihedral) ([]Match, error) {
	if m.Observe == nil {
		return m.match(q, it, dihedral)
	}
	start := time.Now()
	ms, err := m.match(q, it, dihedral)
	if err == nil {
		m.Observe(it.Signal, time.Since(start), len(ms))
	}
	return ms, err
}

func (m *Matcher) match(q Query, it Item, dihedral *pdq.Dihedral) ([]Match, error) {
	names := q.Lists
	if len(names) == 0 {
		names = m.Lists()
	}
	var out []Match
	var buf []hashindex.Match
	for _, name := range names {
		l, err := m.list(name)
		if err != nil {
			return nil, err
		}
		if it.Signal != indicator.PDQ {
			var keys []uint64
			if it.Signal == indicator.MD5 {
				keys = l.md5.Lookup(it.MD5)
			} else {
				keys = l.sha256.Lookup(it.SHA256)
			}
			for _, k := range keys {
				id, c := unkey(k)
				out = append(out, Match{Indicator: id, List: name, Category: c, Signal: it.Signal})
			}
			continue
		}
		m.mu.RLock()
		t := min(q.Threshold, l.maxDistance)
		m.mu.RUnlock()
		variants := [8]pdq.Hash{it.PDQ}
		n := 1
		if q.Dihedral {
			if dihedral == nil {
				return nil, fmt.Errorf("dihedral matching needs the image or its variants")
			}
			variants, n = dihedral.All(), 8
		}
		best := map[uint64]int{} // key -> index in out
		for v, h := range variants[:n] {
			buf = l.pdq.Search(hashindex.Hash(h), t, buf[:0])
			for _, hm := range buf {
				if i, ok := best[hm.ID]; ok {
					if hm.Distance < out[i].Distance {
						out[i].Distance, out[i].Variant = hm.Distance, variantNames[v]
					}
					continue
				}
				id, c := unkey(hm.ID)
				best[hm.ID] = len(out)
				out = append(out, Match{Indicator: id, List: name, Category: c, Signal: indicator.PDQ, Distance: hm.Distance, Variant: variantNames[v]})
			}
		}
	}
	sortMatches(out)
	return out, nil
}

// sortMatches orders matches nearest first, then by indicator.
func sortMatches(ms []Match) {
	slices.SortFunc(ms, func(a, b Match) int {
		if a.Distance != b.Distance {
			return a.Distance - b.Distance
		}
		return cmp.Compare(a.Indicator, b.Indicator)
	})
}

// File matches everything known of one file: its PDQ hash (unless zero, as
// for an image too small to hash) with its variants when q.Dihedral is set,
// and its MD5 and SHA-256, given in hex.
func (m *Matcher) File(q Query, h pdq.Hash, dihedral *pdq.Dihedral, md5, sha256 string) ([]Match, error) {
	var all []Match
	if !h.IsZero() {
		ms, err := m.Match(q, Item{Signal: indicator.PDQ, PDQ: h}, dihedral)
		if err != nil {
			return nil, err
		}
		all = append(all, ms...)
	}
	for _, d := range []struct {
		sig indicator.Signal
		hex string
	}{{indicator.MD5, md5}, {indicator.SHA256, sha256}} {
		it, err := ParseItem(d.sig, d.hex)
		if err != nil {
			return nil, err
		}
		ms, err := m.Match(q, it, nil)
		if err != nil {
			return nil, err
		}
		all = append(all, ms...)
	}
	sortMatches(all)
	return all, nil
}
