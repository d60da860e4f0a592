-- The transparency logs (package translog): one per list, of the changes
-- that altered what providers match, and one of the audit trail's
-- checkpoints. Each is an RFC 6962 Merkle tree whose stored hashes
-- (golang.org/x/mod/sumdb/tlog's numbering) and entries are appended in
-- the transaction of the change they log.

-- A log's row is also its head: size, root and how far into its source it
-- is (through: the feed's seq, or the audit trail's seq of the last
-- checkpoint logged). Appenders lock it (SELECT ... FOR UPDATE), after
-- the list. origin and key (the Ed25519 public key that signs its
-- checkpoints) are NULL until a server first signs a checkpoint of the
-- log, then fixed.
CREATE TABLE logs (
	id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name       text NOT NULL UNIQUE,
	list_id    bigint UNIQUE REFERENCES lists (id),
	origin     text,
	key        bytea CHECK (length(key) = 32),
	size       bigint NOT NULL DEFAULT 0 CHECK (size >= 0),
	root       bytea NOT NULL CHECK (length(root) = 32),
	through    bigint NOT NULL DEFAULT 0 CHECK (through >= 0),
	created_at timestamptz NOT NULL
);

-- Every list has its log, behind its feed by the whole feed: the server
-- catches it up at start (translog.Service.CatchUp). The root of the
-- empty tree is SHA-256 of nothing.
INSERT INTO logs (name, list_id, root, created_at)
SELECT 'lists/' || name, id, '\xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'::bytea, now()
FROM lists;
INSERT INTO logs (name, root, created_at)
VALUES ('audit', '\xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'::bytea, now());

-- The tree's stored hashes, idx as tlog.StoredHashIndex numbers them:
-- about two per entry, never changed once written.
CREATE TABLE log_hashes (
	log_id bigint NOT NULL,
	idx    bigint NOT NULL,
	hash   bytea NOT NULL CHECK (length(hash) = 32),
	PRIMARY KEY (log_id, idx)
);

-- The entries, numbered from 0, exactly as hashed.
CREATE TABLE log_entries (
	log_id bigint NOT NULL,
	idx    bigint NOT NULL,
	entry  bytea NOT NULL,
	PRIMARY KEY (log_id, idx)
);

-- Witnesses' cosignatures of a log's checkpoint of a size: one signature
-- line of a signed note each ("— NAME BASE64", no newline), at most one
-- per key name.
CREATE TABLE log_cosignatures (
	log_id bigint NOT NULL,
	size   bigint NOT NULL,
	name   text NOT NULL,
	line   text NOT NULL,
	PRIMARY KEY (log_id, size, name)
);
