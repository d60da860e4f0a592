-- Organisations and their API keys.

CREATE TABLE orgs (
	id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name       text NOT NULL UNIQUE,
	kind       text NOT NULL CHECK (kind IN ('provider', 'hotline', 'lea', 'europol', 'centre')),
	country    text NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
	created_at timestamptz NOT NULL
);

-- Only SHA-256 of a key's secret is stored; id is the key's public part.
CREATE TABLE api_keys (
	id          text PRIMARY KEY,
	org_id      bigint NOT NULL REFERENCES orgs (id),
	secret_hash bytea NOT NULL CHECK (length(secret_hash) = 32),
	created_at  timestamptz NOT NULL
);
CREATE INDEX api_keys_org_id ON api_keys (org_id);
