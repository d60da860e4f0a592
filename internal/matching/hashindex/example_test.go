package hashindex_test

import (
	"crypto/sha256"
	"fmt"

	"github.com/wardhq/ward/internal/matching/hashindex"
)

func Example() {
	a := hashindex.Hash{0x0123456789abcdef, 0xfedcba9876543210, 0x0f0f0f0f0f0f0f0f, 0xf0f0f0f0f0f0f0f0}
	b := a
	b[0] ^= 0xff // 8 bits away
	c := hashindex.Hash{1, 2, 3, 4}
	x := hashindex.Build([]uint64{10, 11, 12}, []hashindex.Hash{a, b, c})

	q := a
	q[3] ^= 1 // a near-duplicate of a, 1 bit away
	fmt.Println(x.Search(q, 31, nil))

	x.Remove(10)
	x.Add(13, q)
	fmt.Println(x.Search(q, 31, nil))
	// Output:
	// [{10 1} {11 9}]
	// [{13 0} {11 9}]
}

func ExampleDigestSet() {
	var s hashindex.SHA256Set
	d := sha256.Sum256([]byte("file contents"))
	s.Add(7, d)
	s.Add(3, d)
	fmt.Println(s.Lookup(d), s.Lookup(sha256.Sum256(nil)))
	// Output: [3 7] []
}
