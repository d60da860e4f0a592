package store_test

import (
	"testing"

	"github.com/wardhq/ward/internal/platform/store/storetest"
)

func TestReportsSQLite(t *testing.T) { storetest.RunReports(t, storetest.OpenSQLite) }

func TestReportsPostgres(t *testing.T) {
	storetest.PostgresURL(t) // skips (or fails in CI) once, not in every subtest
	storetest.RunReports(t, storetest.OpenPostgres)
}
