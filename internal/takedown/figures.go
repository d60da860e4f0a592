package takedown

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/wardhq/ward/internal/core"
)

// FiguresDays is the period of the figures when none is asked for: the
// last 365 days, today included (the API and the console alike).
const FiguresDays = 365

// Figures returns the takedown figures of the cases noticed (state
// noticed or removed) that were reported from from to to (excluded),
// overall and per host (the reported URL's registered host; Host 0 for
// URLs of none), hosts in order of ID. Time to removal runs from the
// report to the recheck that verified the last illegal item gone. The
// median is the middle time to removal of the removed cases (the mean of
// the two middle ones for an even number); the 90th percentile is by
// nearest rank (the ⌈0.9·n⌉-th smallest); both 0 without removed cases.
// The shares within 1, 3 and 7 days are of all the noticed cases, those
// not removed counting as not removed in time, as INHOPE counts them.
func (s *Service) Figures(ctx context.Context, from, to time.Time) (Report, error) {
	if !from.Before(to) {
		return Report{}, core.Errorf(core.ErrInvalid, "the period must end after it starts")
	}
	cs, err := s.st.FigureCases(ctx, from, to)
	if err != nil {
		return Report{}, err
	}
	rep := Report{From: from, To: to, Figures: figures(cs)}
	byHost := map[int64][]FigureCase{}
	for _, c := range cs {
		byHost[c.Host] = append(byHost[c.Host], c)
	}
	for h, hcs := range byHost {
		rep.Hosts = append(rep.Hosts, HostFigures{Host: h, Name: hcs[0].HostName, Country: hcs[0].HostCountry, Figures: figures(hcs)})
	}
	slices.SortFunc(rep.Hosts, func(a, b HostFigures) int { return cmp.Compare(a.Host, b.Host) })
	return rep, nil
}

func figures(cs []FigureCase) Figures {
	var (
		f      Figures
		ttr    []float64
		within [3]int
	)
	days := [3]time.Duration{24 * time.Hour, 3 * 24 * time.Hour, 7 * 24 * time.Hour}
	for _, c := range cs {
		f.Cases++
		f.Notices += c.Sends
		if c.RemovedAt.IsZero() {
			continue
		}
		f.Removed++
		d := c.RemovedAt.Sub(c.ReceivedAt)
		ttr = append(ttr, d.Seconds())
		for i, lim := range days {
			if d <= lim {
				within[i]++
			}
		}
	}
	f.Open = f.Cases - f.Removed
	if n := len(ttr); n > 0 {
		slices.Sort(ttr)
		f.MedianS = ttr[n/2]
		if n%2 == 0 {
			f.MedianS = (ttr[n/2-1] + ttr[n/2]) / 2
		}
		f.P90S = ttr[(9*n+9)/10-1] // ⌈0.9·n⌉ - 1
	}
	if f.Cases > 0 {
		f.Within1d = float64(within[0]) / float64(f.Cases)
		f.Within3d = float64(within[1]) / float64(f.Cases)
		f.Within7d = float64(within[2]) / float64(f.Cases)
	}
	return f
}
