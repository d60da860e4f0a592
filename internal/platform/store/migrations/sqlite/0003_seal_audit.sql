-- Sealed data (package seal) and the audit trail (package audit).

-- The data key of each sealed record, wrapped (AES-256-GCM-encrypted) by the
-- master key named by master_version. Master keys are never stored in the
-- database, so these rows alone open nothing. Rotation rewrites wrapped and
-- master_version, never the sealed records.
CREATE TABLE data_keys (
	id             INTEGER PRIMARY KEY,
	master_version TEXT NOT NULL CHECK (master_version GLOB 'v[1-9]*' AND substr(master_version, 2) NOT GLOB '*[^0-9]*'),
	wrapped        BLOB NOT NULL,
	created_at     TIMESTAMP NOT NULL
);

-- The audit trail: entries numbered densely from 1, each hash covering its
-- fields and prev_hash, the hash of the entry before. Rows are only ever
-- inserted; package audit's Verify finds any edited, deleted or moved.
CREATE TABLE audit_log (
	seq       INTEGER PRIMARY KEY CHECK (seq >= 1),
	at        TIMESTAMP NOT NULL,
	org_id    INTEGER NOT NULL,
	org_name  TEXT NOT NULL,
	actor     TEXT NOT NULL,
	action    TEXT NOT NULL,
	object    TEXT NOT NULL,
	purpose   TEXT NOT NULL,
	outcome   TEXT NOT NULL,
	prev_hash BLOB NOT NULL CHECK (length(prev_hash) = 32),
	hash      BLOB NOT NULL CHECK (length(hash) = 32)
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_action ON audit_log (action, seq);
CREATE INDEX audit_log_org_id ON audit_log (org_id, seq);

-- The chain's head, one row: every append reads it, chains the new entry to
-- it and stores the new head in the same transaction. SQLite has one writer
-- at a time, so concurrent appends can neither fork the chain nor leave a
-- gap in it.
CREATE TABLE audit_head (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	seq  INTEGER NOT NULL,
	hash BLOB NOT NULL CHECK (length(hash) = 32)
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, zeroblob(32));

-- Signed statements of the chain's head at a time; the signing key is kept
-- outside the database.
CREATE TABLE audit_checkpoints (
	id        INTEGER PRIMARY KEY,
	seq       INTEGER NOT NULL CHECK (seq >= 0),
	hash      BLOB NOT NULL CHECK (length(hash) = 32),
	at        TIMESTAMP NOT NULL,
	signature BLOB NOT NULL CHECK (length(signature) = 64)
);
CREATE INDEX audit_checkpoints_seq ON audit_checkpoints (seq, at);
