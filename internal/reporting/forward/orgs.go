package forward

import (
	"context"
	"fmt"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/platform/seal"
)

// OrgTx is a transaction in which an organisation, its webhook and the
// audit entry recording the change are written together; package store
// implements it.
type OrgTx interface {
	// CreateOrg is org.Store's, within the transaction.
	CreateOrg(ctx context.Context, o org.Organisation) (org.Organisation, error)
	// SetWebhook is WebhookStore's, within the transaction.
	SetWebhook(ctx context.Context, orgID int64, sealed []byte) error
	audit.Appender
}

// OrgStore runs fn in one transaction, committed if fn returns nil. fn
// may run more than once (the store retries conflicts).
type OrgStore interface {
	UpdateOrg(ctx context.Context, fn func(ctx context.Context, tx OrgTx) error) error
}

// KeyMaker makes data keys for blobs sealed inside a transaction;
// *seal.Sealer is one.
type KeyMaker interface {
	NewDataKey(ctx context.Context) (*seal.DataKey, error)
}

// AddOrg creates organisation o (from org.New) with webhook hook, a URL
// that CheckWebhookURL returned ("" for none), sealed with a key from
// keys, and records it in l as done by actor, all in one transaction: an
// organisation is never left without the webhook it was given, nor a
// change unrecorded.
func AddOrg(ctx context.Context, st OrgStore, keys KeyMaker, l *audit.Log, o org.Organisation, hook, actor string) (org.Organisation, error) {
	dk, err := WebhookKey(ctx, keys, hook)
	if err != nil {
		return org.Organisation{}, err
	}
	var created org.Organisation
	err = st.UpdateOrg(ctx, func(ctx context.Context, tx OrgTx) error {
		var err error
		created, err = CreateOrg(ctx, tx, l, dk, o, hook, actor)
		return err
	})
	if err != nil {
		return org.Organisation{}, err
	}
	return created, nil
}

// CreateOrg is AddOrg's work within tx, for a caller that writes more in
// the same transaction (takedown.AddHost: a host's register entry): it
// creates o, stores hook sealed with dk (WebhookKey's for hook) and
// appends the audit entry.
func CreateOrg(ctx context.Context, tx OrgTx, l *audit.Log, dk *seal.DataKey, o org.Organisation, hook, actor string) (org.Organisation, error) {
	created, err := tx.CreateOrg(ctx, o)
	if err != nil {
		return org.Organisation{}, err
	}
	// Sealed here: the organisation's ID, which the sealed URL is bound
	// to, exists only now.
	if err := changeWebhook(ctx, tx, l, dk, created, hook, actor, "org.add"); err != nil {
		return org.Organisation{}, err
	}
	return created, nil
}

// ChangeWebhook sets organisation o's webhook to hook, a URL that
// CheckWebhookURL returned, or removes it with "", and records the change
// in l as done by actor, in one transaction.
func ChangeWebhook(ctx context.Context, st OrgStore, keys KeyMaker, l *audit.Log, o org.Organisation, hook, actor string) error {
	dk, err := WebhookKey(ctx, keys, hook)
	if err != nil {
		return err
	}
	return st.UpdateOrg(ctx, func(ctx context.Context, tx OrgTx) error {
		return changeWebhook(ctx, tx, l, dk, o, hook, actor, "org.set_webhook")
	})
}

// WebhookKey makes the data key that seals hook, before the transaction
// that stores it (making a key writes to the database); none for no
// webhook.
func WebhookKey(ctx context.Context, keys KeyMaker, hook string) (*seal.DataKey, error) {
	if hook == "" {
		return nil, nil
	}
	dk, err := keys.NewDataKey(ctx)
	if err != nil {
		return nil, fmt.Errorf("sealing the webhook: %w", err)
	}
	return dk, nil
}

// changeWebhook stores o's webhook in tx (unless adding an organisation
// without one) and the audit entry of action.
func changeWebhook(ctx context.Context, tx OrgTx, l *audit.Log, dk *seal.DataKey, o org.Organisation, hook, actor, action string) error {
	if hook != "" || action != "org.add" {
		var sealed []byte
		if dk != nil {
			var err error
			if sealed, err = dk.Seal([]byte(hook), WebhookAAD(o.ID)); err != nil {
				return fmt.Errorf("sealing the webhook: %w", err)
			}
		}
		if err := tx.SetWebhook(ctx, o.ID, sealed); err != nil {
			return err
		}
	}
	_, err := l.AppendTo(ctx, tx, audit.Event{OrgID: o.ID, OrgName: o.Name, Actor: actor,
		Action: action, Object: fmt.Sprintf("org:%d", o.ID), Outcome: audit.OK})
	return err
}
