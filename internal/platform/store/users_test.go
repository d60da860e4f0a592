package store_test

import (
	"testing"

	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
)

func TestUsersSQLite(t *testing.T) {
	storetest.RunUsers(t, func(t *testing.T) *store.DB { return storetest.OpenSQLite(t) })
}

func TestUsersPostgres(t *testing.T) {
	storetest.PostgresURL(t) // skips (or fails in CI) once, not in every subtest
	storetest.RunUsers(t, func(t *testing.T) *store.DB { return storetest.OpenPostgres(t) })
}
