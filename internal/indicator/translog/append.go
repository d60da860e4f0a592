package translog

import (
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
)

// Append computes what appending entries to a tree of size n stores: the
// new stored hashes, which go at indexes tlog.StoredHashCount(n),
// tlog.StoredHashCount(n)+1, ... in order, and the hash of the tree of
// size n+len(entries). stored reads the hashes the tree of size n stored;
// Append reads from it only those of the tree's right edge, about log2(n)
// of them in all, in a few calls, whatever the number of entries. Stores
// call it within the transaction that holds the log locked.
func Append(n int64, entries [][]byte, stored tlog.HashReader) (hashes []tlog.Hash, root tlog.Hash, err error) {
	base := tlog.StoredHashCount(n)
	r := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		var old []int64
		var at []int
		for i, x := range indexes {
			switch {
			case x < base:
				old, at = append(old, x), append(at, i)
			case x-base < int64(len(hashes)):
				out[i] = hashes[x-base]
			default:
				return nil, fmt.Errorf("translog: hash %d read before it was computed", x)
			}
		}
		if len(old) == 0 {
			return out, nil
		}
		hs, err := stored.ReadHashes(old)
		if err != nil {
			return nil, err
		}
		if len(hs) != len(old) {
			return nil, fmt.Errorf("translog: read %d hashes for %d indexes", len(hs), len(old))
		}
		for j, h := range hs {
			out[at[j]] = h
		}
		return out, nil
	})
	for i, e := range entries {
		if len(e) > MaxEntry {
			return nil, tlog.Hash{}, fmt.Errorf("translog: entry %d has %d bytes, more than an entry bundle holds", n+int64(i), len(e))
		}
		hs, err := tlog.StoredHashesForRecordHash(n+int64(i), tlog.RecordHash(e), r)
		if err != nil {
			return nil, tlog.Hash{}, err
		}
		hashes = append(hashes, hs...)
	}
	root, err = tlog.TreeHash(n+int64(len(entries)), r)
	if err != nil {
		return nil, tlog.Hash{}, err
	}
	return hashes, root, nil
}
