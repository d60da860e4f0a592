package forward_test

import (
	"errors"
	"testing"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/platform/seal"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/reporting/forward"
)

// TestAddOrg checks that an organisation, its webhook and the audit entry
// are written together, and that a failure at any step leaves none of
// them behind.
func TestAddOrg(t *testing.T) {
	for name, open := range map[string]func(testing.TB) *store.DB{"sqlite": storetest.OpenSQLite, "postgres": storetest.OpenPostgres} {
		t.Run(name, func(t *testing.T) {
			ctx, db := t.Context(), open(t)
			sealer := seal.NewSealer(seal.NewKeyring(), db)
			l := audit.NewLog(db, nil)
			orgs := org.NewService(db)
			head := func() int64 {
				t.Helper()
				h, err := db.AuditHead(ctx)
				if err != nil {
					t.Fatal(err)
				}
				return h.Seq
			}
			newOrg := func(name string) org.Organisation {
				o, err := org.New(name, org.LEA, "nl", core.Clock(nil).Now())
				if err != nil {
					t.Fatal(err)
				}
				return o
			}
			const hook = "https://lea.example/hook?secret=s"

			// The audit entry fails last, after the organisation and its
			// webhook were written in the transaction.
			if _, err := forward.AddOrg(ctx, db, sealer, l, newOrg("police"), hook, "not an actor"); !errors.Is(err, core.ErrInvalid) {
				t.Fatalf("AddOrg with a bad actor: %v, want an invalid error", err)
			}
			if _, err := orgs.ByName(ctx, "police"); !errors.Is(err, core.ErrNotFound) {
				t.Fatalf("after a failed AddOrg: %v, want no organisation", err)
			}
			if n := head(); n != 0 {
				t.Fatalf("after a failed AddOrg the trail has %d entries", n)
			}

			o, err := forward.AddOrg(ctx, db, sealer, l, newOrg("police"), hook, audit.AdminCLI)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := forward.OpenWebhook(ctx, db, sealer, o.ID); err != nil || got != hook {
				t.Fatalf("webhook = %q, %v; want %q", got, err, hook)
			}
			es, err := l.List(ctx, audit.Filter{})
			if err != nil || len(es) != 1 || es[0].Action != "org.add" || es[0].OrgID != o.ID || es[0].Actor != audit.AdminCLI {
				t.Fatalf("trail after AddOrg: %+v, %v", es, err)
			}

			// A name taken fails at the first step; nothing more is written.
			if _, err := forward.AddOrg(ctx, db, sealer, l, newOrg("police"), "", audit.AdminCLI); !errors.Is(err, core.ErrConflict) {
				t.Fatalf("AddOrg of a taken name: %v, want a conflict", err)
			}
			if n := head(); n != 1 {
				t.Fatalf("after a conflicting AddOrg the trail has %d entries, want 1", n)
			}

			// Without a webhook, AddOrg stores none.
			plain, err := forward.AddOrg(ctx, db, sealer, l, newOrg("police-de"), "", audit.AdminCLI)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := forward.OpenWebhook(ctx, db, sealer, plain.ID); err != nil || got != "" {
				t.Fatalf("webhook of an organisation added without one = %q, %v", got, err)
			}

			// A failed change keeps the webhook; a removal is recorded.
			if err := forward.ChangeWebhook(ctx, db, sealer, l, o, "", "not an actor"); !errors.Is(err, core.ErrInvalid) {
				t.Fatalf("ChangeWebhook with a bad actor: %v", err)
			}
			if got, _ := forward.OpenWebhook(ctx, db, sealer, o.ID); got != hook {
				t.Fatalf("webhook after a failed removal = %q, want %q", got, hook)
			}
			if err := forward.ChangeWebhook(ctx, db, sealer, l, o, "", audit.AdminCLI); err != nil {
				t.Fatal(err)
			}
			if got, _ := forward.OpenWebhook(ctx, db, sealer, o.ID); got != "" {
				t.Fatalf("webhook after removal = %q", got)
			}
			if es, err := l.List(ctx, audit.Filter{Action: "org.set_webhook"}); err != nil || len(es) != 1 {
				t.Fatalf("set_webhook entries: %+v, %v", es, err)
			}
		})
	}
}
