package store

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// defaultBusyTimeout is how long an SQLite statement waits for a lock held
// by another process (say "ward admin" while "ward serve" runs) before
// failing with SQLITE_BUSY, after which ReadWrite retries it.
const defaultBusyTimeout = 5 * time.Second

// openSQLite opens the SQLite file at path, creating it if needed.
//
// Every connection uses WAL (readers and the writer do not block each
// other) and synchronous=FULL: with NORMAL a commit can be lost in a power
// failure even after it was acknowledged, and Ward acknowledges reports and
// attestations. Foreign keys are enforced; times are stored as Unix
// microseconds in TIMESTAMP columns.
func openSQLite(path string, busyTimeout time.Duration) (*DB, error) {
	if path == "" {
		return nil, fmt.Errorf("no SQLite database path given")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	// As a URI, so that any character can appear in the path.
	uri := "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(abs))
	common := fmt.Sprintf("_busy_timeout=%d&_foreign_keys=1&_time_integer_format=unix_micro&_inttotime=1", busyTimeout.Milliseconds())

	// The writer takes the write lock when a transaction begins (BEGIN
	// IMMEDIATE) rather than at its first write, so that a transaction
	// that read first cannot fail to upgrade its lock half way. Its page
	// cache is large because imports update indexes at random places.
	writer, err := sql.Open("sqlite", uri+"?"+common+
		"&_journal_mode=WAL&_synchronous=FULL&_txlock=immediate&_pragma=cache_size(-262144)&_pragma=temp_store(memory)")
	if err != nil {
		return nil, err
	}
	writer.SetMaxOpenConns(1)
	// Open the writer first: it switches a new file to WAL mode, which
	// then persists for every connection.
	if err := writer.Ping(); err != nil {
		writer.Close()
		return nil, fmt.Errorf("opening SQLite database %s: %w", abs, err)
	}

	readers, err := sql.Open("sqlite", uri+"?"+common+"&_query_only=1&_pragma=cache_size(-32768)")
	if err != nil {
		writer.Close()
		return nil, err
	}
	n := max(4, runtime.GOMAXPROCS(0))
	readers.SetMaxOpenConns(n)
	readers.SetMaxIdleConns(n)
	return &DB{writer: writer, readers: readers, group: newGroupCommitter(writer)}, nil
}
