-- A report's file is sealed in segments of 64 KiB (seal.SealSegments), one
-- row each, so that an authority's download reads, opens and sends it a
-- segment at a time instead of holding it whole, twice, in memory.
-- report_files.segments is how many it has; 0 for a file stored before
-- this migration, which is one blob in content_sealed (an empty blob for
-- new files, and once retention has deleted the content).
ALTER TABLE report_files ADD COLUMN segments INTEGER NOT NULL DEFAULT 0;
CREATE TABLE report_file_segments (
	report_id  TEXT NOT NULL,
	file_index INTEGER NOT NULL,
	seq        INTEGER NOT NULL CHECK (seq >= 0), -- from 0, in the order of the file
	sealed     BLOB NOT NULL,
	PRIMARY KEY (report_id, file_index, seq),
	FOREIGN KEY (report_id, file_index) REFERENCES report_files (report_id, file_index)
);

-- A webhook URL can hold the receiver's secret (a token in its path or
-- query): sealed like personal data (associated data "orgs.webhook:ID").
-- Servers and 'ward admin' move a clear webhook_url into webhook_sealed
-- when they start (store.DB.SealClearWebhooks: sealing needs the master key,
-- which SQL has not) and leave webhook_url NULL; nothing reads it after.
ALTER TABLE orgs ADD COLUMN webhook_sealed BLOB;
