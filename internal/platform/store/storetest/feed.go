package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/platform/store"
)

// ActivatedFeed appends to the known list's feed the activations of n new
// active MD5 indicators (organisation 1's), in set-based statements of a
// million at a time, as a database of a large list holds them: for the
// benchmarks of what reads or logs a feed. It bypasses the store, so the
// list's transparency log is left behind its feed, as migration 0021
// leaves the lists of a database from before the logs (CatchUp then logs
// them).
func ActivatedFeed(tb testing.TB, db *store.DB, n int) {
	tb.Helper()
	const chunk = 1_000_000
	at := time.Date(2026, 1, 2, 3, 4, 5, 678901000, time.UTC)
	for done := 0; done < n; done += chunk {
		k := min(chunk, n-done)
		err := db.ReadWrite(context.Background(), func(ctx context.Context, tx *store.Tx) error {
			var head, first int64
			if err := tx.QueryRow(ctx, `SELECT head, (SELECT coalesce(max(id), 0) + 1 FROM indicators) FROM lists WHERE id = 1`).Scan(&head, &first); err != nil {
				return err
			}
			series := `WITH RECURSIVE s (i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < $1 - 1) SELECT i FROM s`
			value := `printf('%032x', $2 + i)`
			if tx.Postgres() {
				series = `SELECT generate_series(0, $1 - 1) AS i`
				value = `lpad(to_hex($2 + i), 32, '0')`
			}
			if _, err := tx.Exec(ctx, `
				INSERT INTO indicators (list_id, signal, value, category, state, created_at, activated_at)
				SELECT 1, 'md5', `+value+`, 'A1', 'active', $3, $3 FROM (`+series+`) AS s ORDER BY i`, k, first, at); err != nil {
				return fmt.Errorf("indicators: %w", err)
			}
			if _, err := tx.Exec(ctx, `
				INSERT INTO changes (list_id, seq, kind, indicator_id, org_id, at)
				SELECT 1, $1 + row_number() OVER (ORDER BY id), 'activate', id, 1, $3
				FROM indicators WHERE id >= $2`, head, first, at); err != nil {
				return fmt.Errorf("changes: %w", err)
			}
			_, err := tx.Exec(ctx, `UPDATE lists SET head = head + $1, active_count = active_count + $1 WHERE id = 1`, k)
			return err
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
}
