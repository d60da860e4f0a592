package store

import (
	"context"
	"crypto/rand"
	"fmt"
	neturl "net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// openPostgres connects to PostgreSQL.
func openPostgres(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's message can quote the URL, password included.
		return nil, fmt.Errorf("invalid PostgreSQL connection URL")
	}
	// pgx's default of four connections on a small machine serialises
	// commits: with more, concurrent requests share WAL flushes (group
	// commit). pool_max_conns in the URL still decides.
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = 16
	}
	cfg.AfterConnect = func(_ context.Context, c *pgx.Conn) error {
		// Times come back in UTC, as they do from SQLite, rather than
		// in the process's local zone.
		c.TypeMap().RegisterType(&pgtype.Type{
			Name: "timestamptz", OID: pgtype.TimestamptzOID,
			Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC},
		})
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	return &DB{pg: pool}, nil
}

// NewSchema creates an empty schema named prefix plus a random suffix in
// the PostgreSQL database at base, and returns the URL of base with the
// schema as search_path, so that what opens it starts from nothing, and a
// function that drops the schema with everything in it. Tests and
// benchmarks use it to run side by side on one server.
func NewSchema(ctx context.Context, base, prefix string) (string, func(context.Context) error, error) {
	u, err := neturl.Parse(base)
	if err != nil {
		return "", nil, fmt.Errorf("invalid PostgreSQL connection URL")
	}
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, fmt.Errorf("connecting to PostgreSQL at %s: %w", u.Redacted(), err)
	}
	defer conn.Close(ctx)
	schema := prefix + strings.ToLower(rand.Text()[:16])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return "", nil, fmt.Errorf("creating schema %s: %w", schema, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	drop := func(ctx context.Context) error {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			return fmt.Errorf("dropping schema %s: %w", schema, err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			return fmt.Errorf("dropping schema %s: %w", schema, err)
		}
		return nil
	}
	return u.String(), drop, nil
}
