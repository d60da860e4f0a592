package store_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/platform/seal"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/reporting/forward"
)

// TestSealClearWebhooksVacuumSQLite checks that a webhook URL stored in
// clear, once sealed at start, is gone from the SQLite file and its WAL,
// not only from the table: UPDATE leaves the old row's bytes in free space
// and in the WAL until they are overwritten.
func TestSealClearWebhooksVacuumSQLite(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "ward.db")
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	o, err := org.NewService(db).Create(ctx, "BKA", org.LEA, "DE")
	if err != nil {
		t.Fatal(err)
	}
	const hook = "https://old.example/hook?token=old-secret-4711-vacuumed"
	if err := db.ReadWrite(ctx, func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE orgs SET webhook_url = $1 WHERE id = $2`, hook, o.ID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	onDisk := func() bool {
		for _, p := range []string{path, path + "-wal"} {
			b, err := os.ReadFile(p)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte("old-secret-4711")) {
				return true
			}
		}
		return false
	}
	if !onDisk() {
		t.Fatal("the clear URL is not on disk before sealing: the test checks nothing")
	}
	k, err := seal.CreateKeyringFile(filepath.Join(t.TempDir(), "master.keys"))
	if err != nil {
		t.Fatal(err)
	}
	s := seal.NewSealer(k, db)
	if n, err := forward.SealClearWebhooks(ctx, db, s); err != nil || n != 1 {
		t.Fatalf("SealClearWebhooks: %d, %v; want 1", n, err)
	}
	if onDisk() {
		t.Error("the database file or its WAL still holds the clear URL after sealing")
	}
	if h, err := forward.OpenWebhook(ctx, db, s, o.ID); err != nil || h != hook {
		t.Errorf("webhook after sealing: %q, %v", h, err)
	}
}
