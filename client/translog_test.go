package client

import (
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardhq/ward/internal/indicator/translog"
)

// TestTilePath: the client names tiles as the server parses them
// (c2sp.org/tlog-tiles).
func TestTilePath(t *testing.T) {
	for _, n := range []int64{0, 7, 999, 1000, 1234067, 1 << 40} {
		for _, w := range []int{1, 17, 255, 256} {
			want := translog.TilePath(tlog.Tile{H: 8, L: 2, N: n, W: w})
			if got := "tile/2/" + TilePath(n, w); got != want {
				t.Errorf("TilePath(%d, %d) = %q, want %q", n, w, got, want)
			}
		}
	}
	if got := TilePath(1234067, 256); got != "x001/x234/067" {
		t.Errorf("the example of the spec: %q", got)
	}
}
