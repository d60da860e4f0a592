-- Victims' cases (package victim): a case the person follows with its
-- number and secret (only its SHA-256 kept), the hashes it sent to the
-- list victim-reported, the providers known to have matched them, and the
-- directory of help services. No address and nothing else about the
-- person is kept; the optional contact is sealed.
CREATE TABLE victim_cases (
	id             text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
	secret_hash    bytea NOT NULL CHECK (length(secret_hash) = 32),
	contact_sealed bytea, -- NULL without a contact
	opened_at      timestamptz NOT NULL
);

-- A case's hashes, numbered from 1 in the case. indicator_id is NULL
-- from the row's commit until the hash is in the list (the service
-- completes such rows on the case's next request), and is not a foreign
-- key, as in report_matches. withdrawn_at is set when the person
-- withdraws the hash from the case.
CREATE TABLE victim_hashes (
	case_id      text NOT NULL REFERENCES victim_cases (id),
	idx          integer NOT NULL CHECK (idx >= 1),
	signal       text NOT NULL CHECK (signal IN ('pdq', 'md5', 'sha256')),
	value        text NOT NULL,
	indicator_id bigint,
	added_at     timestamptz NOT NULL,
	withdrawn_at timestamptz,
	PRIMARY KEY (case_id, idx),
	UNIQUE (case_id, signal, value)
);
CREATE INDEX victim_hashes_indicator ON victim_hashes (indicator_id);

-- Each provider known to have matched an indicator of an unverified list:
-- a match answered by /v1/match or /v1/hash-match, or a match from its
-- mirror the provider confirmed with /v1/match-feedback.
CREATE TABLE victim_matches (
	indicator_id bigint NOT NULL,
	provider_id  bigint NOT NULL REFERENCES orgs (id),
	first_at     timestamptz NOT NULL,
	PRIMARY KEY (indicator_id, provider_id)
);

-- The directory of support services for victims the centre keeps.
CREATE TABLE help_services (
	id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	country    text NOT NULL CHECK (length(country) = 2),
	language   text NOT NULL CHECK (length(language) = 2),
	name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	url        text NOT NULL DEFAULT '',
	phone      text NOT NULL DEFAULT '',
	created_at timestamptz NOT NULL,
	CHECK (url <> '' OR phone <> '')
);
CREATE INDEX help_services_country ON help_services (country, language);
