-- Organisations and their API keys. Times are TIMESTAMP columns holding
-- Unix microseconds, which the driver converts to and from time.Time.

CREATE TABLE orgs (
	id         INTEGER PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE,
	kind       TEXT NOT NULL CHECK (kind IN ('provider', 'hotline', 'lea', 'europol', 'centre')),
	country    TEXT NOT NULL CHECK (country GLOB '[A-Z][A-Z]'),
	created_at TIMESTAMP NOT NULL
);

-- Only SHA-256 of a key's secret is stored; id is the key's public part.
CREATE TABLE api_keys (
	id          TEXT PRIMARY KEY,
	org_id      INTEGER NOT NULL REFERENCES orgs (id),
	secret_hash BLOB NOT NULL CHECK (length(secret_hash) = 32),
	created_at  TIMESTAMP NOT NULL
);
CREATE INDEX api_keys_org_id ON api_keys (org_id);
