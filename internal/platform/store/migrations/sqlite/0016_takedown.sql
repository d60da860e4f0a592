-- The takedown flow (package takedown): URLs reported by the public or by
-- partner hotlines, what was fetched there, the analysts' assessment,
-- the notices to hosts and the rechecks until removal is verified.
--
-- Personal data is sealed (package seal): the reporter's description and
-- contact address, with associated data bound to the case (takedown.
-- DescriptionAAD, ContactAAD), and the content fetched, bound to the case
-- and the item (takedown.ContentAAD): only images and videos that matched
-- no known material, up to a limit per case, and only until assessment
-- (the illegal items' until their referral), at most the content
-- retention after the fetch. The reporter's address is never stored. The
-- URL is in clear: it is what is searched, noticed and rechecked.

CREATE TABLE takedown_cases (
	id                 TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
	url                TEXT NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
	-- SHA-256 of url, in hex: the exact look-up of a URL.
	url_key            TEXT NOT NULL CHECK (length(url_key) = 64),
	state              TEXT NOT NULL CHECK (state IN ('fetching', 'assessment', 'noticed', 'removed', 'closed')),
	-- The hotline that submitted the case; NULL for a public report.
	source_org         INTEGER REFERENCES orgs (id),
	-- The hotline whose analysts assess it; NULL for the centre's own.
	queue_org          INTEGER REFERENCES orgs (id),
	received_at        TIMESTAMP NOT NULL,
	fetched_at         TIMESTAMP,
	assessed_at        TIMESTAMP,
	removed_at         TIMESTAMP,
	-- Who assessed it ("user:ID", "key:ID") and for which organisation.
	assessed_by        TEXT NOT NULL DEFAULT '',
	assessed_org       INTEGER REFERENCES orgs (id),
	submit_indicators  BOOLEAN NOT NULL DEFAULT 0 CHECK (submit_indicators IN (0, 1)),
	-- The report to law enforcement (package report), once made.
	referral           TEXT NOT NULL DEFAULT '',
	referred_at        TIMESTAMP,
	escalated          BOOLEAN NOT NULL DEFAULT 0 CHECK (escalated IN (0, 1)),
	-- The fetches of the URL that failed for a reason that may pass (a
	-- timeout, a 5xx), retried up to a limit; fetch_error is the last's
	-- error, or why the URL could not be fetched.
	fetch_attempts     INTEGER NOT NULL DEFAULT 0 CHECK (fetch_attempts >= 0),
	fetch_error        TEXT NOT NULL DEFAULT '',
	reason             TEXT NOT NULL DEFAULT '', -- why it was closed
	description_sealed BLOB,
	contact_sealed     BLOB,
	-- Where the reported URL is hosted: the country, the registered host
	-- and the addresses its name resolved to (comma-separated).
	country            TEXT NOT NULL DEFAULT '',
	host_org           INTEGER REFERENCES orgs (id),
	addresses          TEXT NOT NULL DEFAULT ''
);
-- A hotline's queue (queue_org) or the centre's (NULL), by state, oldest
-- first; and every queue by state.
CREATE INDEX takedown_cases_queue ON takedown_cases (queue_org, state, received_at);
CREATE INDEX takedown_cases_state ON takedown_cases (state, received_at);
CREATE INDEX takedown_cases_source ON takedown_cases (source_org, received_at);
CREATE INDEX takedown_cases_url ON takedown_cases (url_key);
-- A hotline reporting a URL it has an open case of gets that case back.
CREATE UNIQUE INDEX takedown_cases_open ON takedown_cases (source_org, url_key)
	WHERE source_org IS NOT NULL AND state IN ('fetching', 'assessment', 'noticed');
-- Cases noticed and not yet escalated, by time of notice.
CREATE INDEX takedown_cases_escalation ON takedown_cases (assessed_at)
	WHERE state = 'noticed' AND escalated = FALSE;
CREATE INDEX takedown_cases_received ON takedown_cases (received_at);

-- The resources of a case: idx 0 the reported URL itself, then what its
-- page embeds, in page order. matches is the JSON array of the active
-- indicators it matched when fetched. An illegal item is rechecked at
-- next_check_at until two rechecks in a row find it gone: gone_at is the
-- first, waiting for the second to confirm it, and becomes removed_at.
CREATE TABLE takedown_items (
	case_id        TEXT NOT NULL REFERENCES takedown_cases (id),
	idx            INTEGER NOT NULL CHECK (idx >= 0),
	url            TEXT NOT NULL,
	content_type   TEXT NOT NULL DEFAULT '',
	size           INTEGER NOT NULL DEFAULT 0 CHECK (size >= 0),
	sha256         TEXT CHECK (length(sha256) = 64), -- NULL if nothing was fetched
	md5            TEXT CHECK (length(md5) = 32),
	pdq            TEXT CHECK (length(pdq) = 64),    -- NULL unless a decodable image
	quality        INTEGER NOT NULL DEFAULT 0 CHECK (quality BETWEEN 0 AND 100),
	matches        TEXT NOT NULL DEFAULT '[]',
	classification TEXT CHECK (classification IN ('baseline', 'national', 'not_illegal')),
	-- Classified from its matches, the assessment not listing it: never
	-- submitted as an indicator.
	by_default     BOOLEAN NOT NULL DEFAULT 0 CHECK (by_default IN (0, 1)),
	error          TEXT NOT NULL DEFAULT '',
	-- NULL once dropped (after assessment or the retention), for known
	-- material, for what is not an image or a video, and past the case's
	-- limit.
	content_sealed BLOB,
	country        TEXT NOT NULL DEFAULT '',
	host_org       INTEGER REFERENCES orgs (id),
	addr           TEXT NOT NULL DEFAULT '',
	last_check_at  TIMESTAMP,
	next_check_at  TIMESTAMP,
	gone_at        TIMESTAMP,
	removed_at     TIMESTAMP,
	PRIMARY KEY (case_id, idx)
);
-- The due rechecks: one indexed scan, however many notices are open.
CREATE INDEX takedown_items_due ON takedown_items (next_check_at)
	WHERE removed_at IS NULL AND next_check_at IS NOT NULL;
-- The items whose content is kept, for the retention's sweep: few, since
-- content goes at assessment.
CREATE INDEX takedown_items_content ON takedown_items (case_id) WHERE content_sealed IS NOT NULL;
CREATE INDEX takedown_items_sha256 ON takedown_items (sha256);
CREATE INDEX takedown_items_md5 ON takedown_items (md5);
CREATE INDEX takedown_items_pdq ON takedown_items (pdq);

-- A notice to a host about a case's illegal items (urls: a JSON array),
-- directly (webhook, email) or through a hotline or Europol (via_org; NULL
-- for a notice that waits for one to be registered), sent again at
-- next_send_at until the case is removed (NULL: not again).
CREATE TABLE takedown_notices (
	id             TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
	case_id        TEXT NOT NULL REFERENCES takedown_cases (id),
	host_org       INTEGER REFERENCES orgs (id),
	channel        TEXT NOT NULL CHECK (channel IN ('webhook', 'email', 'hotline', 'europol')),
	via_org        INTEGER REFERENCES orgs (id),
	urls           TEXT NOT NULL,
	classification TEXT NOT NULL CHECK (classification IN ('baseline', 'national')),
	created_at     TIMESTAMP NOT NULL,
	sent_at        TIMESTAMP,
	sends          INTEGER NOT NULL DEFAULT 0 CHECK (sends >= 0),
	next_send_at   TIMESTAMP,
	answered_at    TIMESTAMP,
	last_error     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX takedown_notices_case ON takedown_notices (case_id);
CREATE INDEX takedown_notices_due ON takedown_notices (next_send_at) WHERE next_send_at IS NOT NULL;
-- A hotline sees the cases of the notices it passes on.
CREATE INDEX takedown_notices_via ON takedown_notices (via_org) WHERE via_org IS NOT NULL;

-- The history of a case, kept across hand-overs between hotlines. detail
-- is in clear and holds no personal data.
CREATE TABLE takedown_events (
	id      INTEGER PRIMARY KEY AUTOINCREMENT,
	case_id TEXT NOT NULL REFERENCES takedown_cases (id),
	at      TIMESTAMP NOT NULL,
	kind    TEXT NOT NULL,
	actor   TEXT NOT NULL, -- as in the audit trail: "user:7", "key:ab12", "system", "anonymous"
	org_id  INTEGER REFERENCES orgs (id),
	detail  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX takedown_events_case ON takedown_events (case_id, id);
