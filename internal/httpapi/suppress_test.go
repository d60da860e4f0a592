package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"math/rand/v2"
	"testing"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/internal/hashing/filehash"
	"github.com/wardhq/ward/internal/hashing/pdq"
	"github.com/wardhq/ward/internal/hashing/synth"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/matching/matcher"
	"github.com/wardhq/ward/internal/platform/store"
)

// flipBits returns h with its first n bits inverted.
func flipBits(h pdq.Hash, n int) pdq.Hash {
	for k := range n {
		h[k/64] ^= 1 << (k % 64)
	}
	return h
}

// describeResult is an item result as "list:indicator@distance ... |
// suppressed by list:indicator@distance ...".
func describeResult(ms []client.Match, sup []client.Suppression) string {
	s := ""
	for _, m := range ms {
		s += fmt.Sprintf("%s:%d@%d ", m.List, m.Indicator, m.Distance)
	}
	s += "|"
	for _, x := range sup {
		s += fmt.Sprintf(" %s:%d@%d", x.List, x.Indicator, x.Distance)
	}
	return s
}

// TestSuppression: a suppress list's indicators remove the matches of
// the same content from /v1/match and /v1/hash-match and say so; without
// a threshold each list's own applies, and a changed one takes effect at
// the next poll.
func TestSuppression(t *testing.T) {
	engines(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		ctx := context.Background()
		e := start(t, open(t), true)
		inds := indicator.NewService(e.db)
		if _, err := inds.CreateList(ctx, indicator.List{Name: "stock", Kind: indicator.SuppressList,
			Policy: indicator.DefaultPolicy, MaxDistance: 31, Threshold: 8}); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, synth.Image(300, 200, 7)); err != nil {
			t.Fatal(err)
		}
		img := buf.Bytes()
		hr := filehash.Bytes(img, filehash.Options{})
		known := pdq.Hash{rand.New(rand.NewPCG(3, 3)).Uint64(), 1, 2, 3}
		stock := flipBits(known, 20)
		submit := func(list string, subs ...client.Submission) []client.SubmitResult {
			t.Helper()
			var res *client.SubmitResponse
			for _, c := range []string{"hotline-de", "hotline-nl"} {
				var err error
				if res, err = e.client(t, c).Submit(ctx, client.SubmitRequest{List: list, Items: subs}); err != nil {
					t.Fatal(err)
				}
			}
			return res.Results
		}
		k := submit("known",
			client.Submission{Type: "pdq", Value: known.String(), Category: "A1"},
			client.Submission{Type: "pdq", Value: hr.PDQ.String(), Category: "A1"})
		s := submit("stock",
			client.Submission{Type: "pdq", Value: stock.String(), Category: "baseline"},
			client.Submission{Type: "sha256", Value: hr.SHA256, Category: "baseline"})
		e.poll(t)
		kn, img1, st, stSHA := k[0].Indicator, k[1].Indicator, s[0].Indicator, s[1].Indicator

		prov := e.client(t, "provider")
		lists, err := prov.Lists(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, l := range lists {
			got = append(got, fmt.Sprintf("%s %s %d/%d", l.Name, l.Kind, l.Threshold, l.MaxDistance))
		}
		if want := "[known match 31/31 stock suppress 8/31 victim-reported unverified 31/31]"; fmt.Sprint(got) != want {
			t.Errorf("lists %v, want %s", got, want)
		}

		n := func(v int) *int { return &v }
		for _, tt := range []struct {
			name      string
			req       client.MatchRequest
			threshold int
			want      []string
		}{
			{"near the known image, far from the stock one",
				client.MatchRequest{Items: []client.Item{{PDQ: flipBits(known, 5).String()}}}, 31,
				[]string{fmt.Sprintf("known:%d@5 |", kn)}},
			{"within the stock list's threshold",
				client.MatchRequest{Items: []client.Item{{PDQ: flipBits(known, 17).String()}}}, 31,
				[]string{fmt.Sprintf("| stock:%d@3", st)}},
			{"only the known list named",
				client.MatchRequest{Items: []client.Item{{PDQ: flipBits(known, 17).String()}}, Lists: []string{"known"}}, 31,
				[]string{fmt.Sprintf("| stock:%d@3", st)}},
			{"an explicit threshold, beyond the stock list's",
				client.MatchRequest{Items: []client.Item{{PDQ: flipBits(known, 11).String()}}, Threshold: n(12)}, 12,
				[]string{fmt.Sprintf("known:%d@11 |", kn)}},
			{"one item with a file's hashes: its SHA-256 suppresses its PDQ match",
				client.MatchRequest{Items: []client.Item{{PDQ: hr.PDQ.String(), SHA256: hr.SHA256}, {PDQ: hr.PDQ.String()}}}, 31,
				[]string{fmt.Sprintf("| stock:%d@0", stSHA), fmt.Sprintf("known:%d@0 |", img1)}},
		} {
			resp, err := prov.Match(ctx, tt.req)
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			var got []string
			for _, r := range resp.Results {
				got = append(got, describeResult(r.Matches, r.SuppressedBy))
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) || resp.Threshold != tt.threshold {
				t.Errorf("%s: %q at threshold %d, want %q at %d", tt.name, got, resp.Threshold, tt.want, tt.threshold)
			}
		}

		// The uploaded image is the stock one by its SHA-256.
		hm, err := prov.HashMatch(ctx, img, client.HashMatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := describeResult(hm.Matches, hm.SuppressedBy), fmt.Sprintf("| stock:%d@0", stSHA); got != want || hm.Threshold != 31 {
			t.Errorf("hash-match: %q at %d, want %q at 31", got, hm.Threshold, want)
		}

		// A lower default threshold of the known list applies once polled.
		if _, err := inds.SetList(ctx, "known", indicator.ListChange{Threshold: n(4)}); err != nil {
			t.Fatal(err)
		}
		e.poll(t)
		resp, err := prov.Match(ctx, client.MatchRequest{Items: []client.Item{{PDQ: flipBits(known, 5).String()}}})
		if err != nil || len(resp.Results[0].Matches) != 0 || resp.Threshold != 4 {
			t.Errorf("after lowering the threshold to 4: %+v, %v", resp, err)
		}
		resp, err = prov.Match(ctx, client.MatchRequest{Items: []client.Item{{PDQ: flipBits(known, 5).String()}}, Threshold: n(5)})
		if err != nil || len(resp.Results[0].Matches) != 1 || resp.Threshold != 5 {
			t.Errorf("an explicit threshold 5 after lowering the default: %+v, %v", resp, err)
		}

		// A node that starts now loads the lists with their kinds.
		m := matcher.New()
		if err := matcher.NewFollower(m, inds).Load(ctx); err != nil {
			t.Fatal(err)
		}
		res, err := m.MatchContent(matcher.Query{Threshold: matcher.ListThresholds}, nil, matcher.Item{Signal: indicator.PDQ, PDQ: flipBits(known, 17)})
		if err != nil || len(res.Matches) != 0 || len(res.SuppressedBy) != 1 || res.SuppressedBy[0].Indicator != st {
			t.Errorf("after a load: %+v, %v; want suppressed by %d", res, err, st)
		}
		res, err = m.MatchContent(matcher.Query{Threshold: matcher.ListThresholds}, nil, matcher.Item{Signal: indicator.PDQ, PDQ: flipBits(known, 4)})
		if err != nil || len(res.Matches) != 1 {
			t.Errorf("within the known list's new threshold after a load: %+v, %v", res, err)
		}
	})
}
