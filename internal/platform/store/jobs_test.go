package store_test

import (
	"testing"

	"github.com/wardhq/ward/internal/platform/store/storetest"
)

func TestJobsSQLite(t *testing.T) { storetest.RunJobs(t, storetest.OpenSQLite) }

func TestJobsPostgres(t *testing.T) {
	storetest.PostgresURL(t) // skips (or fails in CI) once, not in every subtest
	storetest.RunJobs(t, storetest.OpenPostgres)
}
