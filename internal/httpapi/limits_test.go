package httpapi_test

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
)

// TestFieldErrorsCapped: however many fields are invalid, an answer lists
// the first 100 and counts them all, for the API's own checks and for a
// report's.
func TestFieldErrorsCapped(t *testing.T) {
	e := start(t, storetest.OpenSQLite(t), true)
	const n = 290000
	for _, tc := range []struct {
		name, path, body string
		count            int
	}{
		// Every item is invalid, and there are too many of them.
		{"match", "/v1/match", `{"items":[` + strings.Repeat(`{},`, n-1) + `{}]}`, n + 1},
		{"report", "/v1/reports", `{"items":[` + strings.Repeat(`1,`, n-1) + `1]}`, n},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := e.send(t, http.MethodPost, tc.path, e.keys["provider"], strings.NewReader(tc.body))
			p := a.problem(t, http.StatusBadRequest)
			if len(p.Errors) != 100 || p.ErrorCount < tc.count || len(a.body) > 64<<10 {
				t.Errorf("%d errors listed, error_count %d (want 100 of at least %d), body of %d bytes", len(p.Errors), p.ErrorCount, tc.count, len(a.body))
			}
		})
	}
}

// TestFeedHidesNeverActive: the withdrawal of an indicator that never
// became active is not shown to a provider (its value was never theirs to
// see), while the feed still advances past it to the head; a hotline sees
// it.
func TestFeedHidesNeverActive(t *testing.T) {
	engines(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		ctx := context.Background()
		e := start(t, open(t), true)
		r := rand.New(rand.NewPCG(9, 9))
		pending, active := randomPDQ(r), randomPDQ(r)
		de, nl := e.client(t, "hotline-de"), e.client(t, "hotline-nl")
		res, err := de.Submit(ctx, client.SubmitRequest{List: "known", Items: []client.Submission{
			{Type: client.PDQ, Value: pending, Category: "A1"}, {Type: client.PDQ, Value: active, Category: "A1"}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := nl.Submit(ctx, client.SubmitRequest{List: "known", Items: []client.Submission{{Type: client.PDQ, Value: active, Category: "A1"}}}); err != nil {
			t.Fatal(err)
		}
		for _, id := range []int64{res.Results[0].Indicator, res.Results[1].Indicator} {
			if _, err := de.Withdraw(ctx, id, "wrongly submitted"); err != nil {
				t.Fatal(err)
			}
		}
		prov := feed(t, e.client(t, "provider"), 1)
		if got := kinds(prov); got != "activate withdraw" {
			t.Errorf("provider's feed: %q, want \"activate withdraw\"", got)
		}
		for _, c := range prov {
			if c.Value == pending {
				t.Errorf("provider shown the never-active hash in %+v", c)
			}
		}
		if got := kinds(feed(t, de, 2)); got != "add add attest activate withdraw withdraw" {
			t.Errorf("hotline's feed: %q", got)
		}
	})
}

// TestLongKeyAnswerSmall: 150 refused strings under a key of megabytes
// are answered with a small 400 (the pointers used to be kept and sent
// whole: 150 times the key).
func TestLongKeyAnswerSmall(t *testing.T) {
	e := start(t, storetest.OpenSQLite(t), true)
	body := `{"` + strings.Repeat("a", 1<<20) + `":[` + strings.Repeat(`"\u0000",`, 149) + `"\u0000"]}`
	a := e.send(t, http.MethodPost, "/v1/match", e.keys["provider"], strings.NewReader(body))
	p := a.problem(t, http.StatusBadRequest)
	if p.ErrorCount != 150 || len(a.body) > 64<<10 {
		t.Errorf("error_count %d (want 150), body of %d bytes", p.ErrorCount, len(a.body))
	}
}
