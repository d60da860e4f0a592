package audit_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"time"

	"github.com/wardhq/ward/internal/accountability/audit"
)

func Example() {
	ctx := context.Background()
	store := newMemStore() // normally a *store.DB
	pub, key, _ := ed25519.GenerateKey(nil)
	log := audit.NewLog(store, key) // normally audit.LoadOrCreateSigningKey("/etc/ward/audit.key")

	for _, ev := range []audit.Event{
		{Actor: "user:7", OrgID: 1, OrgName: "Hotline NL", Action: "report.view", Object: "report:42", Purpose: "assessment", Outcome: audit.OK},
		{Actor: "user:9", OrgID: 2, OrgName: "BKA", Action: "report.view", Object: "report:42", Outcome: audit.Denied},
	} {
		if _, err := log.Append(ctx, ev); err != nil {
			panic(err)
		}
	}
	if _, err := log.Checkpoint(ctx); err != nil {
		panic(err)
	}

	r, err := audit.Verify(ctx, store, pub)
	fmt.Println(r.OK(), r.Entries, r.LastCheckpoint.Seq, err)

	// Someone with access to the database turns the refusal into a view.
	e := store.entries[2]
	e.Outcome = audit.OK
	store.entries[2] = e
	r, _ = audit.Verify(ctx, store, pub)
	for _, p := range r.Problems {
		fmt.Println(p)
	}
	// Output:
	// true 2 2 <nil>
	// entry 2: edited: its fields do not match its hash
}

func ExampleLog_Export() {
	ctx := context.Background()
	log := audit.NewLog(newMemStore(), nil)
	log.Append(ctx, audit.Event{
		At:    time.Date(2026, 5, 1, 9, 30, 0, 0, time.UTC),
		Actor: audit.AdminCLI, Action: "keys.rotate", Outcome: audit.OK,
	})
	log.Export(ctx, os.Stdout, audit.Filter{}, "csv")
	// Output:
	// seq,at,org_id,org_name,actor,action,object,purpose,outcome,prev_hash,hash
	// 1,2026-05-01T09:30:00Z,0,,admin-cli,keys.rotate,,,ok,0000000000000000000000000000000000000000000000000000000000000000,c37f05fafe7c8ce2c2d69fb2befd35cfdf1150f1a3eee3654a556d57b78a85d2
}
