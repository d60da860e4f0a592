-- Triage and assessment of finished reports (package triage).
--
-- Reports of one provider about the same content form a case, led by the
-- first of them; the analyst's decision on the lead applies to the case.
-- Everything here is in clear and holds no personal data: hashes of
-- content (already in clear in report_files), indicator IDs, priorities
-- and times.

-- The report leading the report's case (itself for a lead); NULL until
-- triaged.
ALTER TABLE reports ADD COLUMN case_id TEXT REFERENCES reports (id);
-- 0 urgent, 1 new material (or none), 2 known material; for a lead, the
-- most pressing of its case. NULL until triaged.
ALTER TABLE reports ADD COLUMN priority INTEGER CHECK (priority BETWEEN 0 AND 2);
ALTER TABLE reports ADD COLUMN material TEXT CHECK (material IN ('known', 'new', 'none'));
-- How many of its items matched an indicator.
ALTER TABLE reports ADD COLUMN matched_items INTEGER NOT NULL DEFAULT 0 CHECK (matched_items >= 0);
ALTER TABLE reports ADD COLUMN triaged_at TIMESTAMP;
-- When it was forwarded or found manifestly unfounded: the retention
-- period runs from then.
ALTER TABLE reports ADD COLUMN decided_at TIMESTAMP;
-- When its sealed body and files were deleted at the end of the
-- retention period (both are then empty).
ALTER TABLE reports ADD COLUMN purged_at TIMESTAMP;

-- The assessment queue: by state, priority, age.
CREATE INDEX reports_assessment ON reports (state, priority, finished_at);
CREATE INDEX reports_case ON reports (case_id);
CREATE INDEX reports_retention ON reports (decided_at) WHERE purged_at IS NULL;

-- The case each content key of a provider belongs to: a report with an
-- item of this content joins the case. content_key is "sha256:HEX",
-- "md5:HEX" or "pdq:HEX", the strongest hash an item has.
CREATE TABLE report_content (
	provider_id INTEGER NOT NULL REFERENCES orgs (id),
	content_key TEXT NOT NULL CHECK (length(content_key) BETWEEN 1 AND 80),
	case_id     TEXT NOT NULL REFERENCES reports (id),
	PRIMARY KEY (provider_id, content_key)
);

-- The indicators each item of a report matched at triage. indicator_id is
-- not a foreign key: the record of what matched stays when an indicator
-- is withdrawn or deleted.
CREATE TABLE report_matches (
	report_id    TEXT NOT NULL REFERENCES reports (id),
	item_index   INTEGER NOT NULL CHECK (item_index >= 0),
	indicator_id INTEGER NOT NULL,
	list         TEXT NOT NULL,
	signal       TEXT NOT NULL CHECK (signal IN ('pdq', 'md5', 'sha256')),
	category     TEXT NOT NULL,
	distance     INTEGER NOT NULL CHECK (distance >= 0),
	PRIMARY KEY (report_id, item_index, indicator_id)
);
