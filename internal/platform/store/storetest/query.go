package storetest

import (
	"context"
	"testing"

	"github.com/wardhq/ward/internal/platform/store"
)

// Strings returns the first column of the rows that q selects, in order,
// for tests that look at what the store wrote (jobs queued, events).
func Strings(t testing.TB, db *store.DB, q string, args ...any) []string {
	t.Helper()
	var out []string
	err := db.ReadOnly(context.Background(), func(ctx context.Context, tx *store.Tx) error {
		out = nil
		rows, err := tx.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				return err
			}
			out = append(out, s)
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Count returns the number that q, a "SELECT count(*) ...", selects.
func Count(t testing.TB, db *store.DB, q string, args ...any) int {
	t.Helper()
	var n int
	err := db.ReadOnly(context.Background(), func(ctx context.Context, tx *store.Tx) error {
		return tx.QueryRow(ctx, q, args...).Scan(&n)
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
