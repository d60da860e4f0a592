package mirror

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/internal/accountability/witness"
)

// CompareResult is what Compare compared: the mirror's checkpoint and the
// other one.
type CompareResult struct {
	URL    string         `json:"url"`
	Mirror CheckpointInfo `json:"mirror"`
	Other  CheckpointInfo `json:"other"`
}

// Compare checks that the checkpoint served at url (another provider's
// copy, another server of the list) is signed by the log key m trusts and
// consistent with the checkpoint m holds, whichever is larger: a fork
// fails with an error that wraps ErrFork. The proof is read from the
// tiles of c's list and, if url ends in /checkpoint, from the tiles
// beside it.
func Compare(ctx context.Context, c *client.Client, hc *http.Client, m *Mirror, url string) (CompareResult, error) {
	res := CompareResult{URL: url}
	st, err := m.State(ctx)
	if err != nil {
		return res, err
	}
	if st.Checkpoint == "" {
		return res, fmt.Errorf("mirror %s holds no verified checkpoint yet: run ward sync first", m.path)
	}
	mine, err := storedCheckpoint(st)
	if err != nil {
		return res, err
	}
	res.Mirror = checkpointInfo(mine)
	key, err := note.NewVerifier(st.LogKey)
	if err != nil {
		return res, err
	}
	msg, err := httpGet(ctx, hc, url)
	if err != nil {
		return res, fmt.Errorf("reading the checkpoint at %s: %w", url, err)
	}
	other, _, err := witness.OpenCheckpoint(msg, key)
	if err != nil {
		return res, verifyErrorf("the checkpoint at %s: %v", url, err)
	}
	if other.Origin != mine.Origin {
		return res, verifyErrorf("the checkpoint at %s is of log %q, the mirror's of %q", url, other.Origin, mine.Origin)
	}
	res.Other = checkpointInfo(other)
	sources := []tileFunc{serverTiles(c, st.List)}
	if base, ok := strings.CutSuffix(url, "/checkpoint"); ok {
		sources = append(sources, func(ctx context.Context, level int, n int64, width int) ([]byte, error) {
			return httpGet(ctx, hc, base+"/tile/"+strconv.Itoa(level)+"/"+client.TilePath(n, width))
		})
	}
	return res, consistent(ctx, mine, other, sources...)
}

// httpGet returns the body of a 200 answer to GET url; another status is
// a *client.Problem.
func httpGet(ctx context.Context, hc *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &client.Problem{Status: resp.StatusCode, Title: http.StatusText(resp.StatusCode), Detail: strings.TrimSpace(string(b[:min(len(b), 200)]))}
	}
	return b, nil
}
