package store

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/indicator/translog"
)

// Translog returns db as translog.Store. The logs are appended to by the
// transactions of the changes they log (logFeed, logAuditCheckpoints).
func (db *DB) Translog() translog.Store { return translogStore{db} }

type translogStore struct{ *DB }

var _ translog.Store = translogStore{}

// logRow is a log as stored.
type logRow struct {
	id  int64
	log translog.Log
}

// logSelect reads logs with their list; Behind is how far the list's
// feed, or the audit trail's checkpoints, are past the log's through.
const logSelect = `
	SELECT g.id, g.name, coalesce(l.name, ''), coalesce(g.origin, ''), g.key, g.size, g.root, g.through,
	       CASE WHEN g.list_id IS NULL THEN (SELECT coalesce(max(seq), 0) FROM audit_checkpoints) ELSE l.head END - g.through
	FROM logs g LEFT JOIN lists l ON l.id = g.list_id`

func scanLog(r interface{ Scan(...any) error }) (logRow, error) {
	var (
		g         logRow
		key, root []byte
	)
	if err := r.Scan(&g.id, &g.log.Name, &g.log.List, &g.log.Origin, &key, &g.log.Size, &root, &g.log.Through, &g.log.Behind); err != nil {
		return g, err
	}
	if len(key) > 0 {
		g.log.Key = ed25519.PublicKey(key)
	}
	if len(root) != tlog.HashSize {
		return g, fmt.Errorf("log %s: stored root has %d bytes", g.log.Name, len(root))
	}
	copy(g.log.Root[:], root)
	g.log.Behind = max(g.log.Behind, 0)
	return g, nil
}

// getLog reads the log that where (a condition on logs g) selects. With
// lock, it also locks the log's row until the transaction ends; every
// appender locks it, after the list if it logs one.
func getLog(ctx context.Context, tx *Tx, lock bool, where string, args ...any) (logRow, error) {
	q := logSelect + ` WHERE ` + where
	if lock && tx.Postgres() {
		q += ` FOR UPDATE OF g`
	}
	g, err := scanLog(tx.QueryRow(ctx, q, args...))
	if errors.Is(err, ErrNoRows) {
		return g, core.Errorf(core.ErrNotFound, "no log %q", fmt.Sprint(args...))
	}
	return g, err
}

// Logs implements translog.Store.
func (s translogStore) Logs(ctx context.Context) ([]translog.Log, error) {
	var logs []translog.Log
	err := s.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		logs = nil
		rows, err := tx.Query(ctx, logSelect+` ORDER BY g.name`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			g, err := scanLog(rows)
			if err != nil {
				return err
			}
			logs = append(logs, g.log)
		}
		return rows.Err()
	})
	return logs, err
}

// Log implements translog.Store.
func (s translogStore) Log(ctx context.Context, name string) (translog.Log, error) {
	var g logRow
	err := s.ReadOnly(ctx, func(ctx context.Context, tx *Tx) (err error) {
		g, err = getLog(ctx, tx, false, `g.name = $1`, name)
		return err
	})
	return g.log, err
}

// SetLogOrigin implements translog.Store.
func (s translogStore) SetLogOrigin(ctx context.Context, name, origin string, key ed25519.PublicKey) (translog.Log, error) {
	var g logRow
	err := s.ReadWrite(ctx, func(ctx context.Context, tx *Tx) (err error) {
		if _, err := tx.Exec(ctx, `UPDATE logs SET origin = $2, key = $3 WHERE name = $1 AND origin IS NULL`, name, origin, []byte(key)); err != nil {
			return err
		}
		g, err = getLog(ctx, tx, false, `g.name = $1`, name)
		return err
	})
	return g.log, err
}

// LogHashes implements translog.Store.
func (s translogStore) LogHashes(ctx context.Context, name string, indexes []int64) ([]tlog.Hash, error) {
	var hashes []tlog.Hash
	err := s.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		g, err := getLog(ctx, tx, false, `g.name = $1`, name)
		if err != nil {
			return err
		}
		hashes, err = readLogHashes(ctx, tx, g.id, indexes)
		return err
	})
	return hashes, err
}

// readLogHashes reads the stored hashes at indexes of log logID. Hashes
// close together (a tile of level 0, most of those read) are read as one
// range of the primary key, others one by one.
func readLogHashes(ctx context.Context, tx *Tx, logID int64, indexes []int64) ([]tlog.Hash, error) {
	if len(indexes) == 0 {
		return nil, nil
	}
	lo, hi := slices.Min(indexes), slices.Max(indexes)
	var (
		rows Rows
		err  error
	)
	switch {
	case hi-lo < 4*int64(len(indexes)):
		rows, err = tx.Query(ctx, `SELECT idx, hash FROM log_hashes WHERE log_id = $1 AND idx BETWEEN $2 AND $3`, logID, lo, hi)
	case tx.Postgres():
		rows, err = tx.Query(ctx, `SELECT idx, hash FROM log_hashes WHERE log_id = $1 AND idx = ANY ($2)`, logID, indexes)
	default:
		list, _ := json.Marshal(indexes)
		rows, err = tx.Query(ctx, `SELECT idx, hash FROM log_hashes WHERE log_id = $1 AND idx IN (SELECT value FROM json_each($2))`,
			logID, string(list))
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	found := make(map[int64]tlog.Hash, len(indexes))
	for rows.Next() {
		var (
			idx int64
			h   []byte
		)
		if err := rows.Scan(&idx, &h); err != nil {
			return nil, err
		}
		if len(h) != tlog.HashSize {
			return nil, fmt.Errorf("log hash %d has %d bytes", idx, len(h))
		}
		found[idx] = tlog.Hash(h)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		h, ok := found[x]
		if !ok {
			return nil, fmt.Errorf("log %d has no stored hash %d", logID, x)
		}
		out[i] = h
	}
	return out, nil
}

// LogEntries implements translog.Store.
func (s translogStore) LogEntries(ctx context.Context, name string, start int64, n int) ([][]byte, error) {
	var entries [][]byte
	err := s.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		g, err := getLog(ctx, tx, false, `g.name = $1`, name)
		if err != nil {
			return err
		}
		entries = make([][]byte, 0, n)
		rows, err := tx.Query(ctx, `SELECT idx, entry FROM log_entries WHERE log_id = $1 AND idx >= $2 AND idx < $3 ORDER BY idx`,
			g.id, start, start+int64(n))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				idx int64
				e   []byte
			)
			if err := rows.Scan(&idx, &e); err != nil {
				return err
			}
			if idx != start+int64(len(entries)) {
				return fmt.Errorf("log %s has no entry %d", name, start+int64(len(entries)))
			}
			entries = append(entries, e)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(entries) != n {
			return fmt.Errorf("log %s has no entry %d", name, start+int64(len(entries)))
		}
		return nil
	})
	return entries, err
}

// CatchUpLog implements translog.Store. A list's log is caught up with
// the list locked, as its changes are appended.
func (s translogStore) CatchUpLog(ctx context.Context, name string, limit int) (translog.Log, error) {
	var g logRow
	err := s.ReadWrite(ctx, func(ctx context.Context, tx *Tx) (err error) {
		if g, err = getLog(ctx, tx, false, `g.name = $1`, name); err != nil {
			return err
		}
		if g.log.List == "" {
			if g, err = getLog(ctx, tx, true, `g.id = $1`, g.id); err != nil {
				return err
			}
			if err := logAuditCheckpoints(ctx, tx, &g, limit); err != nil {
				return err
			}
		} else {
			l, err := getList(ctx, tx, g.log.List, true)
			if err != nil {
				return err
			}
			if g, err = getLog(ctx, tx, true, `g.id = $1`, g.id); err != nil {
				return err
			}
			if err := logChanges(ctx, tx, &g, min(l.head, g.log.Through+int64(limit))); err != nil {
				return err
			}
		}
		g, err = getLog(ctx, tx, false, `g.id = $1`, g.id)
		return err
	})
	if err != nil {
		return translog.Log{}, err
	}
	return g.log, nil
}

// logFeed appends to the log of list listID (locked) the changes
// before+1 to after, which the transaction appended to its feed, if the
// log is not behind; a log behind its feed is caught up in order by
// CatchUpLog instead, which will come to these changes.
func logFeed(ctx context.Context, tx *Tx, listID, before, after int64) error {
	g, err := getLog(ctx, tx, true, `g.list_id = $1`, listID)
	if err != nil {
		return err
	}
	if g.log.Through != before {
		return nil
	}
	return logChanges(ctx, tx, &g, after)
}

// logChanges appends to list log g (locked, with its list) the logged
// changes of its feed after g's through up to upTo, and moves through to
// upTo.
func logChanges(ctx context.Context, tx *Tx, g *logRow, upTo int64) error {
	if upTo <= g.log.Through {
		return nil
	}
	rows, err := tx.Query(ctx, `
		SELECT c.seq, c.kind, i.signal, i.value, i.category, c.at
		FROM changes c JOIN indicators i ON i.id = c.indicator_id
		WHERE c.list_id = (SELECT list_id FROM logs WHERE id = $1) AND c.seq > $2 AND c.seq <= $3
		  AND c.kind IN ('activate', 'quarantine', 'release', 'withdraw')
		  AND (c.kind <> 'withdraw' OR i.activated_at IS NOT NULL)
		ORDER BY c.seq`, g.id, g.log.Through, upTo)
	if err != nil {
		return err
	}
	var entries [][]byte
	for rows.Next() {
		var (
			e                      translog.Entry
			kind, signal, category string
			at                     time.Time
		)
		if err := rows.Scan(&e.Seq, &kind, &signal, &e.Value, &category, &at); err != nil {
			rows.Close()
			return err
		}
		e.Kind, e.Signal, e.Category, e.At = indicator.ChangeKind(kind), indicator.Signal(signal), indicator.Category(category), at
		entries = append(entries, e.Marshal())
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	return appendLog(ctx, tx, g, entries, upTo)
}

// auditInline is how many audit checkpoints the transaction storing one
// considers, so that a backlog (checkpoints from before the log) is
// worked off a little at a time between the CatchUpLog of servers' starts.
const auditInline = 100

// logAuditCheckpoints appends to the audit log g (locked) the first
// checkpoint stored of each seq after g's through, from at most limit
// checkpoints, and moves through to the last seq seen.
func logAuditCheckpoints(ctx context.Context, tx *Tx, g *logRow, limit int) error {
	rows, err := tx.Query(ctx, `
		SELECT seq, hash, at, signature FROM audit_checkpoints WHERE seq > $1 ORDER BY seq, at, id LIMIT $2`,
		g.log.Through, limit)
	if err != nil {
		return err
	}
	var (
		entries [][]byte
		through = g.log.Through
	)
	for rows.Next() {
		var (
			c    audit.Checkpoint
			hash []byte
		)
		if err := rows.Scan(&c.Seq, &hash, &c.At, &c.Signature); err != nil {
			rows.Close()
			return err
		}
		if c.Seq == through { // a later signature of a head logged already
			continue
		}
		if err := toHash(&c.Hash, hash, fmt.Sprintf("audit checkpoint at seq %d", c.Seq)); err != nil {
			rows.Close()
			return err
		}
		entries, through = append(entries, c.MarshalLine()), c.Seq
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	return appendLog(ctx, tx, g, entries, through)
}

// appendLog appends entries to log g (locked) and stores its new size,
// root and through.
func appendLog(ctx context.Context, tx *Tx, g *logRow, entries [][]byte, through int64) error {
	if len(entries) > 0 {
		hashes, root, err := translog.Append(g.log.Size, entries, tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
			return readLogHashes(ctx, tx, g.id, indexes)
		}))
		if err != nil {
			return err
		}
		hs := make([][]byte, len(hashes))
		for i := range hashes {
			hs[i] = hashes[i][:]
		}
		if err := insertLogRows(ctx, tx, "log_hashes", "hash", g.id, tlog.StoredHashCount(g.log.Size), hs); err != nil {
			return err
		}
		if err := insertLogRows(ctx, tx, "log_entries", "entry", g.id, g.log.Size, entries); err != nil {
			return err
		}
		g.log.Size += int64(len(entries))
		g.log.Root = root
	}
	g.log.Through = through
	_, err := tx.Exec(ctx, `UPDATE logs SET size = $2, root = $3, through = $4 WHERE id = $1`,
		g.id, g.log.Size, g.log.Root[:], g.log.Through)
	return err
}

// insertLogRows inserts values into column of table (log_hashes or
// log_entries) of log logID at idx first, first+1, ...: on PostgreSQL as
// one statement of arrays.
func insertLogRows(ctx context.Context, tx *Tx, table, column string, logID, first int64, values [][]byte) error {
	if tx.Postgres() {
		_, err := tx.Exec(ctx, `
			INSERT INTO `+table+` (log_id, idx, `+column+`)
			SELECT $1, $2 + v.o - 1, v.b FROM unnest($3::bytea[]) WITH ORDINALITY AS v (b, o)`, logID, first, values)
		return err
	}
	ins, err := tx.sq.PrepareContext(ctx, `INSERT INTO `+table+` (log_id, idx, `+column+`) VALUES ($1, $2, $3)`)
	if err != nil {
		return err
	}
	defer ins.Close()
	for i, v := range values {
		if _, err := ins.ExecContext(ctx, logID, first+int64(i), v); err != nil {
			return err
		}
	}
	return nil
}

// createListLog creates the (empty) log of new list listID named list.
func createListLog(ctx context.Context, tx *Tx, listID int64, list string, at time.Time) error {
	_, err := tx.Exec(ctx, `INSERT INTO logs (name, list_id, root, created_at) VALUES ($1, $2, $3, $4)`,
		translog.ListLog(list), listID, emptyTreeHash[:], at)
	return err
}

// AddCosignatures implements translog.Store.
func (s translogStore) AddCosignatures(ctx context.Context, name string, size int64, lines []string) error {
	return s.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
		g, err := getLog(ctx, tx, false, `g.name = $1`, name)
		if err != nil {
			return err
		}
		for _, line := range lines {
			key, err := translog.ParseCosignature(line)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `
				INSERT INTO log_cosignatures (log_id, size, name, line) VALUES ($1, $2, $3, $4)
				ON CONFLICT (log_id, size, name) DO NOTHING`, g.id, size, key, line); err != nil {
				return err
			}
		}
		return nil
	})
}

// Cosignatures implements translog.Store.
func (s translogStore) Cosignatures(ctx context.Context, name string, size int64) ([]string, error) {
	var lines []string
	err := s.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		lines = nil
		rows, err := tx.Query(ctx, `
			SELECT c.line FROM log_cosignatures c JOIN logs g ON g.id = c.log_id
			WHERE g.name = $1 AND c.size = $2 ORDER BY c.name`, name, size)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var l string
			if err := rows.Scan(&l); err != nil {
				return err
			}
			lines = append(lines, l)
		}
		return rows.Err()
	})
	return lines, err
}

// emptyTreeHash is the hash of a tree of no entries: SHA-256 of nothing
// (RFC 6962, 2.1).
var emptyTreeHash = func() tlog.Hash {
	h, err := tlog.TreeHash(0, nil)
	if err != nil {
		panic(err)
	}
	return h
}()
