package bench

import (
	"context"
	"encoding/json"
	"io"

	"github.com/wardhq/ward/internal/matching/hashindex"
)

// MatchOptions says what Match measures: hashindex.RunBench's settings.
type MatchOptions hashindex.BenchConfig

// Match builds the index and measures it (hashindex.RunBench), and writes
// one hashindex.BenchResult line to out.
func Match(ctx context.Context, o MatchOptions, out, progress io.Writer) error {
	r, err := hashindex.RunBench(ctx, hashindex.BenchConfig(o), progress)
	if err != nil {
		return err
	}
	return json.NewEncoder(out).Encode(r)
}
