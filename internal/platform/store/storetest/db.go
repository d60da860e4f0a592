// Package storetest is the conformance suite of Ward's store: Run checks a
// store.DB against the contracts of the domains' Stores (every suite, one
// entry point). Package store runs it on SQLite and on PostgreSQL;
// OpenSQLite and OpenPostgres give other packages' tests, the domains'
// rules among them, a fresh database of either kind.
package storetest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wardhq/ward/internal/platform/store"
)

// DefaultPostgresURL is the server the PostgreSQL tests use unless
// WARD_TEST_POSTGRES names another.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// OpenSQLite opens a new SQLite database in t's temporary directory, closed
// when t ends.
func OpenSQLite(t testing.TB) *store.DB {
	t.Helper()
	return open(t, "sqlite:"+filepath.Join(t.TempDir(), "ward.db"))
}

// OpenPostgres opens a database in a new schema on the test PostgreSQL
// server (see PostgresURL), closed when t ends.
func OpenPostgres(t testing.TB) *store.DB {
	t.Helper()
	return open(t, PostgresURL(t))
}

func open(t testing.TB, url string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// PostgresURL creates an empty schema on the test PostgreSQL server and
// returns a URL whose connections use it, so that tests running in
// parallel, in any package, do not see each other's tables. The schema is
// dropped when t ends. The server is WARD_TEST_POSTGRES if set, else
// DefaultPostgresURL. If it cannot be reached the test is skipped, or
// fails if the environment variable CI is set: in CI the PostgreSQL tests
// must run.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("WARD_TEST_POSTGRES")
	if base == "" {
		base = DefaultPostgresURL
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("WARD_TEST_POSTGRES is not a postgres:// URL: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		msg := fmt.Sprintf("PostgreSQL is not reachable at %s (%v); set WARD_TEST_POSTGRES to the postgres:// URL of a server to run these tests", u.Redacted(), err)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	conn.Close(ctx)
	schemaURL, drop, err := store.NewSchema(ctx, base, "ward_test_")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := drop(ctx); err != nil {
			t.Error(err)
		}
	})
	return schemaURL
}

// OnEachEngine runs run once on SQLite and once on PostgreSQL, as the
// subtests "SQLite" and "Postgres", with the opener of a new database of
// that engine; PostgreSQL is checked once (skipped, or failed in CI), not
// in every subtest.
func OnEachEngine(t *testing.T, run func(t *testing.T, open func(testing.TB) *store.DB)) {
	t.Run("SQLite", func(t *testing.T) { run(t, OpenSQLite) })
	t.Run("Postgres", func(t *testing.T) {
		PostgresURL(t)
		run(t, OpenPostgres)
	})
}
