package mirror

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/internal/accountability/witness"
	"github.com/wardhq/ward/internal/indicator/translog"
)

// ErrVerify is wrapped by the error of every check of a list's log that
// failed: a sync that returns it applied nothing.
var ErrVerify = errors.New("verification failed")

// ErrFork is wrapped, with ErrVerify, by the error of two checkpoints of
// one log that cannot both be true: the log is forked or was rewritten.
var ErrFork = errors.New("the log is forked")

func verifyErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrVerify}, args...)...)
}

func forkErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: %w: "+format, append([]any{ErrVerify, ErrFork}, args...)...)
}

// logEntry is an entry of a list's log and its index in the log.
type logEntry struct {
	Index int64
	translog.Entry
}

// tileFunc fetches a tile of a log: level -1 for an entry bundle.
type tileFunc func(ctx context.Context, level int, n int64, width int) ([]byte, error)

// serverTiles fetches the tiles and entry bundles of list from c.
func serverTiles(c *client.Client, list string) tileFunc {
	return func(ctx context.Context, level int, n int64, width int) ([]byte, error) {
		if level < 0 {
			return c.LogEntries(ctx, list, n, width)
		}
		return c.LogTile(ctx, list, level, n, width)
	}
}

// fetchConcurrency is how many tiles are fetched at once.
const fetchConcurrency = 8

// tileReader is the tlog.TileReader of a log's tiles, fetched by fetch.
// tlog.TileHashReader authenticates what it returns against a tree; it
// keeps the tiles above level 0 and the partial ones, which every read
// of a tree needs again, and a partial tile no longer served (the log
// has filled it since) is cut from the full one.
type tileReader struct {
	ctx   context.Context
	fetch tileFunc
	mu    sync.Mutex
	cache map[tlog.Tile][]byte
}

func newTileReader(ctx context.Context, fetch tileFunc) *tileReader {
	return &tileReader{ctx: ctx, fetch: fetch, cache: map[tlog.Tile][]byte{}}
}

func (r *tileReader) Height() int { return 8 }

func (r *tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

func (r *tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	data := make([][]byte, len(tiles))
	err := forEach(len(tiles), func(i int) error {
		t := tiles[i]
		r.mu.Lock()
		b, ok := r.cache[t]
		r.mu.Unlock()
		if ok {
			data[i] = b
			return nil
		}
		b, err := r.fetchTile(t)
		if err != nil {
			return err
		}
		if t.L > 0 || t.W < 256 {
			r.mu.Lock()
			r.cache[t] = b
			r.mu.Unlock()
		}
		data[i] = b
		return nil
	})
	return data, err
}

func (r *tileReader) fetchTile(t tlog.Tile) ([]byte, error) {
	b, err := r.fetch(r.ctx, t.L, t.N, t.W)
	var p *client.Problem
	if t.W < 256 && errors.As(err, &p) && p.Status == 404 {
		if full, ferr := r.fetch(r.ctx, t.L, t.N, 256); ferr == nil && len(full) == 256*tlog.HashSize {
			b, err = full[:t.W*tlog.HashSize], nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("reading tile %s of the log: %w", tilePath(t), err)
	}
	if len(b) != t.W*tlog.HashSize {
		return nil, verifyErrorf("tile %s of the log has %d bytes, not %d", tilePath(t), len(b), t.W*tlog.HashSize)
	}
	return b, nil
}

func tilePath(t tlog.Tile) string {
	if t.L < 0 {
		return "entries/" + client.TilePath(t.N, t.W)
	}
	return strconv.Itoa(t.L) + "/" + client.TilePath(t.N, t.W)
}

// forEach calls fn(0) ... fn(n-1), fetchConcurrency at a time, and
// returns the first error.
func forEach(n int, fn func(int) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  int
	)
	for range min(n, fetchConcurrency) {
		wg.Go(func() {
			for {
				mu.Lock()
				i := next
				next++
				stop := first != nil || i >= n
				mu.Unlock()
				if stop {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return first
}

// hashes returns the leaf hashes start..end-1 of tree, authenticated by
// tlog.TileHashReader against the tree's root.
func hashes(r *tileReader, tree tlog.Tree, start, end int64) ([]tlog.Hash, error) {
	idx := make([]int64, 0, end-start)
	for i := start; i < end; i++ {
		idx = append(idx, tlog.StoredHashIndex(0, i))
	}
	hs, err := tlog.TileHashReader(tree, r).ReadHashes(idx)
	if err != nil {
		if errors.Is(err, ErrVerify) {
			return nil, err
		}
		if strings.Contains(err.Error(), "inconsistent") {
			return nil, verifyErrorf("the log's tiles do not hash to the root of its checkpoint of size %d (%v)", tree.N, err)
		}
		return nil, err
	}
	return hs, nil
}

// bundleBatch is how many entry bundles are read and checked at once.
const bundleBatch = 32

// entryReader reads the entries of a log from start to the size of tree,
// each checked to hash into the tree, batch by batch.
type entryReader struct {
	ctx     context.Context
	tiles   *tileReader
	fetch   tileFunc
	tree    tlog.Tree
	next    int64 // index of the first entry not yet read
	pending []logEntry
}

// Next returns the next entry, or false at the end of the tree.
func (r *entryReader) Next() (logEntry, bool, error) {
	if len(r.pending) == 0 {
		if r.next >= r.tree.N {
			return logEntry{}, false, nil
		}
		if err := r.read(); err != nil {
			return logEntry{}, false, err
		}
	}
	e := r.pending[0]
	r.pending = r.pending[1:]
	return e, true, nil
}

// read reads the bundles of up to bundleBatch*256 entries from r.next.
func (r *entryReader) read() error {
	start := r.next
	end := min(r.tree.N, (start/256+bundleBatch)*256)
	first := start / 256
	bundles := make([][]byte, (end-1)/256-first+1)
	err := forEach(len(bundles), func(i int) error {
		n := first + int64(i)
		w := int(min(256, r.tree.N-n*256))
		b, err := r.fetch(r.ctx, -1, n, w)
		var p *client.Problem
		if w < 256 && errors.As(err, &p) && p.Status == 404 {
			b, err = r.fetch(r.ctx, -1, n, 256)
		}
		if err != nil {
			return fmt.Errorf("reading entry bundle %s of the log: %w", client.TilePath(n, w), err)
		}
		bundles[i] = b
		return nil
	})
	if err != nil {
		return err
	}
	leaves, err := hashes(r.tiles, r.tree, start, end)
	if err != nil {
		return err
	}
	r.pending = r.pending[:0]
	for i, b := range bundles {
		for j := int64(0); j < 256; j++ {
			index := (first+int64(i))*256 + j
			if index >= end {
				break
			}
			if len(b) < 2 || len(b) < 2+int(binary.BigEndian.Uint16(b)) {
				return verifyErrorf("log entry %d: entry bundle %s ends before it", index, client.TilePath(first+int64(i), 256))
			}
			l := int(binary.BigEndian.Uint16(b))
			data := b[2 : 2+l]
			b = b[2+l:]
			if index < start {
				continue
			}
			if tlog.RecordHash(data) != leaves[index-start] {
				return verifyErrorf("log entry %d: the entry the server sent (%q) does not hash into the log's tree (leaf hash %s, the tree has %s)",
					index, data, tlog.RecordHash(data), leaves[index-start])
			}
			e, err := translog.ParseEntry(data)
			if err != nil {
				return verifyErrorf("log entry %d: %v", index, err)
			}
			r.pending = append(r.pending, logEntry{index, e})
		}
	}
	r.next = end
	return nil
}

// consistent checks that the checkpoints a and b, of one log, are views
// of one history: equal roots at one size, else a consistency proof from
// the smaller to the larger, computed from the larger one's tiles read by
// each of sources in turn (tlog.TileHashReader authenticates them, so a
// source that lies is only a source that fails).
func consistent(ctx context.Context, a, b witness.Checkpoint, sources ...tileFunc) error {
	if a.N > b.N {
		a, b = b, a
	}
	if a.N == b.N {
		if a.Hash != b.Hash {
			return forkErrorf("two checkpoints of size %d with different roots (%s and %s)", a.N, a.Hash, b.Hash)
		}
		return nil
	}
	if a.N == 0 {
		return nil
	}
	var errs []error
	inconsistent := false
	for _, src := range sources {
		proof, err := tlog.ProveTree(b.N, a.N, tlog.TileHashReader(b.Tree, newTileReader(ctx, src)))
		if err != nil {
			inconsistent = inconsistent || strings.Contains(err.Error(), "inconsistent")
			errs = append(errs, err)
			continue
		}
		if tlog.CheckTree(proof, b.N, b.Hash, a.N, a.Hash) != nil {
			return forkErrorf("the checkpoint of size %d is not an extension of the one of size %d (root %s): the consistency proof from the log's tiles does not verify",
				b.N, a.N, a.Hash)
		}
		return nil
	}
	if inconsistent {
		return verifyErrorf("the log's tiles do not hash to the root of its checkpoint of size %d, so no consistency proof from size %d can be read from them", b.N, a.N)
	}
	return fmt.Errorf("reading a consistency proof from size %d to %d from the log's tiles: %w", a.N, b.N, errors.Join(errs...))
}
