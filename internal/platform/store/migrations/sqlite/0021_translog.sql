-- The transparency logs (package translog): one per list, of the changes
-- that altered what providers match, and one of the audit trail's
-- checkpoints. Each is an RFC 6962 Merkle tree whose stored hashes
-- (golang.org/x/mod/sumdb/tlog's numbering) and entries are appended in
-- the transaction of the change they log.

-- A log's row is also its head: size, root and how far into its source it
-- is (through: the feed's seq, or the audit trail's seq of the last
-- checkpoint logged). Appenders lock it, after the list. origin and key
-- (the Ed25519 public key that signs its checkpoints) are NULL until a
-- server first signs a checkpoint of the log, then fixed.
CREATE TABLE logs (
	id         INTEGER PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE,
	list_id    INTEGER UNIQUE REFERENCES lists (id),
	origin     TEXT,
	key        BLOB CHECK (length(key) = 32),
	size       INTEGER NOT NULL DEFAULT 0 CHECK (size >= 0),
	root       BLOB NOT NULL CHECK (length(root) = 32),
	through    INTEGER NOT NULL DEFAULT 0 CHECK (through >= 0),
	created_at TIMESTAMP NOT NULL
);

-- Every list has its log, behind its feed by the whole feed: the server
-- catches it up at start (translog.Service.CatchUp). The root of the
-- empty tree is SHA-256 of nothing.
INSERT INTO logs (name, list_id, root, created_at)
SELECT 'lists/' || name, id, X'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
       CAST(unixepoch('subsec') * 1000000 AS INTEGER)
FROM lists;
INSERT INTO logs (name, root, created_at)
VALUES ('audit', X'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
        CAST(unixepoch('subsec') * 1000000 AS INTEGER));

-- The tree's stored hashes, idx as tlog.StoredHashIndex numbers them:
-- about two per entry, never changed once written.
CREATE TABLE log_hashes (
	log_id INTEGER NOT NULL,
	idx    INTEGER NOT NULL,
	hash   BLOB NOT NULL CHECK (length(hash) = 32),
	PRIMARY KEY (log_id, idx)
) WITHOUT ROWID;

-- The entries, numbered from 0, exactly as hashed.
CREATE TABLE log_entries (
	log_id INTEGER NOT NULL,
	idx    INTEGER NOT NULL,
	entry  BLOB NOT NULL,
	PRIMARY KEY (log_id, idx)
) WITHOUT ROWID;

-- Witnesses' cosignatures of a log's checkpoint of a size: one signature
-- line of a signed note each ("— NAME BASE64", no newline), at most one
-- per key name.
CREATE TABLE log_cosignatures (
	log_id INTEGER NOT NULL,
	size   INTEGER NOT NULL,
	name   TEXT NOT NULL,
	line   TEXT NOT NULL,
	PRIMARY KEY (log_id, size, name)
) WITHOUT ROWID;
