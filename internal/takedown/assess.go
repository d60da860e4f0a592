package takedown

import (
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/core"
)

// Assess records v's assessment of case id and acts on it. The case must
// be waiting for assessment (else core.ErrConflict) in v's queue, or v
// see every case. Every item that was fetched (it has content or a hash)
// must be classified, and only those: an assessment is of the whole case,
// so that nothing fetched is left unassessed; items that could not be
// fetched have nothing to classify. Each error is an core.ErrInvalid
// naming the items at fault.
//
// With illegal items (baseline or national), the case becomes noticed:
// one notice per host and channel (see Channel) is created and queued
// (JobNotice), each illegal item is rechecked every Options.Recheck, and
// a JobRefer reports the case to the competent authority, submits the
// indicators if asked, and then deletes the content of the illegal
// items. The content of the other items is deleted at once. With nothing
// illegal the case is closed, its content deleted.
func (s *Service) Assess(ctx context.Context, v Viewer, id string, a Assessment) (Case, error) {
	r, err := s.visible(ctx, v, id)
	if err != nil {
		return Case{}, err
	}
	if !v.assesses(r.Case) {
		return Case{}, core.Errorf(core.ErrForbidden, "case %s is in the queue of another hotline", id)
	}
	if r.State != Assessing {
		return Case{}, core.Errorf(core.ErrConflict, "case %s is %s, not waiting for assessment", id, r.State)
	}
	cls, err := checkAssessment(r.Case, a)
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
		c, ok := cls[it.Index]
		if !ok {
			continue
		}
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
			if err := tx.Classify(ctx, id, idx, cls[idx], next); err != nil {
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
// classification of each item by index.
func checkAssessment(c Case, a Assessment) (map[int]Classification, error) {
	if len(a.Items) == 0 {
		return nil, core.Errorf(core.ErrInvalid, "an assessment classifies the items of the case")
	}
	byIndex := make(map[int]Item, len(c.Items))
	for _, it := range c.Items {
		byIndex[it.Index] = it
	}
	cls := make(map[int]Classification, len(a.Items))
	for _, ia := range a.Items {
		it, ok := byIndex[ia.Index]
		switch {
		case !ok:
			return nil, core.Errorf(core.ErrInvalid, "case %s has no item %d", c.ID, ia.Index)
		case it.SHA256 == "":
			return nil, core.Errorf(core.ErrInvalid, "item %d of case %s could not be fetched: there is nothing to classify", ia.Index, c.ID)
		}
		if _, dup := cls[ia.Index]; dup {
			return nil, core.Errorf(core.ErrInvalid, "item %d is classified twice", ia.Index)
		}
		cl, err := ParseClassification(string(ia.Classification))
		if err != nil {
			return nil, fmt.Errorf("item %d: %w", ia.Index, err)
		}
		cls[ia.Index] = cl
	}
	var missing []string
	for _, it := range c.Items {
		if _, ok := cls[it.Index]; !ok && it.SHA256 != "" {
			missing = append(missing, strconv.Itoa(it.Index))
		}
	}
	if len(missing) > 0 {
		return nil, core.Errorf(core.ErrInvalid, "every fetched item must be classified: item(s) %s are not", strings.Join(missing, ", "))
	}
	return cls, nil
}

// planNotices returns the notices of case c's illegal items: one per
// host and channel, in order of first item. A registered host gets its
// notice by webhook if it has one, else by e-mail to its notice address;
// a host without either, or a URL of no registered host, gets its notice
// through the hotline of the hosting country (by its webhook), else
// through Europol. The classification of a notice is baseline if one of
// its items is, else national.
func (s *Service) planNotices(ctx context.Context, c Case, cls map[int]Classification, now time.Time) ([]Notice, error) {
	type key struct {
		host    int64
		channel Channel
		via     int64
	}
	var (
		orgs    []org.Organisation
		order   []key
		notices = map[key]*Notice{}
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
		h := it.Hosting
		if h.Host == 0 && h.Country == "" {
			h = c.Hosting
		}
		ch, via, err := s.channel(ctx, orgs, h)
		if err != nil {
			return nil, err
		}
		k := key{h.Host, ch, via}
		n, ok := notices[k]
		if !ok {
			n = &Notice{ID: rand.Text(), Case: c.ID, Host: h.Host, Channel: ch, Via: via, Classification: National, CreatedAt: now}
			notices[k] = n
			order = append(order, k)
		}
		if !slices.Contains(n.URLs, it.URL) {
			n.URLs = append(n.URLs, it.URL)
		}
		if cl == Baseline {
			n.Classification = Baseline
		}
	}
	out := make([]Notice, len(order))
	for i, k := range order {
		out[i] = *notices[k]
	}
	return out, nil
}

// channel returns how the host of h is noticed, and through which
// organisation if not directly. Without a hotline or Europol to pass it
// on, the notice goes to Europol (via 0), and fails until one is
// registered.
func (s *Service) channel(ctx context.Context, orgs []org.Organisation, h Hosting) (Channel, int64, error) {
	country := h.Country
	if h.Host != 0 {
		ct, err := s.st.NoticeContact(ctx, h.Host)
		if err != nil {
			return "", 0, err
		}
		switch {
		case ct.HasWebhook:
			return ByWebhook, 0, nil
		case ct.Email != "":
			return ByEmail, 0, nil
		}
		if country == "" {
			country = ct.Org.Country
		}
	}
	var europol int64
	for _, o := range sortedByID(orgs) {
		switch {
		case o.Kind == org.Hotline && o.Country == country && country != "":
			ct, err := s.st.NoticeContact(ctx, o.ID)
			if err != nil {
				return "", 0, err
			}
			if ct.HasWebhook {
				return ByHotline, o.ID, nil
			}
		case o.Kind == org.Europol && europol == 0:
			europol = o.ID
		}
	}
	return ByEuropol, europol, nil
}

func sortedByID(orgs []org.Organisation) []org.Organisation {
	return slices.SortedFunc(slices.Values(orgs), func(a, b org.Organisation) int { return cmp.Compare(a.ID, b.ID) })
}
