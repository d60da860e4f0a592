-- The unverified list victim-reported (package indicator: UnverifiedList,
-- Unverified; package victim): hashes people send of images of
-- themselves, active on one source's submission (the centre's, for the
-- person), of category unverified, matched only by those who ask for it.
-- docs/victims.md says why its policy differs from the other lists'.

-- As in 0017_quarantine.sql, the CHECKs are widened by editing the schema
-- text in place (existing rows satisfy the wider constraints).
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = replace(sql, '''baseline'', ''national'')', '''baseline'', ''national'', ''unverified'')')
WHERE type = 'table' AND name = 'indicators';
UPDATE sqlite_schema SET sql = replace(sql, '''match'', ''suppress'')', '''match'', ''suppress'', ''unverified'')')
WHERE type = 'table' AND name = 'lists';
PRAGMA writable_schema = RESET;

-- If an edit did not take, a CHECK refuses a row below and the whole
-- migration is rolled back.
INSERT INTO indicators (list_id, signal, value, category, state, created_at) VALUES (0, 'md5', 'ward migration 0022 probe', 'unverified', 'active', 0);
DELETE FROM indicators WHERE list_id = 0 AND value = 'ward migration 0022 probe';

INSERT INTO lists (name, min_attestations, distinct_countries, max_distance, kind, threshold, created_at)
VALUES ('victim-reported', 1, 0, 31, 'unverified', 31, CAST(unixepoch('subsec') * 1000000 AS INTEGER));

-- Each indicator a takedown item matched when fetched (takedown_items.matches
-- holds them too, as JSON for the analyst): indexed by indicator, so that a
-- victim's case counts where its hashes were found on the web without
-- reading every item. Written from this migration on, as the list is new.
CREATE TABLE takedown_item_matches (
	case_id      TEXT NOT NULL,
	idx          INTEGER NOT NULL,
	indicator_id INTEGER NOT NULL,
	PRIMARY KEY (case_id, idx, indicator_id),
	FOREIGN KEY (case_id, idx) REFERENCES takedown_items (case_id, idx)
);
CREATE INDEX takedown_item_matches_indicator ON takedown_item_matches (indicator_id);

-- Its transparency log, empty, as for every list (0021_translog.sql).
INSERT INTO logs (name, list_id, root, created_at)
SELECT 'lists/' || name, id, X'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
       CAST(unixepoch('subsec') * 1000000 AS INTEGER)
FROM lists WHERE name = 'victim-reported';
