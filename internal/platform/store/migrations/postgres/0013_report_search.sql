-- Finding reports in the console (triage.Lister): by a file's hash, by
-- the content a case holds, and the lists of decided and received
-- reports, each newest first.
CREATE INDEX report_files_md5 ON report_files (md5);
CREATE INDEX report_files_pdq ON report_files (pdq) WHERE pdq IS NOT NULL;
CREATE INDEX report_content_key ON report_content (content_key);
CREATE INDEX reports_decided ON reports (state, decided_at, id);
CREATE INDEX reports_received ON reports (finished_at, id);
