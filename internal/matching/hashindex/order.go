package hashindex

// orderByID returns the positions of ids in ascending id order, keeping
// only the last position of an id that occurs more than once. It returns
// nil when ids is already strictly ascending, the common case of ids read
// from a database in key order.
func orderByID(ids []uint64) []uint32 {
	sorted := true
	for i := 1; i < len(ids); i++ {
		if ids[i] <= ids[i-1] {
			sorted = false
			break
		}
	}
	if sorted {
		return nil
	}
	// An LSD radix sort by 16-bit digits, skipping digits that are the same
	// in every id (the high digits of database keys). It is stable, so the
	// last of equal ids comes last.
	n := len(ids)
	keys, idx := make([]uint64, n), make([]uint32, n)
	var or, and uint64 = 0, ^uint64(0)
	for i, id := range ids {
		keys[i], idx[i] = id, uint32(i)
		or |= id
		and &= id
	}
	keys2, idx2 := make([]uint64, n), make([]uint32, n)
	var count [1 << 16]int
	for shift := 0; shift < 64; shift += 16 {
		if (or^and)>>shift&0xffff == 0 {
			continue
		}
		clear(count[:])
		for _, k := range keys {
			count[k>>shift&0xffff]++
		}
		sum := 0
		for d, c := range count {
			count[d] = sum
			sum += c
		}
		for i, k := range keys {
			d := k >> shift & 0xffff
			keys2[count[d]], idx2[count[d]] = k, idx[i]
			count[d]++
		}
		keys, keys2, idx, idx2 = keys2, keys, idx2, idx
	}
	out := idx[:0]
	for i := range n {
		if i+1 < n && keys[i+1] == keys[i] {
			continue
		}
		out = append(out, idx[i])
	}
	return out
}
