package store

import (
	"context"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/reporting/forward"
)

var _ forward.OrgStore = (*DB)(nil)

// UpdateOrg implements forward.OrgStore.
func (db *DB) UpdateOrg(ctx context.Context, fn func(ctx context.Context, tx forward.OrgTx) error) error {
	return db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error { return fn(ctx, orgTx{tx}) })
}

// orgTx implements forward.OrgTx on a transaction.
type orgTx struct{ tx *Tx }

func (t orgTx) CreateOrg(ctx context.Context, o org.Organisation) (org.Organisation, error) {
	return createOrg(ctx, t.tx, o)
}

func (t orgTx) SetWebhook(ctx context.Context, orgID int64, sealed []byte) error {
	return setWebhook(ctx, t.tx, orgID, sealed)
}

func (t orgTx) AppendAudit(ctx context.Context, ev audit.Event) (audit.Entry, error) {
	return appendAudit(ctx, t.tx, ev)
}
