package store_test

import (
	"testing"

	"github.com/wardhq/ward/internal/store/storetest"
)

func TestForwardSQLite(t *testing.T) { storetest.RunForward(t, storetest.OpenSQLite) }

func TestForwardPostgres(t *testing.T) {
	storetest.PostgresURL(t) // skips (or fails in CI) once, not in every subtest
	storetest.RunForward(t, storetest.OpenPostgres)
}
