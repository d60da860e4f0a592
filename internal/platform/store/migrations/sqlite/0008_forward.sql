-- Forwarding reports to law enforcement (package forward): each report's
-- deliveries to the competent authorities and Europol, their feedback,
-- and the webhooks that deliveries and provider notifications are pushed
-- to.

-- Where the organisation wants pushes: an authority gets its reports, a
-- provider the changes of its reports' status. NULL: it pulls them
-- through the API. https, or http to a loopback host; package forward
-- checks it.
ALTER TABLE orgs ADD COLUMN webhook_url TEXT;

-- A report routed to an authority. Routing creates the row once (its
-- primary key makes a repeated routing job harmless); the authority
-- acknowledges it (acked_at), and a push to its webhook, if it has one,
-- sets pushed_at or records the failed attempt. last_error is what the
-- webhook answered, never report content.
CREATE TABLE deliveries (
	report_id       TEXT NOT NULL REFERENCES reports (id),
	org_id          INTEGER NOT NULL REFERENCES orgs (id),
	created_at      TIMESTAMP NOT NULL,
	acked_at        TIMESTAMP,
	pushed_at       TIMESTAMP,
	last_attempt_at TIMESTAMP,
	attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
	last_error      TEXT,
	PRIMARY KEY (report_id, org_id)
);
-- An authority's inbox, oldest first.
CREATE INDEX deliveries_inbox ON deliveries (org_id, created_at, report_id);

-- What an authority made of a report: the outcome in clear, for the
-- statistics (CSAR Art 83); its note sealed (package seal) with
-- associated data report.EventAAD(report_id).
CREATE TABLE feedback (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	report_id   TEXT NOT NULL,
	org_id      INTEGER NOT NULL,
	at          TIMESTAMP NOT NULL,
	outcome     TEXT NOT NULL CHECK (outcome IN ('received', 'investigating', 'no_action', 'victim_identified', 'offender_identified')),
	note_sealed BLOB,
	FOREIGN KEY (report_id, org_id) REFERENCES deliveries (report_id, org_id)
);
CREATE INDEX feedback_report ON feedback (report_id, id);
