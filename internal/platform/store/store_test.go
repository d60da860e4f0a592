package store_test

import (
	"testing"

	"github.com/wardhq/ward/internal/platform/store/storetest"
)

func TestSQLite(t *testing.T) { storetest.Run(t, storetest.OpenSQLite) }

func TestPostgres(t *testing.T) {
	storetest.PostgresURL(t) // skips (or fails in CI) once, not in every subtest
	storetest.Run(t, storetest.OpenPostgres)
}
