-- Staff users and their sessions; API keys gain scopes, expiry and
-- revocation.
--
-- Personal data is sealed (encrypted by package seal, with a key that is
-- not in the database): the e-mail address is found through its blind
-- index, a keyed hash. Secrets are stored as hashes only: passwords as
-- argon2id PHC strings, enrolment and session tokens as SHA-256.

CREATE TABLE users (
	id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	org_id              bigint NOT NULL REFERENCES orgs (id),
	email_index         bytea NOT NULL UNIQUE,
	email_sealed        bytea NOT NULL,
	role                text NOT NULL CHECK (role IN ('admin', 'analyst', 'reviewer', 'lea_officer', 'provider_admin', 'auditor')),
	password_hash       text,   -- NULL until enrolled
	totp_sealed         bytea,  -- NULL until enrolled
	totp_pending_sealed bytea,  -- the secret shown while enrolling
	totp_last_step      bigint NOT NULL DEFAULT 0, -- the last TOTP time step accepted: no code is used twice
	enrol_token_hash    bytea UNIQUE CHECK (length(enrol_token_hash) = 32), -- NULL once used
	enrol_expires_at    timestamptz,
	failed_logins       integer NOT NULL DEFAULT 0, -- consecutive
	locked_until        timestamptz,
	created_at          timestamptz NOT NULL,
	enrolled_at         timestamptz,
	disabled_at         timestamptz
);
CREATE INDEX users_org_id ON users (org_id);

CREATE TABLE sessions (
	token_hash         bytea PRIMARY KEY CHECK (length(token_hash) = 32),
	user_id            bigint NOT NULL REFERENCES users (id),
	remote_addr_sealed bytea NOT NULL,
	created_at         timestamptz NOT NULL,
	last_seen_at       timestamptz NOT NULL,
	expires_at         timestamptz NOT NULL -- the absolute end, however active
);
CREATE INDEX sessions_user_id ON sessions (user_id);

-- scopes: policy action names separated by spaces; '' for no restriction.
ALTER TABLE api_keys ADD COLUMN scopes text NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN expires_at timestamptz;
ALTER TABLE api_keys ADD COLUMN revoked_at timestamptz;
