-- Provider reports (package report) and their files.
--
-- A report is personal data throughout (the reported user's e-mail and IP
-- addresses, the victims, the files), so its body and its files are
-- sealed (encrypted by package seal, with a key that is not in the
-- database). In clear is only what the queues and the idempotency of
-- intake need: who reported, state, type, urgency, times, and the files'
-- sizes and hashes (to match and bundle reports without opening them).
--
-- state has no CHECK: the centre's handling adds states (triaged,
-- forwarded, ...) without a new constraint; package report checks it.

CREATE TABLE reports (
	id              text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
	provider_id     bigint NOT NULL REFERENCES orgs (id),
	-- The provider's Idempotency-Key: a retry returns the same report.
	idempotency_key text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
	state           text NOT NULL,
	type            text NOT NULL CHECK (type IN ('known', 'new', 'solicitation')),
	urgent          boolean NOT NULL,
	-- A keyed hash of provider, key and body: tells a retry from another
	-- report sent with the same key.
	body_index      bytea NOT NULL CHECK (length(body_index) = 32),
	body_sealed     bytea NOT NULL,
	created_at      timestamptz NOT NULL,
	finished_at     timestamptz,
	retracted_at    timestamptz,
	UNIQUE (provider_id, idempotency_key)
);
-- The triage queue: finished reports, urgent first, oldest first.
CREATE INDEX reports_queue ON reports (state, urgent DESC, created_at);

CREATE TABLE report_files (
	report_id      text NOT NULL REFERENCES reports (id),
	file_index     integer NOT NULL CHECK (file_index >= 0), -- the index of its item in the report
	size           bigint NOT NULL CHECK (size >= 0),
	md5            text NOT NULL CHECK (length(md5) = 32),
	sha256         text NOT NULL CHECK (length(sha256) = 64),
	pdq            text CHECK (length(pdq) = 64), -- NULL unless a decodable image
	quality        integer NOT NULL DEFAULT 0 CHECK (quality BETWEEN 0 AND 100),
	content_sealed bytea NOT NULL,
	created_at     timestamptz NOT NULL,
	PRIMARY KEY (report_id, file_index)
);
CREATE INDEX report_files_sha256 ON report_files (sha256);
