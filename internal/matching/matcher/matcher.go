// Package matcher answers "is this hash known?" against the active
// indicators of every list, in memory: an exact Hamming-range index for PDQ
// and exact sets for MD5 and SHA-256. The server fills it from the store and
// keeps it current from the lists' change feeds (Follow); "ward scan" fills
// it from offline mirrors.
//
// # Suppression
//
// The indicators of a suppress list (indicator.SuppressList) are known
// benign content that collides with other lists' indicators, such as
// common stock images. They are never matches themselves. When content (an
// item, or the hashes of one file together: MatchContent) matches one of
// them within that suppress list's own threshold, whatever the query asks
// for and whichever lists it names, its matches of the other lists are
// removed and the suppressing indicators reported (Result.SuppressedBy):
// every match if a suppressing indicator matched the SHA-256 (the content
// is the benign file), all but SHA-256 matches if it matched the MD5 (MD5
// collisions can be made), else its PDQ matches (a perceptual collision
// with benign content says nothing about an exact digest of known
// material, which stays a match).
//
// # Unverified lists
//
// The indicators of an unverified list (indicator.UnverifiedList:
// victim-reported) are hashes no one assessed. A query matches them only
// if it names the list, or sets Query.Unverified (the centre's own
// fetching): a provider asking for "every list" gets known material only.
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
	// names are the lists' names, verified those of the lists that are
	// not unverified and suppress those of the suppress lists, sorted.
	// They are replaced, never changed in place, so that a query reads
	// them without copying.
	names, verified, suppress []string
}

type list struct {
	settings // guarded by Matcher.mu: they change while queries run
	pdq      *hashindex.Index
	md5      *hashindex.MD5Set
	sha256   *hashindex.SHA256Set
}

// settings are what a list's indicators mean and how near a PDQ match is.
type settings struct {
	suppress    bool
	unverified  bool
	maxDistance int
	threshold   int // when a query names none, and always for a suppress list
}

func settingsOf(l indicator.List) settings {
	return settings{suppress: l.Kind == indicator.SuppressList, unverified: l.Kind == indicator.UnverifiedList,
		maxDistance: l.MaxDistance, threshold: l.Threshold}
}

// distance is the largest PDQ distance a query with threshold q matches
// at on the list.
func (s settings) distance(q int) int {
	if q < 0 || s.suppress {
		q = s.threshold
	}
	return min(q, s.maxDistance)
}

func newList(pdqIndex *hashindex.Index) *list {
	return &list{pdq: pdqIndex, md5: hashindex.NewDigestSet[[16]byte](), sha256: hashindex.NewDigestSet[[32]byte]()}
}

// New returns an empty matcher.
func New() *Matcher { return &Matcher{lists: map[string]*list{}} }

// Categories are kept in the low bits of the index keys, so a match needs
// no look-up to say what it matched and the index holds 10M indicators with
// nothing beside it.
const catBits = 4

var catCodes = map[indicator.Category]uint64{
	indicator.A1: 1, indicator.A2: 2, indicator.B1: 3, indicator.B2: 4,
	indicator.Baseline: 5, indicator.National: 6, indicator.Unverified: 7,
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

// SetList creates the list l.Name or changes its settings: its kind
// (indicator.MatchList if none), PDQ distance cap and default threshold.
func (m *Matcher) SetList(l indicator.List) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := settingsOf(l)
	x, ok := m.lists[l.Name]
	if !ok {
		x = newList(hashindex.New())
		m.lists[l.Name] = x
	}
	reindex := !ok || x.suppress != s.suppress || x.unverified != s.unverified
	x.settings = s
	if reindex {
		m.index()
	}
}

// index renews names and suppress from lists; m.mu is held for writing.
func (m *Matcher) index() {
	m.names, m.verified, m.suppress = make([]string, 0, len(m.lists)), nil, nil
	for n, l := range m.lists {
		m.names = append(m.names, n)
		if !l.unverified {
			m.verified = append(m.verified, n)
		}
		if l.suppress {
			m.suppress = append(m.suppress, n)
		}
	}
	sort.Strings(m.names)
	sort.Strings(m.verified)
	sort.Strings(m.suppress)
}

// Lists returns the names of the lists, sorted.
func (m *Matcher) Lists() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return slices.Clone(m.names)
}

// list returns the named list and its settings.
func (m *Matcher) list(name string) (*list, settings, error) {
	m.mu.RLock()
	l := m.lists[name]
	var s settings
	if l != nil {
		s = l.settings
	}
	m.mu.RUnlock()
	if l == nil {
		return nil, s, core.Errorf(core.ErrNotFound, "no list named %q", name)
	}
	return l, s, nil
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
		p = &pending{list: newList(nil)}
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

// Install replaces the lists of m named in lists with what was added for
// them (an empty list when nothing was), with the settings of lists.
func (b *Builder) Install(m *Matcher, lists []indicator.List) {
	built := map[string]*list{}
	for _, il := range lists {
		p := b.lists[il.Name]
		if p == nil {
			p = &pending{list: newList(nil)}
		}
		l := p.list
		l.settings, l.pdq = settingsOf(il), hashindex.Build(p.ids, p.hashes)
		built[il.Name] = l
		delete(b.lists, il.Name) // let the inputs be collected
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, l := range built {
		m.lists[name] = l
	}
	m.index()
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
	l, _, err := m.list(e.List)
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
	// Threshold is the largest PDQ distance of a match; each list caps it
	// at its maximum distance. ListThresholds (any negative value) uses
	// each list's own threshold instead. Suppress lists always use their
	// own.
	Threshold int
	Dihedral  bool     // also match the 7 rotations and reflections
	Lists     []string // nil means every list but the unverified ones; every suppress list applies regardless
	// Unverified, with Lists nil, also matches the unverified lists.
	Unverified bool
}

// covered returns the lists q covers; m.mu is held.
func (m *Matcher) covered(q Query) []string {
	switch {
	case len(q.Lists) > 0:
		return q.Lists
	case q.Unverified:
		return m.names
	}
	return m.verified
}

// ListThresholds is the Threshold of a Query that matches each list
// within its own threshold (indicator.List.Threshold).
const ListThresholds = -1

// Threshold returns the largest PDQ distance a match of q may have: its
// Threshold if it names one (lists may have capped it lower), else the
// largest threshold of the match lists it covers.
func (m *Matcher) Threshold(q Query) int {
	if q.Threshold >= 0 {
		return q.Threshold
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	names := m.covered(q)
	t := 0
	for _, n := range names {
		if l := m.lists[n]; l != nil && !l.suppress {
			t = max(t, l.distance(q.Threshold))
		}
	}
	return t
}

// Result is what one piece of content matched.
type Result struct {
	// Matches are the indicators of match lists it matched, nearest
	// first, less those suppressed.
	Matches []Match
	// SuppressedBy are the indicators of suppress lists it matched,
	// nearest first: why Matches lacks what they suppressed.
	SuppressedBy []Match
}

var variantNames = [8]string{"", "rot90", "rot180", "rot270", "flipx", "flipy", "flipp", "flipm"}

// Match returns the matches of an item, nearest first, less those a
// suppress list's match of it removed. A PDQ item with Dihedral set must
// carry its variants in dihedral (nil otherwise).
func (m *Matcher) Match(q Query, it Item, dihedral *pdq.Dihedral) ([]Match, error) {
	r, err := m.MatchContent(q, dihedral, it)
	return r.Matches, err
}

// MatchContent matches the items as the hashes of one piece of content
// (such as a file's PDQ hash, MD5 and SHA-256): a suppress list's match of
// any of them suppresses the matches of all (see the package
// documentation). With q.Dihedral set, dihedral carries the variants of
// its PDQ item.
func (m *Matcher) MatchContent(q Query, dihedral *pdq.Dihedral, items ...Item) (Result, error) {
	var (
		r       Result
		tookBuf [3]time.Duration // a file's hashes, without allocating
		took    = tookBuf[:0]
	)
	for _, it := range items {
		var start time.Time
		if m.Observe != nil {
			start = time.Now()
		}
		if err := m.collect(q, it, dihedral, &r); err != nil {
			return Result{}, err
		}
		if m.Observe != nil {
			took = append(took, time.Since(start))
		}
	}
	r.suppress()
	if m.Observe != nil {
		for i, it := range items {
			n := 0 // its matches left
			for _, x := range r.Matches {
				if x.Signal == it.Signal {
					n++
				}
			}
			m.Observe(it.Signal, took[i], n)
		}
	}
	sortMatches(r.Matches)
	sortMatches(r.SuppressedBy)
	return r, nil
}

// suppress removes the matches r.SuppressedBy suppresses: those of a
// signal no stronger than the strongest that suppressed (PDQ, then MD5,
// then SHA-256). A SHA-256 of benign content removes every match of the
// file; an MD5, whose collisions can be made, never a SHA-256 match; a
// PDQ, near but not equal, only PDQ matches.
func (r *Result) suppress() {
	by := -1
	for _, s := range r.SuppressedBy {
		by = max(by, strength(s.Signal))
	}
	if by < 0 {
		return
	}
	r.Matches = slices.DeleteFunc(r.Matches, func(x Match) bool { return strength(x.Signal) <= by })
}

// strength orders the signals by how surely equal values mean equal
// content.
func strength(s indicator.Signal) int {
	switch s {
	case indicator.SHA256:
		return 2
	case indicator.MD5:
		return 1
	}
	return 0
}

// collect appends to r what it matched of the match lists q covers and of
// every suppress list.
func (m *Matcher) collect(q Query, it Item, dihedral *pdq.Dihedral, r *Result) error {
	m.mu.RLock()
	names, suppress := m.covered(q), m.suppress
	m.mu.RUnlock()
	variants := [8]pdq.Hash{it.PDQ}
	n := 1
	if it.Signal == indicator.PDQ && q.Dihedral {
		if dihedral == nil {
			return fmt.Errorf("dihedral matching needs the image or its variants")
		}
		variants, n = dihedral.All(), 8
	}
	var buf []hashindex.Match
	for _, name := range names {
		l, s, err := m.list(name)
		if err != nil {
			return err
		}
		if s.suppress {
			continue // below, whether named or not
		}
		r.Matches, buf = l.lookup(name, it, variants[:n], s.distance(q.Threshold), r.Matches, buf)
	}
	for _, name := range suppress {
		l, s, err := m.list(name)
		if err != nil {
			return err
		}
		r.SuppressedBy, buf = l.lookup(name, it, variants[:n], s.distance(q.Threshold), r.SuppressedBy, buf)
	}
	return nil
}

// lookup appends to out the indicators of list l, named name, that item it
// matches: as a digest, or as any of the PDQ variants within distance t.
// buf is scratch space, returned for reuse.
func (l *list) lookup(name string, it Item, variants []pdq.Hash, t int, out []Match, buf []hashindex.Match) ([]Match, []hashindex.Match) {
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
		return out, buf
	}
	var best map[uint64]int // key -> index in out; only variants can repeat a key
	if len(variants) > 1 {
		best = map[uint64]int{}
	}
	for v, h := range variants {
		buf = l.pdq.Search(hashindex.Hash(h), t, buf[:0])
		for _, hm := range buf {
			if i, ok := best[hm.ID]; ok {
				if hm.Distance < out[i].Distance {
					out[i].Distance, out[i].Variant = hm.Distance, variantNames[v]
				}
				continue
			}
			id, c := unkey(hm.ID)
			if best != nil {
				best[hm.ID] = len(out)
			}
			out = append(out, Match{Indicator: id, List: name, Category: c, Signal: indicator.PDQ, Distance: hm.Distance, Variant: variantNames[v]})
		}
	}
	return out, buf
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

// File matches everything known of one file (FileItems) as one piece of
// content, and returns its matches, nearest first, less those suppressed.
func (m *Matcher) File(q Query, h pdq.Hash, dihedral *pdq.Dihedral, md5, sha256 string) ([]Match, error) {
	items, err := FileItems(h, md5, sha256)
	if err != nil {
		return nil, err
	}
	r, err := m.MatchContent(q, dihedral, items...)
	return r.Matches, err
}

// FileItems returns the items of one file's hashes: its PDQ hash unless
// zero (as for an image too small to hash), and its MD5 and SHA-256, given
// in hex.
func FileItems(h pdq.Hash, md5, sha256 string) ([]Item, error) {
	items := make([]Item, 0, 3)
	if !h.IsZero() {
		items = append(items, Item{Signal: indicator.PDQ, PDQ: h})
	}
	for _, d := range []struct {
		sig indicator.Signal
		hex string
	}{{indicator.MD5, md5}, {indicator.SHA256, sha256}} {
		it, err := ParseItem(d.sig, d.hex)
		if err != nil {
			return nil, err
		}
		items = append(items, it)
	}
	return items, nil
}
