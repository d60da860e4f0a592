-- Lists, indicators, attestations and each list's change feed.
--
-- The bulk tables (indicators, attestations, changes) have no foreign keys:
-- checking one costs an index lookup per row, which halved the speed of
-- large imports. Their references are checked once per transaction instead
-- (the list is locked, the organisation looked up, indicator IDs come from
-- the same transaction), and no row of lists, orgs or indicators is ever
-- deleted.

-- A list's row is also its feed's counter: every transaction that appends
-- changes reads head, takes seqs head+1.., and stores the new head. SQLite
-- has one writer at a time, so seqs are dense and in commit order.
CREATE TABLE lists (
	id                 INTEGER PRIMARY KEY,
	name               TEXT NOT NULL UNIQUE,
	min_attestations   INTEGER NOT NULL CHECK (min_attestations >= 1),
	distinct_countries BOOLEAN NOT NULL CHECK (distinct_countries IN (0, 1)),
	max_distance       INTEGER NOT NULL CHECK (max_distance BETWEEN 0 AND 256),
	head               INTEGER NOT NULL DEFAULT 0,
	active_count       INTEGER NOT NULL DEFAULT 0,
	created_at         TIMESTAMP NOT NULL
);

INSERT INTO lists (name, min_attestations, distinct_countries, max_distance, created_at)
VALUES ('known', 2, 1, 31, CAST(unixepoch('subsec') * 1000000 AS INTEGER));

CREATE TABLE indicators (
	id              INTEGER PRIMARY KEY,
	list_id         INTEGER NOT NULL,
	signal          TEXT NOT NULL CHECK (signal IN ('pdq', 'md5', 'sha256')),
	value           TEXT NOT NULL,
	category        TEXT NOT NULL CHECK (category IN ('A1', 'A2', 'B1', 'B2', 'baseline', 'national')),
	state           TEXT NOT NULL CHECK (state IN ('pending', 'active', 'withdrawn')),
	created_at      TIMESTAMP NOT NULL,
	activated_at    TIMESTAMP,
	withdrawn_at    TIMESTAMP,
	withdrawn_by    INTEGER REFERENCES orgs (id),
	withdraw_reason TEXT,
	UNIQUE (list_id, signal, value)
);

CREATE TABLE attestations (
	indicator_id INTEGER NOT NULL,
	org_id       INTEGER NOT NULL,
	org_country  TEXT NOT NULL,
	category     TEXT NOT NULL,
	reference    TEXT NOT NULL,
	at           TIMESTAMP NOT NULL,
	PRIMARY KEY (indicator_id, org_id)
) WITHOUT ROWID;

CREATE TABLE changes (
	list_id      INTEGER NOT NULL,
	seq          INTEGER NOT NULL,
	kind         TEXT NOT NULL CHECK (kind IN ('add', 'attest', 'activate', 'withdraw')),
	indicator_id INTEGER NOT NULL,
	org_id       INTEGER NOT NULL,
	at           TIMESTAMP NOT NULL,
	PRIMARY KEY (list_id, seq)
) WITHOUT ROWID;
