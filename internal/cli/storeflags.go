package cli

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

// StoreFlags are the flags that choose the database, shared by the
// commands that use one (serve, admin).
type StoreFlags struct {
	data     string
	database string
}

// AddStoreFlags registers --data and --database on fs.
func AddStoreFlags(fs *flag.FlagSet) *StoreFlags {
	f := &StoreFlags{}
	fs.StringVar(&f.data, "data", "./ward-data",
		"directory of the embedded database (`DIR`/ward.db), created on first use")
	// The environment is read when the database is opened, not shown as
	// the default here, because a URL may hold a password.
	fs.StringVar(&f.database, "database", "",
		"PostgreSQL `URL` (postgres://...) to use instead of --data; default $WARD_DATABASE_URL")
	return f
}

// Open opens (creating and migrating as needed) the database the flags
// name: PostgreSQL if --database or WARD_DATABASE_URL is set, else the
// SQLite file in the --data directory.
func (f *StoreFlags) Open(ctx context.Context) (*store.DB, error) {
	if url := f.url(); url != "" {
		if !strings.HasPrefix(url, "postgres://") && !strings.HasPrefix(url, "postgresql://") {
			return nil, fmt.Errorf("%w: --database (or WARD_DATABASE_URL) must be a postgres:// URL", ErrUsage)
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
func (f *StoreFlags) sqlitePath() string { return filepath.Join(f.data, "ward.db") }

// url is the PostgreSQL URL to use, or "" for SQLite.
func (f *StoreFlags) url() string {
	if f.database != "" {
		return f.database
	}
	return os.Getenv("WARD_DATABASE_URL")
}

// DemoDir is where "ward serve --demo" writes its demo images: in the
// data directory, whichever database is used.
func (f *StoreFlags) DemoDir() string { return filepath.Join(f.data, "demo") }

// Describe names the database for logs, without any password.
func (f *StoreFlags) Describe() string {
	if u := f.url(); u != "" {
		if parsed, err := neturl.Parse(u); err == nil {
			return parsed.Redacted()
		}
		return "PostgreSQL"
	}
	return "sqlite:" + f.sqlitePath()
}
