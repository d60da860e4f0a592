package store

import (
	"database/sql"
	"fmt"
	"runtime"
	"time"

	"github.com/wardhq/ward/internal/platform/sqldb"
)

// defaultBusyTimeout is how long an SQLite statement waits for a lock held
// by another process (say "ward admin" while "ward serve" runs) before
// failing with SQLITE_BUSY, after which ReadWrite retries it.
const defaultBusyTimeout = 5 * time.Second

// openSQLite opens the SQLite file at path, creating it if needed.
//
// It has the settings of sqldb.SQLiteURI and one writer with those of
// sqldb.SQLiteWriter: synchronous=FULL matters here because Ward
// acknowledges reports and attestations.
func openSQLite(path string, busyTimeout time.Duration) (*DB, error) {
	if path == "" {
		return nil, fmt.Errorf("no SQLite database path given")
	}
	uri, err := sqldb.SQLiteURI(path, busyTimeout)
	if err != nil {
		return nil, err
	}

	// The writer's page cache is large because imports update indexes at
	// random places.
	writer, err := sql.Open("sqlite", uri+sqldb.SQLiteWriter+"&_pragma=cache_size(-262144)&_pragma=temp_store(memory)")
	if err != nil {
		return nil, err
	}
	writer.SetMaxOpenConns(1)
	// Open the writer first: it switches a new file to WAL mode, which
	// then persists for every connection.
	if err := writer.Ping(); err != nil {
		writer.Close()
		return nil, fmt.Errorf("opening SQLite database %s: %w", path, err)
	}

	readers, err := sql.Open("sqlite", uri+"&_query_only=1&_pragma=cache_size(-32768)")
	if err != nil {
		writer.Close()
		return nil, err
	}
	n := max(4, runtime.GOMAXPROCS(0))
	readers.SetMaxOpenConns(n)
	readers.SetMaxIdleConns(n)
	return &DB{writer: writer, readers: readers, group: newGroupCommitter(writer)}, nil
}
