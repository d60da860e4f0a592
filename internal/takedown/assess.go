package takedown

import (
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/core"
)

// Assess records v's assessment of case id and acts on it. The case must
// be waiting for assessment (else core.ErrConflict) in v's queue, or v
// see every case. The assessment classifies at least one item, and only
// items that were fetched (they have a hash): an item that could not be
// fetched has nothing to classify. An item it does not list is
// classified from the categories of the known material it matched
// (DefaultClassification, as the console pre-fills it: its hashes say
// what it is; Item.ByDefault), and otherwise stays unclassified: it gets
// no notice, and its content is deleted with the rest. Only the items it
// lists are submitted as indicators. Each error is an core.ErrInvalid naming the items at fault.
//
// With illegal items (baseline or national), the case becomes noticed:
// one notice per host, channel (see Channel) and classification is
// created and queued (JobNotice), each illegal item is rechecked every
// Options.Recheck, and a JobRefer reports the case to the competent
// authority, submits the indicators if asked, and then deletes the
// content of the illegal items. The content of the other items is
// deleted at once. With nothing illegal the case is closed, its content
// deleted.
func (s *Service) Assess(ctx context.Context, v Viewer, id string, a Assessment) (Case, error) {
	r, _, err := s.visible(ctx, v, id)
	if err != nil {
		return Case{}, err
	}
	if !v.assesses(r.Case) {
		return Case{}, core.Errorf(core.ErrForbidden, "case %s is in the queue of another hotline", id)
	}
	if r.State != Assessing {
		return Case{}, core.Errorf(core.ErrConflict, "case %s is %s, not waiting for assessment", id, r.State)
	}
	cls, byDefault, err := checkAssessment(r.Case, a)
	if err != nil {
		return Case{}, err
	}
	now := s.now()
	notices, err := s.planNotices(ctx, r.Case, cls, now)
	if err != nil {
		return Case{}, err
	}
	var illegal, other []int
	counts := map[Classification]int{}
	for _, it := range r.Items {
		c := cls[it.Index]
		counts[c]++
		if c.Illegal() {
			illegal = append(illegal, it.Index)
		} else {
			other = append(other, it.Index)
		}
	}
	rec := r
	rec.AssessedAt, rec.AssessedBy, rec.AssessedOrg, rec.SubmitIndicators = now, v.Actor, v.Org, a.SubmitIndicators
	rec.State = Noticed
	if len(illegal) == 0 {
		rec.State, rec.Reason, rec.SubmitIndicators = Closed, "nothing illegal was found", false
	}
	detail := fmt.Sprintf("%d baseline, %d national, %d not illegal", counts[Baseline], counts[National], counts[NotIllegal])
	if len(byDefault) > 0 {
		detail += fmt.Sprintf("; %d pre-classified as known material", len(byDefault))
	}
	if n := counts[""] - unfetched(r.Items); n > 0 {
		detail += fmt.Sprintf("; %d not classified", n)
	}
	err = s.st.Update(ctx, func(ctx context.Context, tx Tx) error {
		cur, err := tx.LockCase(ctx, id)
		if err != nil {
			return err
		}
		if cur.State != Assessing || cur.Queue != r.Queue {
			return core.Errorf(core.ErrConflict, "case %s changed while it was assessed: look at it again", id)
		}
		for _, idx := range slices.Sorted(maps.Keys(cls)) {
			var next time.Time
			if cls[idx].Illegal() {
				next = now.Add(s.o.Recheck)
			}
			if err := tx.Classify(ctx, id, idx, cls[idx], byDefault[idx], next); err != nil {
				return err
			}
		}
		// The content of the illegal items goes with the report to the
		// police, then is deleted (Refer); the rest is not needed.
		switch {
		case len(illegal) == 0:
			err = tx.DropContent(ctx, id, nil)
		case len(other) > 0:
			err = tx.DropContent(ctx, id, other)
		}
		if err != nil {
			return err
		}
		for _, n := range notices {
			if err := tx.AddNotice(ctx, n); err != nil {
				return err
			}
			if err := tx.QueueJob(ctx, JobNotice, n.ID, now); err != nil {
				return err
			}
		}
		if len(illegal) > 0 {
			if err := tx.QueueJob(ctx, JobRefer, id, now); err != nil {
				return err
			}
		}
		if err := tx.SetAssessed(ctx, rec); err != nil {
			return err
		}
		if err := tx.AddEvent(ctx, id, Event{At: now, Kind: EventAssessed, Actor: v.Actor, Org: v.Org, Detail: detail}); err != nil {
			return err
		}
		if rec.State == Closed {
			if err := tx.AddEvent(ctx, id, Event{At: now, Kind: EventClosed, Actor: v.Actor, Org: v.Org, Detail: rec.Reason}); err != nil {
				return err
			}
		}
		ev := v.event("takedown.case.assess", "case:"+id, detail)
		ev.At = now
		return s.audit(ctx, tx, ev)
	})
	if err != nil {
		return Case{}, err
	}
	out, err := s.st.TakedownCase(ctx, id)
	return out.Case, err
}

// checkAssessment checks a against the items of c and returns the
// classification of each item by index: those a lists, and the default
// for the fetched items it does not list that matched known material
// (byDefault has them).
func checkAssessment(c Case, a Assessment) (cls map[int]Classification, byDefault map[int]bool, err error) {
	if len(a.Items) == 0 {
		return nil, nil, core.Errorf(core.ErrInvalid, "an assessment classifies at least one item of the case")
	}
	byIndex := make(map[int]Item, len(c.Items))
	for _, it := range c.Items {
		byIndex[it.Index] = it
	}
	cls = make(map[int]Classification, len(c.Items))
	for _, ia := range a.Items {
		it, ok := byIndex[ia.Index]
		switch {
		case !ok:
			return nil, nil, core.Errorf(core.ErrInvalid, "case %s has no item %d", c.ID, ia.Index)
		case it.SHA256 == "":
			return nil, nil, core.Errorf(core.ErrInvalid, "item %d of case %s could not be fetched: there is nothing to classify", ia.Index, c.ID)
		}
		if _, dup := cls[ia.Index]; dup {
			return nil, nil, core.Errorf(core.ErrInvalid, "item %d is classified twice", ia.Index)
		}
		cl, err := ParseClassification(string(ia.Classification))
		if err != nil {
			return nil, nil, fmt.Errorf("item %d: %w", ia.Index, err)
		}
		cls[ia.Index] = cl
	}
	byDefault = map[int]bool{}
	for _, it := range c.Items {
		if _, ok := cls[it.Index]; ok || it.SHA256 == "" {
			continue
		}
		if d := DefaultClassification(it.Matches); d != "" {
			cls[it.Index], byDefault[it.Index] = d, true
		}
	}
	return cls, byDefault, nil
}

// unfetched counts the items that could not be fetched.
func unfetched(items []Item) int {
	n := 0
	for _, it := range items {
		if it.SHA256 == "" {
			n++
		}
	}
	return n
}

// planNotices returns the notices of case c's illegal items: one per
// host, channel and classification, in order of first item, each with
// the URLs of its items (an inline item's is its page's, listed once). A
// URL assessed both baseline and national (the same resource embedded
// twice) is in the baseline notice only. Each host's channel is
// Service.channel's.
func (s *Service) planNotices(ctx context.Context, c Case, cls map[int]Classification, now time.Time) ([]Notice, error) {
	type route struct {
		host    int64
		channel Channel
		via     int64
	}
	type key struct {
		route
		cl Classification
	}
	type entry struct {
		route
		url string
	}
	var (
		orgs    []org.Organisation
		entries []entry
		class   = map[entry]Classification{}
	)
	for _, it := range c.Items {
		cl := cls[it.Index]
		if !cl.Illegal() {
			continue
		}
		if orgs == nil {
			var err error
			if orgs, err = s.st.Orgs(ctx); err != nil {
				return nil, err
			}
		}
		h := itemHosting(c, it)
		ch, via, _, err := s.channel(ctx, orgs, h)
		if err != nil {
			return nil, err
		}
		e := entry{route{h.Host, ch, via}, noticeURL(c, it)}
		was, seen := class[e]
		if !seen {
			entries = append(entries, e)
		}
		if !seen || was != Baseline {
			class[e] = cl
		}
	}
	var (
		order   []key
		notices = map[key]*Notice{}
	)
	for _, e := range entries {
		k := key{e.route, class[e]}
		n, ok := notices[k]
		if !ok {
			n = &Notice{ID: rand.Text(), Case: c.ID, Host: e.host, Channel: e.channel, Via: e.via, Classification: k.cl, CreatedAt: now}
			notices[k] = n
			order = append(order, k)
		}
		n.URLs = append(n.URLs, e.url)
	}
	out := make([]Notice, len(order))
	for i, k := range order {
		out[i] = *notices[k]
	}
	return out, nil
}

// noticeURL is the URL by which item it of case c is noticed: its own,
// or for an item inline in the page, the page's.
func noticeURL(c Case, it Item) string {
	if inline(it.URL) {
		return c.URL
	}
	return it.URL
}

// itemHosting is where item it of case c is hosted: its own hosting, else
// (not located) the case's.
func itemHosting(c Case, it Item) Hosting {
	if h := it.Hosting; h.Host != 0 || h.Country != "" {
		return h
	}
	return c.Hosting
}

// channel returns how the host of h is noticed, and through which
// organisation if not directly: a registered host by its webhook, else
// by e-mail to its notice address; a host with neither, or a URL of no
// registered host, through the hotline of the hosting country registered
// first (pushed to its webhook, or in its queue: see SendNotice), else
// through Europol. Without a hotline of the country or a Europol
// organisation, the notice goes to Europol through no one (via 0): it
// waits until one is registered. The country is the one whose hotline
// was looked for: the hosting country, else the registered host's.
func (s *Service) channel(ctx context.Context, orgs []org.Organisation, h Hosting) (ch Channel, via int64, country string, err error) {
	country = h.Country
	if h.Host != 0 {
		ct, err := s.st.NoticeContact(ctx, h.Host)
		if err != nil {
			return "", 0, "", err
		}
		switch {
		case ct.HasWebhook:
			return ByWebhook, 0, "", nil
		case ct.Email != "":
			return ByEmail, 0, "", nil
		}
		if country == "" {
			country = ct.Org.Country
		}
	}
	var europol int64
	for _, o := range sortedByID(orgs) {
		switch {
		case o.Kind == org.Hotline && o.Country == country && country != "":
			return ByHotline, o.ID, country, nil
		case o.Kind == org.Europol && europol == 0:
			europol = o.ID
		}
	}
	return ByEuropol, europol, country, nil
}

func sortedByID(orgs []org.Organisation) []org.Organisation {
	return slices.SortedFunc(slices.Values(orgs), func(a, b org.Organisation) int { return cmp.Compare(a.ID, b.ID) })
}
