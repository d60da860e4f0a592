-- Quarantine: an active indicator that providers say matched the wrong
-- content, or whose matches flood, stops matching until a reviewer
-- confirms it (back to active) or withdraws it. The indicator's state
-- quarantined and the feed's kinds quarantine and release carry it to
-- every node and mirror; the tables below record why and what followed.

-- SQLite cannot alter a CHECK constraint, and a rebuild of these bulk
-- tables would copy every indicator; the schema text is edited in place
-- instead, as in 0015_hosts.sql (existing rows satisfy the wider
-- constraints).
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = replace(sql, '''pending'', ''active'', ''withdrawn'')', '''pending'', ''active'', ''withdrawn'', ''quarantined'')')
WHERE type = 'table' AND name = 'indicators';
UPDATE sqlite_schema SET sql = replace(sql, '''add'', ''attest'', ''activate'', ''withdraw'')', '''add'', ''attest'', ''activate'', ''withdraw'', ''quarantine'', ''release'')')
WHERE type = 'table' AND name = 'changes';
PRAGMA writable_schema = RESET;

-- If an edit did not take, a CHECK refuses a probe row and the whole
-- migration is rolled back.
INSERT INTO indicators (list_id, signal, value, category, state, created_at) VALUES (0, 'md5', 'ward migration 0017 probe', 'A1', 'quarantined', 0);
DELETE FROM indicators WHERE list_id = 0 AND value = 'ward migration 0017 probe';
INSERT INTO changes (list_id, seq, kind, indicator_id, org_id, at) VALUES (0, 1, 'quarantine', 0, 0, 0), (0, 2, 'release', 0, 0, 0);
DELETE FROM changes WHERE list_id = 0;

-- Each quarantine of an indicator: why it began (cause, reason), by whom
-- (org_id NULL and actor 'system' for the automatic ones), and how it
-- ended (outcome, ended_*; all NULL while it is open). At most one is open
-- per indicator. Reasons and notes are the staff's, like withdraw_reason,
-- and not sealed.
CREATE TABLE quarantines (
	id           INTEGER PRIMARY KEY,
	indicator_id INTEGER NOT NULL,
	cause        TEXT NOT NULL CHECK (cause IN ('false_positive', 'flood', 'manual', 'complaint')),
	reason       TEXT NOT NULL DEFAULT '',
	org_id       INTEGER REFERENCES orgs (id),
	actor        TEXT NOT NULL,
	at           TIMESTAMP NOT NULL,
	ended_at     TIMESTAMP,
	outcome      TEXT CHECK (outcome IN ('confirmed', 'withdrawn')),
	ended_by     TEXT,
	ended_org_id INTEGER REFERENCES orgs (id),
	ended_note   TEXT,
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
	provider_id  INTEGER NOT NULL REFERENCES orgs (id),
	indicator_id INTEGER NOT NULL,
	verdict      TEXT NOT NULL CHECK (verdict IN ('false_positive', 'confirmed')),
	note_sealed  BLOB,
	at           TIMESTAMP NOT NULL,
	answered_at  TIMESTAMP,
	PRIMARY KEY (provider_id, indicator_id)
) WITHOUT ROWID;
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
	indicator_id INTEGER NOT NULL,
	item_key     BLOB NOT NULL,
	provider_id  INTEGER NOT NULL,
	seen_at      TIMESTAMP NOT NULL,
	answered_at  TIMESTAMP,
	PRIMARY KEY (indicator_id, item_key, provider_id)
) WITHOUT ROWID;
CREATE INDEX match_sightings_seen ON match_sightings (seen_at);
