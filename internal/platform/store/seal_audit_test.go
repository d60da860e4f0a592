package store_test

import (
	"testing"

	"github.com/wardhq/ward/internal/platform/store/storetest"
)

func TestSealSQLite(t *testing.T) { storetest.RunSeal(t, storetest.OpenSQLite) }

func TestSealPostgres(t *testing.T) {
	storetest.PostgresURL(t) // skips (or fails in CI) once, not in every subtest
	storetest.RunSeal(t, storetest.OpenPostgres)
}

func TestAuditSQLite(t *testing.T) { storetest.RunAudit(t, storetest.OpenSQLite) }

func TestAuditPostgres(t *testing.T) {
	storetest.PostgresURL(t)
	storetest.RunAudit(t, storetest.OpenPostgres)
}
