-- Quarantine: an active indicator that providers say matched the wrong
-- content, or whose matches flood, stops matching until a reviewer
-- confirms it (back to active) or withdraws it. The indicator's state
-- quarantined and the feed's kinds quarantine and release carry it to
-- every node and mirror; the tables below record why and what followed.
ALTER TABLE indicators DROP CONSTRAINT indicators_state_check;
ALTER TABLE indicators ADD CONSTRAINT indicators_state_check CHECK (state IN ('pending', 'active', 'withdrawn', 'quarantined'));
ALTER TABLE changes DROP CONSTRAINT changes_kind_check;
ALTER TABLE changes ADD CONSTRAINT changes_kind_check CHECK (kind IN ('add', 'attest', 'activate', 'withdraw', 'quarantine', 'release'));

-- Each quarantine of an indicator: why it began (cause, reason), by whom
-- (org_id NULL and actor 'system' for the automatic ones), and how it
-- ended (outcome, ended_*; all NULL while it is open). At most one is open
-- per indicator. Reasons and notes are the staff's, like withdraw_reason,
-- and not sealed.
CREATE TABLE quarantines (
	id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	indicator_id bigint NOT NULL,
	cause        text NOT NULL CHECK (cause IN ('false_positive', 'flood', 'manual', 'complaint')),
	reason       text NOT NULL DEFAULT '',
	org_id       bigint REFERENCES orgs (id),
	actor        text NOT NULL,
	at           timestamptz NOT NULL,
	ended_at     timestamptz,
	outcome      text CHECK (outcome IN ('confirmed', 'withdrawn')),
	ended_by     text,
	ended_org_id bigint REFERENCES orgs (id),
	ended_note   text,
	CHECK ((ended_at IS NULL) = (outcome IS NULL))
);
CREATE UNIQUE INDEX quarantines_open ON quarantines (indicator_id) WHERE ended_at IS NULL;
CREATE INDEX quarantines_queue ON quarantines (id) WHERE ended_at IS NULL;
CREATE INDEX quarantines_indicator ON quarantines (indicator_id, at);

-- A provider's verdict on its matches of an indicator; a later verdict
-- replaces the earlier. The note is the provider's free text, sealed.
-- answered_at is set when a review ended the quarantine the verdict
-- counted towards: answered verdicts no longer count, and the same verdict
-- sent again stays answered (only a changed verdict is a new one).
CREATE TABLE match_feedback (
	provider_id  bigint NOT NULL REFERENCES orgs (id),
	indicator_id bigint NOT NULL,
	verdict      text NOT NULL CHECK (verdict IN ('false_positive', 'confirmed')),
	note_sealed  bytea,
	at           timestamptz NOT NULL,
	answered_at  timestamptz,
	PRIMARY KEY (provider_id, indicator_id)
);
CREATE INDEX match_feedback_indicator ON match_feedback (indicator_id, verdict);

-- The distinct items (item_key: a short hash of the signal and value that
-- matched the indicator, never the value) each indicator matched, by each
-- provider (the organisation of the key; no foreign key on this table of
-- bulk writes, and organisations are not deleted), with when each was
-- last seen, refreshed at most every fraction of the flood window; rows
-- older than the window are purged. answered_at is set when a review ended
-- the quarantine the item counted towards: answered items no longer
-- count, however often they are seen again.
CREATE TABLE match_sightings (
	indicator_id bigint NOT NULL,
	item_key     bytea NOT NULL,
	provider_id  bigint NOT NULL,
	seen_at      timestamptz NOT NULL,
	answered_at  timestamptz,
	PRIMARY KEY (indicator_id, item_key, provider_id)
);
CREATE INDEX match_sightings_seen ON match_sightings (seen_at);
