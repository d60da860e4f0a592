package main

import (
	"context"
	"flag"
	"fmt"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/wardhq/ward/internal/platform/store"
)

// storeFlags are the flags that choose the database, shared by the
// commands that use one (serve, admin).
type storeFlags struct {
	data     string
	database string
}

// addStoreFlags registers --data and --database on fs.
func addStoreFlags(fs *flag.FlagSet) *storeFlags {
	f := &storeFlags{}
	fs.StringVar(&f.data, "data", "./ward-data",
		"directory of the embedded database (`DIR`/ward.db), created on first use")
	// The environment is read when the database is opened, not shown as
	// the default here, because a URL may hold a password.
	fs.StringVar(&f.database, "database", "",
		"PostgreSQL `URL` (postgres://...) to use instead of --data; default $WARD_DATABASE_URL")
	return f
}

// open opens (creating and migrating as needed) the database the flags
// name: PostgreSQL if --database or WARD_DATABASE_URL is set, else the
// SQLite file in the --data directory.
func (f *storeFlags) open(ctx context.Context) (*store.DB, error) {
	if url := f.url(); url != "" {
		if !strings.HasPrefix(url, "postgres://") && !strings.HasPrefix(url, "postgresql://") {
			return nil, fmt.Errorf("%w: --database (or WARD_DATABASE_URL) must be a postgres:// URL", errUsage)
		}
		return store.Open(ctx, url)
	}
	// Only this program should read the database: it holds who reported
	// what.
	if err := os.MkdirAll(f.data, 0o700); err != nil {
		return nil, fmt.Errorf("creating the data directory: %w", err)
	}
	return store.Open(ctx, "sqlite:"+f.sqlitePath())
}

// sqlitePath is the database file inside the --data directory.
func (f *storeFlags) sqlitePath() string { return filepath.Join(f.data, "ward.db") }

// url is the PostgreSQL URL to use, or "" for SQLite.
func (f *storeFlags) url() string {
	if f.database != "" {
		return f.database
	}
	return os.Getenv("WARD_DATABASE_URL")
}

// demoDir is where "ward serve --demo" writes its demo images: in the
// data directory, whichever database is used.
func (f *storeFlags) demoDir() string { return filepath.Join(f.data, "demo") }

// describe names the database for logs, without any password.
func (f *storeFlags) describe() string {
	if u := f.url(); u != "" {
		if parsed, err := neturl.Parse(u); err == nil {
			return parsed.Redacted()
		}
		return "PostgreSQL"
	}
	return "sqlite:" + f.sqlitePath()
}
