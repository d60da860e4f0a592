package store_test

import (
	"testing"

	"github.com/wardhq/ward/internal/platform/store/storetest"
)

func TestTriageSQLite(t *testing.T) { storetest.RunTriage(t, storetest.OpenSQLite) }

func TestTriagePostgres(t *testing.T) {
	storetest.PostgresURL(t) // skips (or fails in CI) once, not in every subtest
	storetest.RunTriage(t, storetest.OpenPostgres)
}
