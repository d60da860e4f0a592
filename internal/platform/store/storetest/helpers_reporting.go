package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/reporting/report"
)

// SetReportState moves report id to state directly, for the tests of what
// follows a state of the centre's handling.
func SetReportState(t testing.TB, db *store.DB, id string, state report.State) {
	t.Helper()
	err := db.ReadWrite(context.Background(), func(ctx context.Context, tx *store.Tx) error {
		n, err := tx.Exec(ctx, `UPDATE reports SET state = $1 WHERE id = $2`, string(state), id)
		if err == nil && n != 1 {
			err = fmt.Errorf("no report %s", id)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
