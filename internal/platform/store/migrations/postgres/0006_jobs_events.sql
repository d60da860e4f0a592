-- The durable job queue (package jobs) and the history of each report
-- (package report), which the handling of reports (packages triage and
-- forward) writes to in the same transactions as its state changes.

-- A job is work that must happen even if the node that queued it dies:
-- triage a report, deliver it, notify a provider. Any node claims due jobs
-- by taking a lease; a job whose lease ran out is claimed again, so a
-- handler must be idempotent. A job is done, or dead (given up, shown in
-- the console for a person to retry), or pending.
CREATE TABLE jobs (
	id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	kind        text NOT NULL CHECK (length(kind) BETWEEN 1 AND 64),
	ref         text NOT NULL CHECK (length(ref) <= 255), -- what the job is about, such as a report id
	created_at  timestamptz NOT NULL,
	run_at      timestamptz NOT NULL, -- not before
	attempts    integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
	lease_owner text,
	lease_until timestamptz,
	last_error  text,
	done_at     timestamptz,
	dead_at     timestamptz
);
CREATE INDEX jobs_due ON jobs (run_at) WHERE done_at IS NULL AND dead_at IS NULL;
CREATE INDEX jobs_ref ON jobs (kind, ref);

-- Until when an authority asked that the reported user not be told of the
-- report (at most 18 months): the provider's status view says so.
ALTER TABLE reports ADD COLUMN non_disclosure_until timestamptz;

-- Every step of a report's life after it was created, in order: received,
-- triaged, bundled, decided, forwarded, acknowledged, feedback... The
-- provider sees some of them as its report's status; analysts see all.
-- detail_sealed holds reasons and messages, sealed (package seal) with
-- associated data report.EventAAD(report_id).
CREATE TABLE report_events (
	id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	report_id     text NOT NULL REFERENCES reports (id),
	at            timestamptz NOT NULL,
	kind          text NOT NULL,
	actor         text NOT NULL, -- as in the audit trail: "user:7", "key:ab12", "system"
	org_id        bigint REFERENCES orgs (id), -- the authority, for forwarding and feedback
	detail_sealed bytea
);
CREATE INDEX report_events_report ON report_events (report_id, id);
