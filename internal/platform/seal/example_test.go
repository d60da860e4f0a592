package seal_test

import (
	"context"
	"fmt"

	"github.com/wardhq/ward/internal/platform/seal"
)

func Example() {
	ctx := context.Background()
	keys := seal.NewKeyring()                     // normally seal.LoadKeyring("/etc/ward/master.keys")
	sealer := seal.NewSealer(keys, newMemStore()) // normally a *store.DB

	// The associated data names where the blob is stored.
	blob, err := sealer.Seal(ctx, []byte("alice@example.org"), []byte("users.email:42"))
	if err != nil {
		panic(err)
	}
	email, err := sealer.Open(ctx, blob, []byte("users.email:42"))
	fmt.Printf("%s %v\n", email, err)

	// The same blob stored in another row does not open.
	_, err = sealer.Open(ctx, blob, []byte("users.email:43"))
	fmt.Println(err == seal.ErrOpen)
	// Output:
	// alice@example.org <nil>
	// true
}

func ExampleSealer_RotateDataKeys() {
	ctx := context.Background()
	keys := seal.NewKeyring()
	sealer := seal.NewSealer(keys, newMemStore())
	for i := range 3 {
		if _, err := sealer.Seal(ctx, []byte("report file contents"), fmt.Appendf(nil, "files:%d", i)); err != nil {
			panic(err)
		}
	}

	fmt.Println("new master key", keys.Rotate()) // then keys.Save(path) before anything else
	n, err := sealer.RotateDataKeys(ctx)
	fmt.Println("re-wrapped", n, err)
	counts, _ := sealer.DataKeyVersions(ctx)
	fmt.Println(counts) // nothing left under v1: it can be removed from the keyring file
	// Output:
	// new master key v2
	// re-wrapped 3 <nil>
	// map[v2:3]
}

func ExampleSealer_BlindIndex() {
	sealer := seal.NewSealer(seal.NewKeyring(), newMemStore())
	// Store the index next to the sealed address; look a user up by
	// computing it again from the address typed at login.
	stored := sealer.BlindIndex("users.email", []byte("alice@example.org"))
	typed := sealer.BlindIndex("users.email", []byte("alice@example.org"))
	fmt.Println(len(stored), string(stored) == string(typed))
	// Output: 32 true
}
