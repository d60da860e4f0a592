-- The schema mirrors had before they were versioned: IF NOT EXISTS, so
-- that a mirror made then, which has these tables and no
-- schema_migrations, is brought to version 1 as it is.
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS indicators (
	id INTEGER PRIMARY KEY,
	signal TEXT NOT NULL,
	value TEXT NOT NULL,
	category TEXT NOT NULL
);
