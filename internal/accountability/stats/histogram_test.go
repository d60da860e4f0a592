package stats

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestBuckets: the buckets are contiguous and about 10 % wide, and every
// duration's bucket value is within 5 % of it (30 s under a minute).
func TestBuckets(t *testing.T) {
	for _, d := range []time.Duration{0, time.Second, 59 * time.Second, time.Minute, 61 * time.Second, 90 * time.Minute,
		37*time.Hour + 30*time.Minute, 72 * time.Hour, 400 * 24 * time.Hour, 6 * 365 * 24 * time.Hour} {
		b := bucket(d)
		got := value(b)
		if d < time.Minute {
			if b != 0 || got != 30*time.Second {
				t.Errorf("%v: bucket %d value %v, want bucket 0, 30s", d, b, got)
			}
			continue
		}
		if rel := math.Abs(float64(got-d)) / float64(d); rel > 0.05 {
			t.Errorf("%v: bucket %d stands for %v, %.1f %% off", d, b, got, 100*rel)
		}
	}
	// Each bucket's lower bound is 1.1 times the one before.
	for b := 2; b < HistogramBuckets; b++ {
		lo := time.Duration(float64(time.Minute) * math.Pow(1.1, float64(b-1)))
		if bucket(lo+time.Millisecond) != b || bucket(lo-time.Millisecond) != b-1 {
			t.Fatalf("bucket %d does not start at %v: %d, %d", b, lo, bucket(lo-time.Millisecond), bucket(lo+time.Millisecond))
		}
	}
	if b := bucket(100 * 365 * 24 * time.Hour); b != HistogramBuckets-1 {
		t.Errorf("a century is in bucket %d, want the last, %d", b, HistogramBuckets-1)
	}
}

// TestMedian: the histogram's median is within 5 % of the exact median,
// for odd and even counts, and after histograms are merged as the days
// of a period are.
func TestMedian(t *testing.T) {
	if _, ok := (Histogram{}).Median(); ok {
		t.Error("an empty histogram has a median")
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 3, 10, 101, 1000, 5000} {
		var ds []time.Duration
		days := []Histogram{{}, {}, {}}
		for i := range n {
			// Log-normal-ish: from minutes to weeks.
			d := time.Duration(math.Exp(r.NormFloat64()*2+10)) * time.Second
			ds = append(ds, d)
			days[i%3].Add(d)
		}
		merged := Histogram{}
		for _, day := range days {
			for _, c := range day.counts("x") {
				merged.add(c)
			}
		}
		slices.Sort(ds)
		exact := ds[n/2]
		if n%2 == 0 {
			exact = (ds[n/2-1] + ds[n/2]) / 2
		}
		got, ok := merged.Median()
		if !ok || merged.N() != int64(n) {
			t.Fatalf("n=%d: median %v %v, N %d", n, got, ok, merged.N())
		}
		if rel := math.Abs(float64(got-exact)) / float64(exact); rel > 0.05 {
			t.Errorf("n=%d: median %v, exact %v: %.1f %% off", n, got, exact, 100*rel)
		}
	}
}

// TestHistogramKeys: keys that are no bucket are ignored, not counted.
func TestHistogramKeys(t *testing.T) {
	h := Histogram{}
	for _, k := range []string{"", "x", "-1", "160", "3"} {
		h.add(Count{Figure: "f", Key: k, N: 2})
	}
	if h.N() != 2 || h[3] != 2 {
		t.Errorf("histogram %v", h)
	}
}
