package sqldb_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/wardhq/ward/internal/platform/sqldb"
)

func TestLoadMigrations(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	ms, err := sqldb.LoadMigrations(fstest.MapFS{"m/0001_a.sql": file("A"), "m/0002_b.sql": file("B")}, "m")
	if err != nil || len(ms) != 2 || ms[1] != (sqldb.Migration{Version: 2, Name: "0002_b.sql", SQL: "B"}) {
		t.Errorf("LoadMigrations: %+v, %v", ms, err)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"gap":      {"m/0001_a.sql": file(""), "m/0003_c.sql": file("")},
		"unnamed":  {"m/0001.sql": file("")},
		"not sql":  {"m/0001_a.txt": file("")},
		"from two": {"m/0002_b.sql": file("")},
	} {
		if _, err := sqldb.LoadMigrations(fsys, "m"); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestMigrateSQLite(t *testing.T) {
	ctx := context.Background()
	uri, err := sqldb.SQLiteURI(filepath.Join(t.TempDir(), "a?b#c%d.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", uri+sqldb.SQLiteWriter)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ms := []sqldb.Migration{
		{Version: 1, Name: "0001_t.sql", SQL: "CREATE TABLE t (a int)"},
		{Version: 2, Name: "0002_u.sql", SQL: "ALTER TABLE t ADD b int"},
	}
	if err := sqldb.MigrateSQLite(ctx, db, ms[:1]); err != nil {
		t.Fatal(err)
	}
	if err := sqldb.MigrateSQLite(ctx, db, ms); err != nil { // applies only the second
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO t (a, b) VALUES (1, 2)`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n != 2 {
		t.Errorf("schema_migrations: %d rows, %v", n, err)
	}
	bad := append(ms, sqldb.Migration{Version: 3, Name: "0003_bad.sql", SQL: "ALTER TABLE t ADD c int; SELECT nonsense()"})
	if err := sqldb.MigrateSQLite(ctx, db, bad); err == nil || !strings.Contains(err.Error(), "0003_bad.sql") {
		t.Errorf("a failing migration: %v", err)
	}
	if _, err := db.ExecContext(ctx, `SELECT c FROM t`); err == nil {
		t.Error("a failed migration left a change")
	}
	if err := sqldb.MigrateSQLite(ctx, db, ms[:1]); err == nil {
		t.Error("migrating a newer database succeeded")
	}
}
