-- Forwarding reports to law enforcement (package forward): each report's
-- deliveries to the competent authorities and Europol, their feedback,
-- and the webhooks that deliveries and provider notifications are pushed
-- to.

-- Where the organisation wants pushes: an authority gets its reports, a
-- provider the changes of its reports' status. NULL: it pulls them
-- through the API. https, or http to a loopback host; package forward
-- checks it.
ALTER TABLE orgs ADD COLUMN webhook_url text;

-- A report routed to an authority. Routing creates the row once (its
-- primary key makes a repeated routing job harmless); the authority
-- acknowledges it (acked_at), and a push to its webhook, if it has one,
-- sets pushed_at or records the failed attempt. last_error is what the
-- webhook answered, never report content.
CREATE TABLE deliveries (
	report_id       text NOT NULL REFERENCES reports (id),
	org_id          bigint NOT NULL REFERENCES orgs (id),
	created_at      timestamptz NOT NULL,
	acked_at        timestamptz,
	pushed_at       timestamptz,
	last_attempt_at timestamptz,
	attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
	last_error      text,
	PRIMARY KEY (report_id, org_id)
);
-- An authority's inbox, oldest first.
CREATE INDEX deliveries_inbox ON deliveries (org_id, created_at, report_id);

-- What an authority made of a report: the outcome in clear, for the
-- statistics (CSAR Art 83); its note sealed (package seal) with
-- associated data report.EventAAD(report_id).
CREATE TABLE feedback (
	id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	report_id   text NOT NULL,
	org_id      bigint NOT NULL,
	at          timestamptz NOT NULL,
	outcome     text NOT NULL CHECK (outcome IN ('received', 'investigating', 'no_action', 'victim_identified', 'offender_identified')),
	note_sealed bytea,
	FOREIGN KEY (report_id, org_id) REFERENCES deliveries (report_id, org_id)
);
CREATE INDEX feedback_report ON feedback (report_id, id);
