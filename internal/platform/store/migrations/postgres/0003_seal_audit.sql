-- Sealed data (package seal) and the audit trail (package audit).

-- The data key of each sealed record, wrapped (AES-256-GCM-encrypted) by the
-- master key named by master_version. Master keys are never stored in the
-- database, so these rows alone open nothing. Rotation rewrites wrapped and
-- master_version, never the sealed records.
CREATE TABLE data_keys (
	id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	master_version text NOT NULL CHECK (master_version ~ '^v[1-9][0-9]*$'),
	wrapped        bytea NOT NULL,
	created_at     timestamptz NOT NULL
);

-- The audit trail: entries numbered densely from 1, each hash covering its
-- fields and prev_hash, the hash of the entry before. Rows are only ever
-- inserted; package audit's Verify finds any edited, deleted or moved.
CREATE TABLE audit_log (
	seq       bigint PRIMARY KEY CHECK (seq >= 1),
	at        timestamptz NOT NULL,
	org_id    bigint NOT NULL,
	org_name  text NOT NULL,
	actor     text NOT NULL,
	action    text NOT NULL,
	object    text NOT NULL,
	purpose   text NOT NULL,
	outcome   text NOT NULL,
	prev_hash bytea NOT NULL CHECK (length(prev_hash) = 32),
	hash      bytea NOT NULL CHECK (length(hash) = 32)
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_action ON audit_log (action, seq);
CREATE INDEX audit_log_org_id ON audit_log (org_id, seq);

-- The chain's head, one row: every append locks it (SELECT ... FOR UPDATE),
-- chains the new entry to it and stores the new head in the same
-- transaction, so concurrent appends can neither fork the chain nor leave a
-- gap in it.
CREATE TABLE audit_head (
	id   integer PRIMARY KEY CHECK (id = 1),
	seq  bigint NOT NULL,
	hash bytea NOT NULL CHECK (length(hash) = 32)
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));

-- Signed statements of the chain's head at a time; the signing key is kept
-- outside the database.
CREATE TABLE audit_checkpoints (
	id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	seq       bigint NOT NULL CHECK (seq >= 0),
	hash      bytea NOT NULL CHECK (length(hash) = 32),
	at        timestamptz NOT NULL,
	signature bytea NOT NULL CHECK (length(signature) = 64)
);
CREATE INDEX audit_checkpoints_seq ON audit_checkpoints (seq, at);
