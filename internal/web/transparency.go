package web

import (
	"cmp"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wardhq/ward/docs"
	"github.com/wardhq/ward/internal/access/auth"
	"github.com/wardhq/ward/internal/access/ratelimit"
	"github.com/wardhq/ward/internal/accountability/stats"
	"github.com/wardhq/ward/internal/core"
)

// The transparency page: the centre's statistics for anyone, without an
// account or scripts. Charts are SVG drawn here, each with a table of the
// same numbers; the definitions are docs/statistics.md, served beside.

// transparencyMaxAge is how long a browser or cache may keep the page:
// the figures change only with a roll-up.
const transparencyMaxAge = time.Minute

type transparencyPage struct {
	publicBase
	// From and To are the form's values as typed; Errors the messages
	// shown next to its fields, by field.
	From, To string
	Errors   map[string]string
	// Message, if set, is shown instead of the figures (a refusal).
	Message string
	S       *stats.Statistics
	// JSON and CSV link to the API's answers of the period.
	JSON, CSV string
	// Updated and FinalThrough are when the figures were counted and the
	// last final day; "" if none.
	Updated, FinalThrough string
	// The figures that need preparing.
	ByProvider, ByCountry, ByType []keyed
	ToForward, ToRemoval          string // the medians, or ""
	Charts                        map[string]chart
}

// keyed is one key's count of a keyed figure.
type keyed struct {
	Key string
	N   int64
}

func (s *Server) transparency(w http.ResponseWriter, r *http.Request, _ *auth.User) error {
	cat := s.language(r)
	q := r.URL.Query()
	p := transparencyPage{publicBase: publicBase{cat.lang}, From: q.Get("from"), To: q.Get("to"), Errors: map[string]string{}}
	render := func(status int) error {
		w.Header().Set("Vary", "Accept-Language")
		if status == http.StatusOK {
			w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(transparencyMaxAge.Seconds())))
		}
		return s.renderPublic(w, status, cat, "public_transparency", p)
	}
	if s.Stats == nil {
		p.Message = cat.t(msgStatsNone)
		return render(http.StatusServiceUnavailable)
	}
	if ok, wait := s.statsLimit.Allow(r.RemoteAddr); !ok {
		err := &core.RetryAfter{Err: ratelimit.ErrLimited, Wait: wait}
		w.Header().Set("Retry-After", strconv.Itoa(err.Seconds()))
		p.Message = cat.t(msgStatsBusy, err.Seconds())
		return render(http.StatusTooManyRequests)
	}
	period, err := stats.ParsePeriod(p.From, p.To, time.Now())
	var pe *stats.PeriodError
	if errors.As(err, &pe) {
		for _, pr := range pe.Problems {
			p.Errors[pr.Param] = cat.t("stats.error."+pr.Code, pr.Arg)
		}
		return render(http.StatusBadRequest)
	}
	if err != nil {
		return s.statsFailure(w, r, cat, p, err)
	}
	st, err := s.Stats.Statistics(r.Context(), period)
	if err != nil {
		return s.statsFailure(w, r, cat, p, err)
	}
	p.From, p.To, p.S = period.From.Format(stats.DateLayout), period.To.Format(stats.DateLayout), &st
	v := url.Values{"from": {p.From}, "to": {p.To}}
	p.JSON = "/v1/public/statistics?" + v.Encode()
	v.Set("format", "csv")
	p.CSV = "/v1/public/statistics?" + v.Encode()
	if !st.UpdatedAt.IsZero() {
		p.Updated = st.UpdatedAt.UTC().Format("2006-01-02 15:04")
	}
	if !st.FinalThrough.IsZero() {
		p.FinalThrough = st.FinalThrough.Format(stats.DateLayout)
	}
	p.ByProvider, p.ByCountry = sortedCounts(st.Reports.ByProvider), sortedCounts(st.Reports.ByCountry)
	for _, t := range stats.Types {
		p.ByType = append(p.ByType, keyed{t, st.Reports.ByType[t]})
	}
	if h, ok := st.Reports.MedianHoursToForward(); ok {
		p.ToForward = cat.t(msgStatsHours, h)
	}
	if h, ok := st.Takedown.MedianHoursToRemoval(); ok {
		p.ToRemoval = cat.t(msgStatsHours, h)
	}
	p.Charts = map[string]chart{}
	for _, c := range []struct {
		id string
		v  func(stats.Month) int64
	}{
		{"received", func(m stats.Month) int64 { return m.Received }},
		{"forwarded", func(m stats.Month) int64 { return m.Forwarded }},
		{"added", func(m stats.Month) int64 { return m.Added }},
		{"urls", func(m stats.Month) int64 { return m.URLsReported }},
		{"removed", func(m stats.Month) int64 { return m.Removed }},
	} {
		var bars []barValue
		for _, m := range st.Months {
			bars = append(bars, barValue{Label: m.Month.Format("2006-01"), N: c.v(m)})
		}
		p.Charts[c.id] = monthChart("chart-"+c.id, cat.t("stats.chart."+c.id), bars, cat)
	}
	return render(http.StatusOK)
}

// statsFailure shows err on the page: the service's words for a refusal,
// a general message (and a log entry) for an internal failure.
func (s *Server) statsFailure(w http.ResponseWriter, r *http.Request, cat *catalogue, p transparencyPage, err error) error {
	status := core.HTTPStatus(err)
	p.Message = capitalise(err.Error())
	if core.Kind(err) == nil {
		s.Logger.Error("public page failed", "method", r.Method, "path", r.URL.Path, "err", err)
		p.Message = cat.t(msgStatsInternal)
	}
	w.Header().Set("Vary", "Accept-Language")
	return s.renderPublic(w, status, cat, "public_transparency", p)
}

// definitions serves docs/statistics.md, the definition of every figure,
// as text.
func (s *Server) definitions(w http.ResponseWriter, _ *http.Request, _ *auth.User) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, err := w.Write(docs.Statistics)
	return err
}

// sortedCounts lists m by count, largest first, then by key.
func sortedCounts(m map[string]int64) []keyed {
	var out []keyed
	for k, n := range m {
		out = append(out, keyed{k, n})
	}
	slices.SortFunc(out, func(a, b keyed) int { return cmp.Or(cmp.Compare(b.N, a.N), cmp.Compare(a.Key, b.Key)) })
	return out
}

// chart is a bar chart of counts per month, drawn as SVG.
type chart struct {
	ID, Title     string
	Width, Height int
	// Base is the y of the axis, which the bars stand on; LabelY that of
	// the month labels under it.
	Base, LabelY float64
	Bars         []bar
	Ticks        []tick // the y axis's gridlines
}

type barValue struct {
	Label string
	N     int64
}

type bar struct {
	barValue
	X, Y, W, H float64
	// Text is N formatted; LabelX the x of the label under the bar, if
	// the bar has one shown (not every bar has, when there are many).
	Text      string
	LabelX    float64
	ShowLabel bool
}

type tick struct {
	Y    float64
	Text string
}

// The geometry of a chart, in the units of its viewBox.
const (
	chartWidth  = 720
	chartHeight = 240
	chartLeft   = 56 // room for the y axis's numbers
	chartTop    = 12
	chartBottom = 28 // room for the month labels
)

// monthChart draws bars for counts, in order, with a scale from zero to
// a round number at least their largest.
func monthChart(id, title string, counts []barValue, cat *catalogue) chart {
	c := chart{ID: id, Title: title, Width: chartWidth, Height: chartHeight, Base: chartHeight - chartBottom, LabelY: chartHeight - chartBottom + 18}
	var most int64
	for _, v := range counts {
		most = max(most, v.N)
	}
	top := niceCeil(most)
	plot := c.Base - chartTop
	for i := range 5 {
		v := top * int64(i) / 4
		c.Ticks = append(c.Ticks, tick{Y: c.Base - plot*float64(v)/float64(top), Text: formatCount(v, cat)})
	}
	if len(counts) == 0 {
		return c
	}
	slot := float64(chartWidth-chartLeft) / float64(len(counts))
	// At most about 12 month labels fit under the chart.
	every := (len(counts) + 11) / 12
	for i, v := range counts {
		h := plot * float64(v.N) / float64(top)
		b := bar{barValue: v, X: chartLeft + float64(i)*slot + slot*0.1, W: slot * 0.8, H: h, Y: c.Base - h,
			Text: formatCount(v.N, cat), LabelX: chartLeft + float64(i)*slot + slot/2, ShowLabel: i%every == 0}
		c.Bars = append(c.Bars, b)
	}
	return c
}

// niceCeil is the smallest of 4, 8, 20, 40, 80, 200, ... (a scale of four
// steps of 1, 2 or 5 times a power of ten) at least n.
func niceCeil(n int64) int64 {
	for step := int64(1); ; step *= 10 {
		for _, m := range []int64{1, 2, 5} {
			if 4*m*step >= n {
				return 4 * m * step
			}
		}
	}
}

// formatCount writes n with the catalogue's thousands separator.
func formatCount(n int64, cat *catalogue) string {
	s := strconv.FormatInt(n, 10)
	if n < 0 || len(s) <= 3 {
		return s
	}
	sep := cat.t(msgStatsThousands)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// statsFuncs are the transparency page's functions of the public
// templates.
func statsFuncs(cat *catalogue) template.FuncMap {
	return template.FuncMap{"count": func(n int64) string { return formatCount(n, cat) }}
}
