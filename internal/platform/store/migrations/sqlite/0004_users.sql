-- Staff users and their sessions; API keys gain scopes, expiry and
-- revocation.
--
-- Personal data is sealed (encrypted by package seal, with a key that is
-- not in the database): the e-mail address is found through its blind
-- index, a keyed hash. Secrets are stored as hashes only: passwords as
-- argon2id PHC strings, enrolment and session tokens as SHA-256.

CREATE TABLE users (
	id                  INTEGER PRIMARY KEY,
	org_id              INTEGER NOT NULL REFERENCES orgs (id),
	email_index         BLOB NOT NULL UNIQUE,
	email_sealed        BLOB NOT NULL,
	role                TEXT NOT NULL CHECK (role IN ('admin', 'analyst', 'reviewer', 'lea_officer', 'provider_admin', 'auditor')),
	password_hash       TEXT,   -- NULL until enrolled
	totp_sealed         BLOB, -- NULL until enrolled
	totp_pending_sealed BLOB, -- the secret shown while enrolling
	totp_last_step      INTEGER NOT NULL DEFAULT 0, -- the last TOTP time step accepted: no code is used twice
	enrol_token_hash    BLOB UNIQUE CHECK (length(enrol_token_hash) = 32), -- NULL once used
	enrol_expires_at    TIMESTAMP,
	failed_logins       INTEGER NOT NULL DEFAULT 0, -- consecutive
	locked_until        TIMESTAMP,
	created_at          TIMESTAMP NOT NULL,
	enrolled_at         TIMESTAMP,
	disabled_at         TIMESTAMP
);
CREATE INDEX users_org_id ON users (org_id);

CREATE TABLE sessions (
	token_hash         BLOB PRIMARY KEY CHECK (length(token_hash) = 32),
	user_id            INTEGER NOT NULL REFERENCES users (id),
	remote_addr_sealed BLOB NOT NULL,
	created_at         TIMESTAMP NOT NULL,
	last_seen_at       TIMESTAMP NOT NULL,
	expires_at         TIMESTAMP NOT NULL -- the absolute end, however active
);
CREATE INDEX sessions_user_id ON sessions (user_id);

-- scopes: policy action names separated by spaces; '' for no restriction.
ALTER TABLE api_keys ADD COLUMN scopes TEXT NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN expires_at TIMESTAMP;
ALTER TABLE api_keys ADD COLUMN revoked_at TIMESTAMP;
