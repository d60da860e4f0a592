-- The durable job queue (package jobs) and the history of each report
-- (package report), which the handling of reports (packages triage and
-- forward) writes to in the same transactions as its state changes.

-- A job is work that must happen even if the node that queued it dies:
-- triage a report, deliver it, notify a provider. Any node claims due jobs
-- by taking a lease; a job whose lease ran out is claimed again, so a
-- handler must be idempotent. A job is done, or dead (given up, shown in
-- the console for a person to retry), or pending.
CREATE TABLE jobs (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	kind        TEXT NOT NULL CHECK (length(kind) BETWEEN 1 AND 64),
	ref         TEXT NOT NULL CHECK (length(ref) <= 255), -- what the job is about, such as a report id
	created_at  TIMESTAMP NOT NULL,
	run_at      TIMESTAMP NOT NULL, -- not before
	attempts    INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
	lease_owner TEXT,
	lease_until TIMESTAMP,
	last_error  TEXT,
	done_at     TIMESTAMP,
	dead_at     TIMESTAMP
);
CREATE INDEX jobs_due ON jobs (run_at) WHERE done_at IS NULL AND dead_at IS NULL;
CREATE INDEX jobs_ref ON jobs (kind, ref);

-- Until when an authority asked that the reported user not be told of the
-- report (at most 18 months): the provider's status view says so.
ALTER TABLE reports ADD COLUMN non_disclosure_until TIMESTAMP;

-- Every step of a report's life after it was created, in order: received,
-- triaged, bundled, decided, forwarded, acknowledged, feedback... The
-- provider sees some of them as its report's status; analysts see all.
-- detail_sealed holds reasons and messages, sealed (package seal) with
-- associated data report.EventAAD(report_id).
CREATE TABLE report_events (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	report_id     TEXT NOT NULL REFERENCES reports (id),
	at            TIMESTAMP NOT NULL,
	kind          TEXT NOT NULL,
	actor         TEXT NOT NULL, -- as in the audit trail: "user:7", "key:ab12", "system"
	org_id        INTEGER REFERENCES orgs (id), -- the authority, for forwarding and feedback
	detail_sealed BLOB
);
CREATE INDEX report_events_report ON report_events (report_id, id);
