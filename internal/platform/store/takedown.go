package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/takedown"
)

// Takedown returns db as takedown.Store: the DB's methods and the
// transactions of the takedown flow (Update, with takedown.Tx), as Triage
// does for triage.
func (db *DB) Takedown() takedown.Store { return takedownStore{db} }

type takedownStore struct{ *DB }

// urlKey is the url_key of a URL: its SHA-256 in hex.
func urlKey(u string) string {
	sum := sha256.Sum256([]byte(u))
	return hex.EncodeToString(sum[:])
}

// nullID is id, or NULL for 0 (no organisation).
func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// nullText is s, or NULL for "".
func nullText(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// nullBlob is b, or NULL for nil (which SQLite's driver would store as an
// empty blob).
func nullBlob(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

func formatAddrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ",")
}

func parseAddrs(s string) []netip.Addr {
	if s == "" {
		return nil
	}
	var out []netip.Addr
	for _, f := range strings.Split(s, ",") {
		if a, err := netip.ParseAddr(f); err == nil {
			out = append(out, a)
		}
	}
	return out
}

// takedownCaseColumns are a case's columns (scanCase), from
// takedownCaseFrom.
const takedownCaseColumns = `c.id, c.url, c.state, COALESCE(c.source_org, 0), COALESCE(c.queue_org, 0),
	c.received_at, c.fetched_at, c.assessed_at, c.removed_at, c.assessed_by, COALESCE(c.assessed_org, 0),
	c.submit_indicators, c.referral, c.referred_at, c.escalated, c.fetch_error, c.fetch_attempts, c.reason,
	c.description_sealed, c.contact_sealed, c.country, COALESCE(c.host_org, 0), COALESCE(h.name, ''), c.addresses,
	COALESCE(c.place_id, 0)`

const takedownCaseFrom = ` FROM takedown_cases c LEFT JOIN orgs h ON h.id = c.host_org `

// takedownCaseCounts are the columns of a list's counts of items
// (takedown.Case.ItemCount, Matched), scanned as extra.
const takedownCaseCounts = `, (SELECT count(*) FROM takedown_items i WHERE i.case_id = c.id),
	(SELECT count(*) FROM takedown_items i WHERE i.case_id = c.id AND i.matches <> '[]')`

// scanTakedownCase scans the takedownCaseColumns of a row into c, then
// the columns after them into extra.
func scanTakedownCase(r interface{ Scan(...any) error }, c *takedown.Record, extra ...any) error {
	var (
		fetched, assessed, removed, referred sql.NullTime
		addrs                                string
	)
	if err := r.Scan(append([]any{&c.ID, &c.URL, &c.State, &c.Source, &c.Queue, &c.ReceivedAt, &fetched, &assessed, &removed,
		&c.AssessedBy, &c.AssessedOrg, &c.SubmitIndicators, &c.Referral, &referred, &c.Escalated, &c.FetchError, &c.FetchAttempts, &c.Reason,
		&c.DescriptionSealed, &c.ContactSealed, &c.Hosting.Country, &c.Hosting.Host, &c.Hosting.HostName, &addrs, &c.Place}, extra...)...); err != nil {
		return err
	}
	c.ReceivedAt = c.ReceivedAt.UTC()
	c.FetchedAt, c.AssessedAt, c.RemovedAt, c.ReferredAt = nullTime(fetched), nullTime(assessed), nullTime(removed), nullTime(referred)
	c.Hosting.Addresses = parseAddrs(addrs)
	if len(c.DescriptionSealed) == 0 {
		c.DescriptionSealed = nil
	}
	if len(c.ContactSealed) == 0 {
		c.ContactSealed = nil
	}
	return nil
}

func takedownCase(ctx context.Context, tx *Tx, id string, lock bool) (takedown.Record, error) {
	q := `SELECT ` + takedownCaseColumns + takedownCaseFrom + `WHERE c.id = $1`
	if lock && tx.Postgres() {
		q += ` FOR UPDATE OF c`
	}
	var r takedown.Record
	err := scanTakedownCase(tx.QueryRow(ctx, q, id), &r)
	if errors.Is(err, ErrNoRows) {
		return r, core.Errorf(core.ErrNotFound, "no case %s", id)
	}
	return r, err
}

// storedMatch is a match as takedown_items.matches keeps it.
type storedMatch struct {
	Indicator int64              `json:"indicator"`
	List      string             `json:"list"`
	Signal    indicator.Signal   `json:"signal"`
	Category  indicator.Category `json:"category"`
	Distance  int                `json:"distance"`
}

const takedownItemColumns = `i.idx, i.url, i.content_type, i.size, COALESCE(i.sha256, ''), COALESCE(i.md5, ''),
	COALESCE(i.pdq, ''), i.quality, i.matches, COALESCE(i.classification, ''), i.by_default, i.error, i.content_sealed IS NOT NULL,
	i.country, COALESCE(i.host_org, 0), COALESCE(h.name, ''), i.addr, i.last_check_at, i.next_check_at, i.gone_at, i.removed_at`

func takedownItems(ctx context.Context, tx *Tx, id string) ([]takedown.Item, error) {
	rows, err := tx.Query(ctx, `SELECT `+takedownItemColumns+` FROM takedown_items i LEFT JOIN orgs h ON h.id = i.host_org
		WHERE i.case_id = $1 ORDER BY i.idx`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []takedown.Item
	for rows.Next() {
		var (
			it                                takedown.Item
			matches, addr                     string
			last, next, goneTime, removedTime sql.NullTime
		)
		if err := rows.Scan(&it.Index, &it.URL, &it.ContentType, &it.Size, &it.SHA256, &it.MD5, &it.PDQ, &it.Quality,
			&matches, &it.Classification, &it.ByDefault, &it.Error, &it.HasContent, &it.Hosting.Country, &it.Hosting.Host,
			&it.Hosting.HostName, &addr, &last, &next, &goneTime, &removedTime); err != nil {
			return nil, err
		}
		var ms []storedMatch
		if err := json.Unmarshal([]byte(matches), &ms); err != nil {
			return nil, fmt.Errorf("item %d of case %s: matches: %w", it.Index, id, err)
		}
		for _, m := range ms {
			it.Matches = append(it.Matches, takedown.Match(m))
		}
		it.Hosting.Addresses = parseAddrs(addr)
		it.LastCheckAt, it.NextCheckAt, it.GoneAt, it.RemovedAt = nullTime(last), nullTime(next), nullTime(goneTime), nullTime(removedTime)
		out = append(out, it)
	}
	return out, rows.Err()
}

const takedownNoticeColumns = `id, case_id, COALESCE(host_org, 0), channel, COALESCE(via_org, 0), urls, classification,
	created_at, sent_at, sends, next_send_at, answered_at, last_error`

func scanTakedownNotice(r interface{ Scan(...any) error }, n *takedown.Notice) error {
	var (
		urls                 string
		sent, next, answered sql.NullTime
	)
	if err := r.Scan(&n.ID, &n.Case, &n.Host, &n.Channel, &n.Via, &urls, &n.Classification, &n.CreatedAt,
		&sent, &n.Sends, &next, &answered, &n.LastError); err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(urls), &n.URLs); err != nil {
		return fmt.Errorf("notice %s: urls: %w", n.ID, err)
	}
	n.CreatedAt = n.CreatedAt.UTC()
	n.SentAt, n.NextSendAt, n.AnsweredAt = nullTime(sent), nullTime(next), nullTime(answered)
	return nil
}

// TakedownCase implements takedown.Store.
func (db *DB) TakedownCase(ctx context.Context, id string) (takedown.Record, error) {
	var r takedown.Record
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		var err error
		if r, err = takedownCase(ctx, tx, id, false); err != nil {
			return err
		}
		if r.Items, err = takedownItems(ctx, tx, id); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT `+takedownNoticeColumns+` FROM takedown_notices WHERE case_id = $1
			ORDER BY created_at, id`, id)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var n takedown.Notice
			if err := scanTakedownNotice(rows, &n); err != nil {
				return err
			}
			r.Notices = append(r.Notices, n)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		evs, err := tx.Query(ctx, `SELECT at, kind, actor, COALESCE(org_id, 0), detail FROM takedown_events
			WHERE case_id = $1 ORDER BY id`, id)
		if err != nil {
			return err
		}
		defer evs.Close()
		for evs.Next() {
			var ev takedown.Event
			if err := evs.Scan(&ev.At, &ev.Kind, &ev.Actor, &ev.Org, &ev.Detail); err != nil {
				return err
			}
			ev.At = ev.At.UTC()
			r.Events = append(r.Events, ev)
		}
		return evs.Err()
	})
	return r, err
}

// TakedownCases implements takedown.Store.
func (db *DB) TakedownCases(ctx context.Context, f takedown.CaseFilter) ([]takedown.Case, error) {
	var out []takedown.Case
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		out = nil
		var w filter
		if f.State != "" {
			w.and(`c.state = ` + w.arg(string(f.State)))
		}
		if f.Org != 0 {
			o := w.arg(f.Org)
			w.and(`(c.queue_org = ` + o + ` OR c.source_org = ` + o +
				` OR EXISTS (SELECT 1 FROM takedown_notices n WHERE n.case_id = c.id AND n.via_org = ` + o + `))`)
		}
		if s := f.Search; s != "" {
			low := strings.ToLower(s)
			h := w.arg(low)
			w.and(`(c.id = ` + w.arg(s) + ` OR c.url_key = ` + w.arg(urlKey(s)) +
				` OR lower(c.url) LIKE ` + w.arg("%"+likeEscape(low)+"%") + ` ESCAPE '\'` +
				` OR EXISTS (SELECT 1 FROM takedown_items i WHERE i.case_id = c.id AND (i.sha256 = ` + h +
				` OR i.md5 = ` + h + ` OR i.pdq = ` + h + `)))`)
		}
		if f.After != "" {
			var at time.Time
			err := tx.QueryRow(ctx, `SELECT received_at FROM takedown_cases WHERE id = $1`, f.After).Scan(&at)
			if errors.Is(err, ErrNoRows) {
				return core.Errorf(core.ErrInvalid, "after must be the last case of an earlier page, not %q", f.After)
			}
			if err != nil {
				return err
			}
			t, id := w.arg(at), w.arg(f.After)
			w.and(`(c.received_at > ` + t + ` OR (c.received_at = ` + t + ` AND c.id > ` + id + `))`)
		}
		q := `SELECT ` + takedownCaseColumns + takedownCaseCounts + takedownCaseFrom + w.where() +
			` ORDER BY c.received_at, c.id LIMIT ` + w.arg(f.Limit)
		rows, err := tx.Query(ctx, q, w.args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r takedown.Record
			if err := scanTakedownCase(rows, &r, &r.ItemCount, &r.Matched); err != nil {
				return err
			}
			out = append(out, r.Case)
		}
		return rows.Err()
	})
	return out, err
}

// TakedownContent implements takedown.Store.
func (db *DB) TakedownContent(ctx context.Context, id string, index int) ([]byte, error) {
	var b []byte
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		return tx.QueryRow(ctx, `SELECT content_sealed FROM takedown_items WHERE case_id = $1 AND idx = $2`, id, index).Scan(&b)
	})
	if errors.Is(err, ErrNoRows) {
		return nil, core.Errorf(core.ErrNotFound, "case %s has no item %d", id, index)
	}
	if len(b) == 0 {
		b = nil
	}
	return b, err
}

// TakedownNotice implements takedown.Store.
func (db *DB) TakedownNotice(ctx context.Context, id string) (takedown.Notice, error) {
	var n takedown.Notice
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		return scanTakedownNotice(tx.QueryRow(ctx, `SELECT `+takedownNoticeColumns+` FROM takedown_notices WHERE id = $1`, id), &n)
	})
	if errors.Is(err, ErrNoRows) {
		return n, core.Errorf(core.ErrNotFound, "no notice %s", id)
	}
	return n, err
}

// dueItems is the FROM of DueChecks: on SQLite, told to read the partial
// index of due rechecks (as pendingJobs is).
func (db *DB) dueItems() string {
	if db.pg == nil {
		return "takedown_items i INDEXED BY takedown_items_due"
	}
	return "takedown_items i"
}

// DueChecks implements takedown.Store.
func (db *DB) DueChecks(ctx context.Context, now time.Time, limit int) ([]takedown.Check, error) {
	var out []takedown.Check
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		out = nil
		rows, err := tx.Query(ctx, `SELECT i.case_id, i.idx, i.url, c.url, COALESCE(i.sha256, ''), COALESCE(i.pdq, ''), i.last_check_at, i.gone_at
			FROM `+db.dueItems()+` JOIN takedown_cases c ON c.id = i.case_id
			WHERE i.removed_at IS NULL AND i.next_check_at IS NOT NULL AND i.next_check_at <= $1 AND c.state = 'noticed'
			ORDER BY i.next_check_at LIMIT $2`, now, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				c          takedown.Check
				last, gone sql.NullTime
			)
			if err := rows.Scan(&c.Case, &c.Index, &c.URL, &c.Page, &c.SHA256, &c.PDQ, &last, &gone); err != nil {
				return err
			}
			c.LastCheckAt, c.GoneAt = nullTime(last), nullTime(gone)
			out = append(out, c)
		}
		return rows.Err()
	})
	return out, err
}

// ExpiredContent implements takedown.Store: through the partial index of
// the items keeping content (takedown_items_content), which are few.
func (db *DB) ExpiredContent(ctx context.Context, before time.Time, limit int) ([]string, error) {
	return db.firstColumn(ctx, `SELECT DISTINCT i.case_id FROM takedown_items i JOIN takedown_cases c ON c.id = i.case_id
			WHERE i.content_sealed IS NOT NULL AND c.fetched_at <= $1 ORDER BY i.case_id LIMIT $2`, before, limit)
}

// DueNotices implements takedown.Store.
func (db *DB) DueNotices(ctx context.Context, now time.Time, limit int) ([]string, error) {
	return db.firstColumn(ctx, `SELECT n.id FROM takedown_notices n JOIN takedown_cases c ON c.id = n.case_id
			WHERE n.next_send_at IS NOT NULL AND n.next_send_at <= $1 AND c.state = 'noticed'
			AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.kind = $3 AND j.ref = n.id AND j.done_at IS NULL AND j.dead_at IS NULL)
			ORDER BY n.next_send_at LIMIT $2`, now, limit, takedown.JobNotice)
}

// DueEscalations implements takedown.Store.
func (db *DB) DueEscalations(ctx context.Context, before time.Time, limit int) ([]string, error) {
	return db.firstColumn(ctx, `SELECT id FROM takedown_cases
			WHERE state = 'noticed' AND escalated = FALSE AND assessed_at <= $1 ORDER BY assessed_at LIMIT $2`, before, limit)
}

// FigureCases implements takedown.Store.
func (db *DB) FigureCases(ctx context.Context, from, to time.Time) ([]takedown.FigureCase, error) {
	var out []takedown.FigureCase
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		out = nil
		rows, err := tx.Query(ctx, `SELECT c.id, COALESCE(c.host_org, 0), COALESCE(h.name, ''), COALESCE(h.country, ''),
				c.received_at, c.removed_at,
				(SELECT COALESCE(sum(n.sends), 0) FROM takedown_notices n WHERE n.case_id = c.id)
			FROM takedown_cases c LEFT JOIN orgs h ON h.id = c.host_org
			WHERE c.state IN ('noticed', 'removed') AND c.received_at >= $1 AND c.received_at < $2
			ORDER BY c.received_at, c.id`, from, to)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				f       takedown.FigureCase
				removed sql.NullTime
			)
			if err := rows.Scan(&f.ID, &f.Host, &f.HostName, &f.HostCountry, &f.ReceivedAt, &removed, &f.Sends); err != nil {
				return err
			}
			f.ReceivedAt, f.RemovedAt = f.ReceivedAt.UTC(), nullTime(removed)
			out = append(out, f)
		}
		return rows.Err()
	})
	return out, err
}

// NoticeContact implements takedown.Store: the register's notice address
// is read from the hosts table here, apart from the register's own
// store, which this flow needs nothing else of.
func (db *DB) NoticeContact(ctx context.Context, orgID int64) (takedown.Contact, error) {
	var c takedown.Contact
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		return tx.QueryRow(ctx, `SELECT `+orgColumns+`, o.webhook_sealed IS NOT NULL, COALESCE(hs.notice_email, '')
			FROM orgs o LEFT JOIN hosts hs ON hs.org_id = o.id WHERE o.id = $1`, orgID).
			Scan(&c.Org.ID, &c.Org.Name, &c.Org.Kind, &c.Org.Country, &c.Org.CreatedAt, &c.HasWebhook, &c.Email)
	})
	if errors.Is(err, ErrNoRows) {
		return c, core.Errorf(core.ErrNotFound, "no organisation %d", orgID)
	}
	return c, err
}

// Update implements takedown.Store.
func (s takedownStore) Update(ctx context.Context, fn func(ctx context.Context, tx takedown.Tx) error) error {
	return s.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error { return fn(ctx, takedownTx{tx}) })
}

// takedownTx is the row operations of takedown.Tx, in SQL.
type takedownTx struct{ tx *Tx }

var _ takedown.Tx = takedownTx{}

// AppendAudit implements audit.Appender.
func (t takedownTx) AppendAudit(ctx context.Context, ev audit.Event) (audit.Entry, error) {
	return appendAudit(ctx, t.tx, ev)
}

// LockCase implements takedown.Tx.
func (t takedownTx) LockCase(ctx context.Context, id string) (takedown.Record, error) {
	return takedownCase(ctx, t.tx, id, true)
}

// Items implements takedown.Tx.
func (t takedownTx) Items(ctx context.Context, id string) ([]takedown.Item, error) {
	return takedownItems(ctx, t.tx, id)
}

// openStates is the condition of the partial index takedown_cases_open,
// which an upsert names.
const openStates = `source_org IS NOT NULL AND state IN ('fetching', 'assessment', 'noticed')`

// AddCase implements takedown.Tx.
func (t takedownTx) AddCase(ctx context.Context, r takedown.Record) (string, time.Time, bool, error) {
	key := urlKey(r.URL)
	n, err := t.tx.Exec(ctx, `INSERT INTO takedown_cases (id, url, url_key, state, source_org, received_at,
			description_sealed, contact_sealed)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (source_org, url_key) WHERE `+openStates+` DO NOTHING`,
		r.ID, r.URL, key, string(takedown.Fetching), nullID(r.Source), r.ReceivedAt,
		nullBlob(r.DescriptionSealed), nullBlob(r.ContactSealed))
	if err != nil || n == 1 {
		return r.ID, r.ReceivedAt, n == 1, err
	}
	var (
		id string
		at time.Time
	)
	err = t.tx.QueryRow(ctx, `SELECT id, received_at FROM takedown_cases WHERE source_org = $1 AND url_key = $2 AND `+openStates,
		r.Source, key).Scan(&id, &at)
	return id, at.UTC(), false, err
}

// AddFoundCase implements takedown.Tx: a case of the URL from anyone,
// open or ended since, is looked for first, then the unique index
// takedown_cases_found settles two runs finding the URL at once. A case
// has no time of closing: it ended when it was removed, else assessed
// (closed as not illegal), else fetched (closed with nothing there).
func (t takedownTx) AddFoundCase(ctx context.Context, r takedown.Record, since time.Time) (string, bool, error) {
	key := urlKey(r.URL)
	var id string
	err := t.tx.QueryRow(ctx, `SELECT id FROM takedown_cases WHERE url_key = $1
			AND (state IN ('fetching', 'assessment', 'noticed')
				OR (state IN ('closed', 'removed') AND COALESCE(removed_at, assessed_at, fetched_at, received_at) >= $2))
		ORDER BY CASE WHEN state IN ('closed', 'removed') THEN 1 ELSE 0 END, received_at, id LIMIT 1`, key, since).Scan(&id)
	if err == nil || !errors.Is(err, ErrNoRows) {
		return id, false, err
	}
	n, err := t.tx.Exec(ctx, `INSERT INTO takedown_cases (id, url, url_key, state, received_at, place_id)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (url_key) WHERE `+foundOpen+` DO NOTHING`,
		r.ID, r.URL, key, string(takedown.Fetching), r.ReceivedAt, r.Place)
	if err != nil || n == 1 {
		return r.ID, n == 1, err
	}
	err = t.tx.QueryRow(ctx, `SELECT id FROM takedown_cases WHERE url_key = $1 AND `+foundOpen, key).Scan(&id)
	return id, false, err
}

// foundOpen is the condition of the partial index takedown_cases_found.
const foundOpen = `place_id IS NOT NULL AND state IN ('fetching', 'assessment', 'noticed')`

// SetFetched implements takedown.Tx.
func (t takedownTx) SetFetched(ctx context.Context, c takedown.Case) error {
	_, err := t.tx.Exec(ctx, `UPDATE takedown_cases SET state = $2, fetched_at = $3, fetch_error = $4, reason = $5,
			country = $6, host_org = $7, addresses = $8, queue_org = $9, fetch_attempts = $10
		WHERE id = $1`, c.ID, string(c.State), c.FetchedAt, c.FetchError, c.Reason,
		c.Hosting.Country, nullID(c.Hosting.Host), formatAddrs(c.Hosting.Addresses), nullID(c.Queue), c.FetchAttempts)
	return err
}

// RecordFetchAttempt implements takedown.Tx.
func (t takedownTx) RecordFetchAttempt(ctx context.Context, id, failure string) error {
	_, err := t.tx.Exec(ctx, `UPDATE takedown_cases SET fetch_attempts = fetch_attempts + 1, fetch_error = $2 WHERE id = $1`,
		id, failure)
	return err
}

// AddItem implements takedown.Tx.
func (t takedownTx) AddItem(ctx context.Context, id string, it takedown.Item, sealed []byte) error {
	ms := make([]storedMatch, len(it.Matches))
	for i, m := range it.Matches {
		ms[i] = storedMatch(m)
	}
	matches, err := json.Marshal(ms)
	if err != nil {
		return err
	}
	_, err = t.tx.Exec(ctx, `INSERT INTO takedown_items (case_id, idx, url, content_type, size, sha256, md5, pdq, quality,
			matches, error, content_sealed, country, host_org, addr)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		id, it.Index, it.URL, it.ContentType, it.Size, nullText(it.SHA256), nullText(it.MD5), nullText(it.PDQ), it.Quality,
		string(matches), it.Error, nullBlob(sealed), it.Hosting.Country, nullID(it.Hosting.Host), formatAddrs(it.Hosting.Addresses))
	if err != nil {
		return err
	}
	// The same indicator may match by two signals (SHA-256 and PDQ): one
	// row each.
	seen := map[int64]bool{}
	for _, m := range it.Matches {
		if seen[m.Indicator] {
			continue
		}
		seen[m.Indicator] = true
		if _, err := t.tx.Exec(ctx, `INSERT INTO takedown_item_matches (case_id, idx, indicator_id) VALUES ($1, $2, $3)`,
			id, it.Index, m.Indicator); err != nil {
			return err
		}
	}
	return nil
}

// SetQueue implements takedown.Tx.
func (t takedownTx) SetQueue(ctx context.Context, id string, queue int64) error {
	_, err := t.tx.Exec(ctx, `UPDATE takedown_cases SET queue_org = $2 WHERE id = $1`, id, nullID(queue))
	return err
}

// SetAssessed implements takedown.Tx.
func (t takedownTx) SetAssessed(ctx context.Context, r takedown.Record) error {
	_, err := t.tx.Exec(ctx, `UPDATE takedown_cases SET state = $2, reason = $3, assessed_at = $4, assessed_by = $5,
			assessed_org = $6, submit_indicators = $7
		WHERE id = $1`, r.ID, string(r.State), r.Reason, r.AssessedAt, r.AssessedBy, nullID(r.AssessedOrg), r.SubmitIndicators)
	return err
}

// Classify implements takedown.Tx.
func (t takedownTx) Classify(ctx context.Context, id string, index int, c takedown.Classification, byDefault bool, next time.Time) error {
	_, err := t.tx.Exec(ctx, `UPDATE takedown_items SET classification = $3, by_default = $4, next_check_at = $5 WHERE case_id = $1 AND idx = $2`,
		id, index, string(c), byDefault, orNull(next))
	return err
}

// DropContent implements takedown.Tx.
func (t takedownTx) DropContent(ctx context.Context, id string, indices []int) error {
	if indices == nil {
		_, err := t.tx.Exec(ctx, `UPDATE takedown_items SET content_sealed = NULL WHERE case_id = $1 AND content_sealed IS NOT NULL`, id)
		return err
	}
	for _, i := range indices {
		if _, err := t.tx.Exec(ctx, `UPDATE takedown_items SET content_sealed = NULL WHERE case_id = $1 AND idx = $2`, id, i); err != nil {
			return err
		}
	}
	return nil
}

// ExpireContent implements takedown.Tx.
func (t takedownTx) ExpireContent(ctx context.Context, id string, before time.Time) (bool, error) {
	n, err := t.tx.Exec(ctx, `UPDATE takedown_items SET content_sealed = NULL
		WHERE case_id = $1 AND content_sealed IS NOT NULL
		AND EXISTS (SELECT 1 FROM takedown_cases c WHERE c.id = $1 AND c.fetched_at <= $2)`, id, before)
	return n > 0, err
}

// AddNotice implements takedown.Tx.
func (t takedownTx) AddNotice(ctx context.Context, n takedown.Notice) error {
	urls, err := json.Marshal(n.URLs)
	if err != nil {
		return err
	}
	_, err = t.tx.Exec(ctx, `INSERT INTO takedown_notices (id, case_id, host_org, channel, via_org, urls, classification, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		n.ID, n.Case, nullID(n.Host), string(n.Channel), nullID(n.Via), string(urls), string(n.Classification), n.CreatedAt)
	return err
}

// RecordSend implements takedown.Tx.
func (t takedownTx) RecordSend(ctx context.Context, id string, at, next time.Time, failure string) error {
	q := `UPDATE takedown_notices SET sends = sends + 1, sent_at = $2, next_send_at = $3, last_error = '' WHERE id = $1`
	args := []any{id, at, next}
	if failure != "" {
		q = `UPDATE takedown_notices SET last_error = $2, next_send_at = COALESCE(next_send_at, $3) WHERE id = $1`
		args = []any{id, failure, next}
	}
	n, err := t.tx.Exec(ctx, q, args...)
	if err == nil && n == 0 {
		err = core.Errorf(core.ErrNotFound, "no notice %s", id)
	}
	return err
}

// DeferNotice implements takedown.Tx.
func (t takedownTx) DeferNotice(ctx context.Context, id string, next time.Time, why string) error {
	n, err := t.tx.Exec(ctx, `UPDATE takedown_notices SET last_error = $2, next_send_at = $3 WHERE id = $1`, id, why, next)
	if err == nil && n == 0 {
		err = core.Errorf(core.ErrNotFound, "no notice %s", id)
	}
	return err
}

// DeliverOnce implements takedown.Tx.
func (t takedownTx) DeliverOnce(ctx context.Context, id string, at time.Time) (bool, error) {
	n, err := t.tx.Exec(ctx, `UPDATE takedown_notices SET sends = 1, sent_at = $2, next_send_at = NULL, last_error = ''
		WHERE id = $1 AND sends = 0`, id, at)
	return n == 1, err
}

// SetNoticeRoute implements takedown.Tx.
func (t takedownTx) SetNoticeRoute(ctx context.Context, id string, ch takedown.Channel, via int64) error {
	_, err := t.tx.Exec(ctx, `UPDATE takedown_notices SET channel = $2, via_org = $3 WHERE id = $1`, id, string(ch), nullID(via))
	return err
}

// AnswerNotice implements takedown.Tx.
func (t takedownTx) AnswerNotice(ctx context.Context, id string, at, since time.Time) (bool, error) {
	n, err := t.tx.Exec(ctx, `UPDATE takedown_notices SET answered_at = $2
		WHERE id = $1 AND (answered_at IS NULL OR answered_at <= $3)`, id, at, since)
	return n == 1, err
}

// CheckNow implements takedown.Tx.
func (t takedownTx) CheckNow(ctx context.Context, id string, urls []string, at time.Time) error {
	for _, u := range urls {
		if _, err := t.tx.Exec(ctx, `UPDATE takedown_items SET next_check_at = $3
			WHERE case_id = $1 AND url = $2 AND removed_at IS NULL AND gone_at IS NULL
			AND classification IN ('baseline', 'national')`,
			id, u, at); err != nil {
			return err
		}
	}
	return nil
}

// RecordCheck implements takedown.Tx: of two sweeps that read the same
// item, the second changes nothing once the first recorded its check
// (last_check_at or gone_at no longer what it read).
func (t takedownTx) RecordCheck(ctx context.Context, r takedown.CheckResult) (bool, error) {
	// NULL-safe equality: IS in SQLite, IS NOT DISTINCT FROM in PostgreSQL.
	same := " IS "
	if t.tx.Postgres() {
		same = " IS NOT DISTINCT FROM "
	}
	n, err := t.tx.Exec(ctx, `UPDATE takedown_items SET last_check_at = $3, next_check_at = $4, gone_at = $5, removed_at = $6
		WHERE case_id = $1 AND idx = $2 AND removed_at IS NULL AND last_check_at`+same+`$7 AND gone_at`+same+`$8`,
		r.Case, r.Index, r.At, orNull(r.Next), orNull(r.Gone), orNull(r.Removed), orNull(r.PrevCheck), orNull(r.PrevGone))
	return n == 1, err
}

// SetRemoved implements takedown.Tx.
func (t takedownTx) SetRemoved(ctx context.Context, id string, at time.Time) error {
	if _, err := t.tx.Exec(ctx, `UPDATE takedown_cases SET state = 'removed', removed_at = $2 WHERE id = $1`, id, at); err != nil {
		return err
	}
	_, err := t.tx.Exec(ctx, `UPDATE takedown_notices SET next_send_at = NULL WHERE case_id = $1`, id)
	return err
}

// SetEscalated implements takedown.Tx.
func (t takedownTx) SetEscalated(ctx context.Context, id string) error {
	_, err := t.tx.Exec(ctx, `UPDATE takedown_cases SET escalated = TRUE WHERE id = $1`, id)
	return err
}

// SetReferred implements takedown.Tx.
func (t takedownTx) SetReferred(ctx context.Context, id, report string, at time.Time) error {
	_, err := t.tx.Exec(ctx, `UPDATE takedown_cases SET referral = $2, referred_at = $3 WHERE id = $1`, id, report, at)
	return err
}

// AddEvent implements takedown.Tx.
func (t takedownTx) AddEvent(ctx context.Context, id string, ev takedown.Event) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO takedown_events (case_id, at, kind, actor, org_id, detail) VALUES ($1, $2, $3, $4, $5, $6)`,
		id, ev.At, string(ev.Kind), ev.Actor, nullID(ev.Org), ev.Detail)
	return err
}

// QueueJob implements takedown.Tx.
func (t takedownTx) QueueJob(ctx context.Context, kind, ref string, at time.Time) error {
	return enqueueJob(ctx, t.tx, kind, ref, at)
}

// EnsureJob implements takedown.Tx.
func (t takedownTx) EnsureJob(ctx context.Context, kind, ref string, at time.Time) error {
	return ensureJob(ctx, t.tx, kind, ref, at)
}
