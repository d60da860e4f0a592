-- Lists, indicators, attestations and each list's change feed.
--
-- The bulk tables (indicators, attestations, changes) have no foreign keys:
-- checking one costs an index lookup per row, which halved the speed of
-- large imports. Their references are checked once per transaction instead
-- (the list is locked, the organisation looked up, indicator IDs come from
-- the same transaction), and no row of lists, orgs or indicators is ever
-- deleted.

-- A list's row is also its feed's counter: every transaction that appends
-- changes locks it first (SELECT ... FOR UPDATE), takes seqs head+1.., and
-- stores the new head, so seqs are dense and in commit order.
CREATE TABLE lists (
	id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name               text NOT NULL UNIQUE,
	min_attestations   integer NOT NULL CHECK (min_attestations >= 1),
	distinct_countries boolean NOT NULL,
	max_distance       integer NOT NULL CHECK (max_distance BETWEEN 0 AND 256),
	head               bigint NOT NULL DEFAULT 0,
	active_count       bigint NOT NULL DEFAULT 0,
	created_at         timestamptz NOT NULL
);

INSERT INTO lists (name, min_attestations, distinct_countries, max_distance, created_at)
VALUES ('known', 2, true, 31, now());

CREATE TABLE indicators (
	id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	list_id         bigint NOT NULL,
	signal          text NOT NULL CHECK (signal IN ('pdq', 'md5', 'sha256')),
	value           text NOT NULL,
	category        text NOT NULL CHECK (category IN ('A1', 'A2', 'B1', 'B2', 'baseline', 'national')),
	state           text NOT NULL CHECK (state IN ('pending', 'active', 'withdrawn')),
	created_at      timestamptz NOT NULL,
	activated_at    timestamptz,
	withdrawn_at    timestamptz,
	withdrawn_by    bigint REFERENCES orgs (id),
	withdraw_reason text,
	UNIQUE (list_id, signal, value)
)
-- Room in each page for the new version of a row when its state changes,
-- so that activating an indicator updates no index (a HOT update): this
-- doubled the speed of activating imports. For the same reason no index
-- covers state.
WITH (fillfactor = 70);

CREATE TABLE attestations (
	indicator_id bigint NOT NULL,
	org_id       bigint NOT NULL,
	org_country  text NOT NULL,
	category     text NOT NULL,
	reference    text NOT NULL,
	at           timestamptz NOT NULL,
	PRIMARY KEY (indicator_id, org_id)
);

CREATE TABLE changes (
	list_id      bigint NOT NULL,
	seq          bigint NOT NULL,
	kind         text NOT NULL CHECK (kind IN ('add', 'attest', 'activate', 'withdraw')),
	indicator_id bigint NOT NULL,
	org_id       bigint NOT NULL,
	at           timestamptz NOT NULL,
	PRIMARY KEY (list_id, seq)
);
