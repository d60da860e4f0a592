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
	id             text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
	-- The provider or host that removed the content.
	provider_id    bigint NOT NULL REFERENCES orgs (id),
	-- The organisation that filed it on the person's behalf; NULL when
	-- the public filed.
	filed_by       bigint REFERENCES orgs (id),
	-- What the provider gave the person: a report ID or its
	-- Idempotency-Key, a takedown notice or case ID, or anything else.
	reference      text NOT NULL CHECK (length(reference) BETWEEN 1 AND 255),
	secret_hash    bytea NOT NULL CHECK (length(secret_hash) = 32),
	body_sealed    bytea NOT NULL, -- description and contact
	state          text NOT NULL CHECK (state IN ('open', 'upheld', 'rejected')),
	received_at    timestamptz NOT NULL,
	due_at         timestamptz NOT NULL,
	decided_at     timestamptz,
	-- What the reference resolved to when filed; all NULL if it did not
	-- resolve (the reviewer looks by hand).
	report_id      text REFERENCES reports (id),
	case_id        text REFERENCES takedown_cases (id),
	notice_id      text REFERENCES takedown_notices (id),
	-- Who decided ("user:ID"), for which organisation, and why.
	decided_by     text NOT NULL DEFAULT '',
	decided_org    bigint REFERENCES orgs (id),
	reasons_sealed bytea,
	-- How many authorities an upheld complaint's correction reached.
	corrected      integer NOT NULL DEFAULT 0 CHECK (corrected >= 0)
);
-- The reviewers' queue: open first, by due date.
CREATE INDEX complaints_queue ON complaints (state, due_at, id);
-- A provider's complaints, newest first.
CREATE INDEX complaints_provider ON complaints (provider_id, received_at);

-- The indicators a complaint involves: those its report's or takedown
-- case's items matched. indicator_id is not a foreign key, as in
-- report_matches: the record stays when an indicator goes.
CREATE TABLE complaint_indicators (
	complaint_id text NOT NULL REFERENCES complaints (id),
	indicator_id bigint NOT NULL,
	PRIMARY KEY (complaint_id, indicator_id)
);

-- When an upheld complaint last corrected the report delivered to the
-- authority (package forward): the delivery is new to the authority again
-- until it acknowledges the correction.
ALTER TABLE deliveries ADD COLUMN corrected_at timestamptz;
