package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// The transparency log of each list (c2sp.org/tlog-tiles under
// /v1/lists/{list}/log/): its checkpoint, key and tiles are public; its
// entry bundles hold the list's hashes and need a key.

// LogCheckpoint returns the latest checkpoint of list's log: a signed
// note (c2sp.org/tlog-checkpoint) signed by the log's key and cosigned by
// its witnesses.
func (c *Client) LogCheckpoint(ctx context.Context, list string) ([]byte, error) {
	return c.logGet(ctx, list, "checkpoint")
}

// LogKey returns the note verifier key (NAME+HASH+KEY) of list's log, as
// the server states it: trust it only as far as the server.
func (c *Client) LogKey(ctx context.Context, list string) (string, error) {
	b, err := c.logGet(ctx, list, "key")
	return strings.TrimSpace(string(b)), err
}

// LogTile returns the tile of list's log at level, index n and width
// (1 to 256, 256 for a full tile): its hashes, 32 bytes each.
func (c *Client) LogTile(ctx context.Context, list string, level int, n int64, width int) ([]byte, error) {
	return c.logGet(ctx, list, fmt.Sprintf("tile/%d/%s", level, TilePath(n, width)))
}

// LogEntries returns the entry bundle of list's log at index n and width
// (1 to 256): its entries, each after its big-endian uint16 length.
func (c *Client) LogEntries(ctx context.Context, list string, n int64, width int) ([]byte, error) {
	return c.logGet(ctx, list, "tile/entries/"+TilePath(n, width))
}

func (c *Client) logGet(ctx context.Context, list, path string) ([]byte, error) {
	var out []byte
	h := http.Header{"Accept": {"*/*"}}
	err := c.send(ctx, http.MethodGet, "/v1/lists/"+url.PathEscape(list)+"/log/"+path, nil, h, nil, "", &out)
	return out, err
}

// TilePath encodes a tile's index n and width as c2sp.org/tlog-tiles
// does: n in 3-digit elements, all but the last with an x (1234067 is
// x001/x234/067), and ".p/W" for a partial tile.
func TilePath(n int64, width int) string {
	s := fmt.Sprintf("%03d", n%1000)
	for n >= 1000 {
		n /= 1000
		s = fmt.Sprintf("x%03d/%s", n%1000, s)
	}
	if width > 0 && width < 256 {
		s += fmt.Sprintf(".p/%d", width)
	}
	return s
}
