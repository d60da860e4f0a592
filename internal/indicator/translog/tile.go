package translog

import (
	"encoding/binary"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardhq/ward/internal/core"
)

// Height is the height of the log's tiles, as C2SP tlog-tiles fixes it: a
// full tile holds 256 hashes, a full entry bundle 256 entries.
const Height = 8

// TileWidth is the width of a full tile or entry bundle.
const TileWidth = 1 << Height

// MaxEntry is the largest entry an entry bundle can hold, in bytes.
const MaxEntry = 1<<16 - 1

// ParseTilePath reads the path of a tile below the log's prefix as C2SP
// tlog-tiles writes it, and only so: tile/L/N for the tile of hashes N
// of level L, tile/entries/N for entry bundle N (the result's L is then
// -1, as package tlog numbers data tiles), each followed by .p/W for a
// partial one of width W (1 to 255). N is written in groups of three
// digits, all but the last prefixed with x: 1234067 is x001/x234/067.
func ParseTilePath(path string) (tlog.Tile, error) {
	bad := core.Errorf(core.ErrInvalid, "malformed tile path %q: want tile/L/N or tile/entries/N, N in groups of three digits (x001/234), optionally .p/W", clipString(path))
	rest, ok := strings.CutPrefix(path, "tile/")
	if !ok {
		return tlog.Tile{}, bad
	}
	// The sumdb's spelling has the height too, and "data" for entries.
	if strings.HasPrefix(rest, "data/") {
		return tlog.Tile{}, bad
	}
	if n, ok := strings.CutPrefix(rest, "entries/"); ok {
		rest = "data/" + n
	}
	t, err := tlog.ParseTilePath("tile/8/" + rest)
	// ParseTilePath formats what it read and compares, so only the
	// canonical spelling passes; N that overflowed fails that too.
	if err != nil || t.N < 0 || t.L > 63 {
		return tlog.Tile{}, bad
	}
	return t, nil
}

// TilePath returns the path of tile t below the log's prefix, as
// ParseTilePath reads it. t.H must be Height.
func TilePath(t tlog.Tile) string {
	p := strings.TrimPrefix(t.Path(), "tile/8/")
	if t.L == -1 {
		p = "entries/" + strings.TrimPrefix(p, "data/")
	}
	return "tile/" + p
}

// InTree reports whether tile t (an entry bundle if t.L is -1) is part of
// a tree of size entries: whether every hash or entry it holds exists.
func InTree(t tlog.Tile, size int64) bool {
	level := max(t.L, 0) * Height
	if t.N < 0 || t.W < 1 || t.W > TileWidth || level >= 63 {
		return false
	}
	n := size >> level // hashes of that level in the tree
	return t.N <= n>>Height && t.N<<Height+int64(t.W) <= n
}

// AppendBundle appends entry to an entry bundle: its length as a
// big-endian uint16, then its bytes. An entry is at most MaxEntry bytes.
func AppendBundle(bundle, entry []byte) []byte {
	bundle = binary.BigEndian.AppendUint16(bundle, uint16(len(entry)))
	return append(bundle, entry...)
}

// ParseBundle splits an entry bundle into its entries.
func ParseBundle(bundle []byte) ([][]byte, error) {
	var entries [][]byte
	for len(bundle) > 0 {
		if len(bundle) < 2 {
			return nil, core.Errorf(core.ErrInvalid, "entry bundle: a length cut short after %d entries", len(entries))
		}
		n := int(binary.BigEndian.Uint16(bundle))
		if len(bundle) < 2+n {
			return nil, core.Errorf(core.ErrInvalid, "entry bundle: entry %d is cut short", len(entries))
		}
		entries = append(entries, bundle[2:2+n])
		bundle = bundle[2+n:]
	}
	return entries, nil
}

func clipString(s string) string {
	if len(s) > 200 {
		return s[:200]
	}
	return s
}
