package store

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/takedown"
)

var (
	_ takedown.HostStore   = (*DB)(nil)
	_ takedown.HostUpdater = (*DB)(nil)
)

// SetHost implements takedown.HostStore.
func (db *DB) SetHost(ctx context.Context, h takedown.Host) error {
	return db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error { return setHost(ctx, tx, h) })
}

// setHost writes h's register entry within tx. Lists are stored
// comma-separated (migration 0015): takedown's checks refuse commas in a
// domain, and an address block has none.
func setHost(ctx context.Context, tx *Tx, h takedown.Host) error {
	ranges := make([]string, len(h.IPRanges))
	for i, p := range h.IPRanges {
		ranges[i] = p.String()
	}
	// Only an organisation of kind host has an entry: the SELECT inserts
	// nothing for any other, and the count of 0 says so.
	n, err := tx.Exec(ctx, `
		INSERT INTO hosts (org_id, domains, ip_ranges, notice_email)
		SELECT id, CAST($2 AS TEXT), CAST($3 AS TEXT), CAST($4 AS TEXT) FROM orgs WHERE id = $1 AND kind = 'host'
		ON CONFLICT (org_id) DO UPDATE SET
			domains = excluded.domains, ip_ranges = excluded.ip_ranges, notice_email = excluded.notice_email`,
		h.Org, strings.Join(h.Domains, ","), strings.Join(ranges, ","), h.NoticeEmail)
	if err == nil && n == 0 {
		err = core.Errorf(core.ErrNotFound, "no host organisation %d", h.Org)
	}
	return err
}

const hostQuery = `
	SELECT o.id, o.name, o.country, o.webhook_sealed IS NOT NULL,
		coalesce(h.domains, ''), coalesce(h.ip_ranges, ''), coalesce(h.notice_email, '')
	FROM orgs o LEFT JOIN hosts h ON h.org_id = o.id
	WHERE o.kind = 'host'`

func scanHost(r interface{ Scan(...any) error }) (takedown.Host, error) {
	var (
		h               takedown.Host
		domains, ranges string
	)
	if err := r.Scan(&h.Org, &h.Name, &h.Country, &h.HasWebhook, &domains, &ranges, &h.NoticeEmail); err != nil {
		return h, err
	}
	if domains != "" {
		h.Domains = strings.Split(domains, ",")
	}
	if ranges != "" {
		for _, s := range strings.Split(ranges, ",") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return h, fmt.Errorf("host %d: stored IP range %q: %w", h.Org, s, err)
			}
			h.IPRanges = append(h.IPRanges, p)
		}
	}
	return h, nil
}

// Hosts implements takedown.HostStore.
func (db *DB) Hosts(ctx context.Context) ([]takedown.Host, error) {
	var hosts []takedown.Host
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		hosts = nil
		rows, err := tx.Query(ctx, hostQuery+` ORDER BY o.name`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			h, err := scanHost(rows)
			if err != nil {
				return err
			}
			hosts = append(hosts, h)
		}
		return rows.Err()
	})
	return hosts, err
}

// HostByOrg implements takedown.HostStore.
func (db *DB) HostByOrg(ctx context.Context, orgID int64) (takedown.Host, error) {
	var h takedown.Host
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) (err error) {
		h, err = scanHost(tx.QueryRow(ctx, hostQuery+` AND o.id = $1`, orgID))
		return err
	})
	if errors.Is(err, ErrNoRows) {
		return takedown.Host{}, core.Errorf(core.ErrNotFound, "no host organisation %d", orgID)
	}
	return h, err
}

// UpdateHost implements takedown.HostUpdater.
func (db *DB) UpdateHost(ctx context.Context, fn func(ctx context.Context, tx takedown.HostTx) error) error {
	return db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error { return fn(ctx, hostTx{orgTx{tx}}) })
}

// hostTx implements takedown.HostTx on a transaction.
type hostTx struct{ orgTx }

func (t hostTx) SetHost(ctx context.Context, h takedown.Host) error {
	return setHost(ctx, t.tx, h)
}
