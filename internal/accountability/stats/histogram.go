package stats

import (
	"math"
	"strconv"
	"time"
)

// Histogram counts durations in logarithmic buckets, so that the days'
// counts of a time (to forward, to removal) add up over any period and a
// median can be read from the sum. Bucket 0 holds durations under a
// minute; bucket b ≥ 1 those from a minute·1.1^(b−1) to a minute·1.1^b
// (excluded), up to bucket HistogramBuckets−1, which holds everything
// from about 6.6 years on. A bucket stands for the geometric middle of
// its bounds (30 s for bucket 0), within 5 % of anything in it; the
// median of a histogram is therefore within 5 % (or 30 s under a minute)
// of the exact median of the durations counted.
//
// The buckets are part of the stored data: changing them means rolling
// every day up again.
type Histogram map[int]int64

// HistogramBuckets is the number of buckets.
const HistogramBuckets = 160

const (
	histBase  = 1.1
	histFirst = time.Minute
)

// bucket is the bucket of d.
func bucket(d time.Duration) int {
	if d < histFirst {
		return 0
	}
	b := 1 + int(math.Floor(math.Log(float64(d)/float64(histFirst))/math.Log(histBase)))
	return min(max(b, 1), HistogramBuckets-1)
}

// value is the duration bucket b stands for.
func value(b int) time.Duration {
	if b <= 0 {
		return histFirst / 2
	}
	return time.Duration(float64(histFirst) * math.Pow(histBase, float64(b-1)+0.5))
}

// Add counts d.
func (h Histogram) Add(d time.Duration) { h[bucket(d)]++ }

// N is how many durations h counts.
func (h Histogram) N() int64 {
	var n int64
	for _, c := range h {
		n += c
	}
	return n
}

// Median is the median of the durations h counts (the mean of the two
// middle ones for an even number), each taken as its bucket's value;
// false if h counts none.
func (h Histogram) Median() (time.Duration, bool) {
	n := h.N()
	if n == 0 {
		return 0, false
	}
	lo, hi := h.rank((n+1)/2), h.rank(n/2+1)
	return (lo + hi) / 2, true
}

// rank is the value of the r-th smallest duration counted (from 1).
func (h Histogram) rank(r int64) time.Duration {
	var seen int64
	for b := range HistogramBuckets {
		if seen += h[b]; seen >= r {
			return value(b)
		}
	}
	return value(HistogramBuckets - 1)
}

// counts are h's buckets as the counts of figure.
func (h Histogram) counts(figure string) []Count {
	var out []Count
	for b := range HistogramBuckets {
		if n := h[b]; n > 0 {
			out = append(out, Count{Figure: figure, Key: strconv.Itoa(b), N: n})
		}
	}
	return out
}

// add counts c, a count of a histogram's figure, in h; a key that is no
// bucket is ignored.
func (h Histogram) add(c Count) {
	if b, err := strconv.Atoi(c.Key); err == nil && b >= 0 && b < HistogramBuckets {
		h[b] += c.N
	}
}
