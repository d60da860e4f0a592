-- Complaints about removed content (package complaint): a person whose
-- content a provider or host removed complains with the reference they
-- were given, through the public page or API, or the provider files on
-- their behalf; a reviewer of the centre upholds or rejects it, with
-- reasons.
--
-- The complainant's description and contact address are personal data,
-- sealed together in body_sealed (package seal, associated data
-- complaint.BodyAAD(id)), as are the reviewer's reasons (reasons_sealed,
-- complaint.ReasonsAAD(id)), which may repeat them. The complainant's
-- address is never stored. Only SHA-256 of the case's secret is kept: the
-- secret is 130 random bits, shown once.

CREATE TABLE complaints (
	id             TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
	-- The provider or host that removed the content.
	provider_id    INTEGER NOT NULL REFERENCES orgs (id),
	-- The organisation that filed it on the person's behalf; NULL when
	-- the public filed.
	filed_by       INTEGER REFERENCES orgs (id),
	-- What the provider gave the person: a report ID or its
	-- Idempotency-Key, a takedown notice or case ID, or anything else.
	reference      TEXT NOT NULL CHECK (length(reference) BETWEEN 1 AND 255),
	secret_hash    BLOB NOT NULL CHECK (length(secret_hash) = 32),
	body_sealed    BLOB NOT NULL, -- description and contact
	state          TEXT NOT NULL CHECK (state IN ('open', 'upheld', 'rejected')),
	received_at    TIMESTAMP NOT NULL,
	due_at         TIMESTAMP NOT NULL,
	decided_at     TIMESTAMP,
	-- What the reference resolved to when filed; all NULL if it did not
	-- resolve (the reviewer looks by hand).
	report_id      TEXT REFERENCES reports (id),
	case_id        TEXT REFERENCES takedown_cases (id),
	notice_id      TEXT REFERENCES takedown_notices (id),
	-- Who decided ("user:ID"), for which organisation, and why.
	decided_by     TEXT NOT NULL DEFAULT '',
	decided_org    INTEGER REFERENCES orgs (id),
	reasons_sealed BLOB,
	-- How many authorities an upheld complaint's correction reached.
	corrected      INTEGER NOT NULL DEFAULT 0 CHECK (corrected >= 0)
);
-- The reviewers' queue: open first, by due date.
CREATE INDEX complaints_queue ON complaints (state, due_at, id);
-- A provider's complaints, newest first.
CREATE INDEX complaints_provider ON complaints (provider_id, received_at);

-- The indicators a complaint involves: those its report's or takedown
-- case's items matched. indicator_id is not a foreign key, as in
-- report_matches: the record stays when an indicator goes.
CREATE TABLE complaint_indicators (
	complaint_id TEXT NOT NULL REFERENCES complaints (id),
	indicator_id INTEGER NOT NULL,
	PRIMARY KEY (complaint_id, indicator_id)
);

-- When an upheld complaint last corrected the report delivered to the
-- authority (package forward): the delivery is new to the authority again
-- until it acknowledges the correction.
ALTER TABLE deliveries ADD COLUMN corrected_at TIMESTAMP;
