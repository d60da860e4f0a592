-- The latest checkpoint the witness cosigned of each log it witnesses.
CREATE TABLE logs (
	origin     TEXT PRIMARY KEY,
	size       INTEGER NOT NULL CHECK (size >= 0),
	root       TEXT NOT NULL,  -- base64 of the root hash
	checkpoint TEXT NOT NULL,  -- the signed note as the log sent it
	updated_at TIMESTAMP NOT NULL
);

-- Checkpoints validly signed by a log that the witness refused: proof of
-- a fork or a rewritten log, kept for whoever investigates it.
CREATE TABLE refused (
	id         INTEGER PRIMARY KEY,
	origin     TEXT NOT NULL,
	checkpoint TEXT NOT NULL,
	old_size   INTEGER NOT NULL,
	proof      TEXT NOT NULL,  -- the consistency proof lines as sent
	reason     TEXT NOT NULL,
	at         TIMESTAMP NOT NULL
);
CREATE INDEX refused_origin ON refused (origin, id);
