package storetest

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/platform/store"
)

// DumpAll reads every row of every table of db and returns them as text,
// as a database dump or a stolen backup would hold them, so that a test can
// assert that some personal data appears nowhere in it. Binary values
// (BLOB, bytea) are written as their raw bytes, not encoded, so that data
// stored in clear in one is found too.
//
// The tables are SQLite's (from sqlite_master) or those of PostgreSQL's
// current schema (from information_schema.tables); each is written as a
// line "== table" followed by a line per row, its values separated by
// tabs.
func DumpAll(t testing.TB, db *store.DB) []byte {
	t.Helper()
	var out bytes.Buffer
	err := db.ReadOnly(context.Background(), func(ctx context.Context, tx *store.Tx) error {
		out.Reset()
		tables, err := firstColumn(ctx, tx, `SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`,
			`SELECT table_name FROM information_schema.tables
			 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`)
		if err != nil {
			return err
		}
		if len(tables) == 0 {
			return fmt.Errorf("no tables found")
		}
		for _, table := range tables {
			cols, err := firstColumn(ctx, tx, `SELECT name FROM pragma_table_info('`+table+`') ORDER BY cid`,
				`SELECT column_name FROM information_schema.columns
				 WHERE table_schema = current_schema() AND table_name = '`+table+`' ORDER BY ordinal_position`)
			if err != nil {
				return err
			}
			fmt.Fprintf(&out, "== %s\n", table)
			rows, err := tx.Query(ctx, `SELECT "`+strings.Join(cols, `", "`)+`" FROM "`+table+`"`)
			if err != nil {
				return fmt.Errorf("reading %s: %w", table, err)
			}
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			for rows.Next() {
				if err := rows.Scan(ptrs...); err != nil {
					rows.Close()
					return err
				}
				for i, v := range vals {
					if i > 0 {
						out.WriteByte('\t')
					}
					switch v := v.(type) {
					case []byte:
						out.Write(v)
					case nil:
						out.WriteString("NULL")
					default:
						fmt.Fprint(&out, v)
					}
				}
				out.WriteByte('\n')
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("reading %s: %w", table, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("dumping the database: %v", err)
	}
	return out.Bytes()
}

// firstColumn runs the query of tx's dialect and returns its one column.
func firstColumn(ctx context.Context, tx *store.Tx, sqliteQuery, postgresQuery string) ([]string, error) {
	q := sqliteQuery
	if tx.Postgres() {
		q = postgresQuery
	}
	rows, err := tx.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ss []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		ss = append(ss, s)
	}
	return ss, rows.Err()
}
