-- The unverified list victim-reported (package indicator: UnverifiedList,
-- Unverified; package victim): hashes people send of images of
-- themselves, active on one source's submission (the centre's, for the
-- person), of category unverified, matched only by those who ask for it.
-- docs/victims.md says why its policy differs from the other lists'.
ALTER TABLE indicators DROP CONSTRAINT indicators_category_check;
ALTER TABLE indicators ADD CONSTRAINT indicators_category_check CHECK (category IN ('A1', 'A2', 'B1', 'B2', 'baseline', 'national', 'unverified'));
ALTER TABLE lists DROP CONSTRAINT lists_kind_check;
ALTER TABLE lists ADD CONSTRAINT lists_kind_check CHECK (kind IN ('match', 'suppress', 'unverified'));

INSERT INTO lists (name, min_attestations, distinct_countries, max_distance, kind, threshold, created_at)
VALUES ('victim-reported', 1, false, 31, 'unverified', 31, now());

-- Each indicator a takedown item matched when fetched (takedown_items.matches
-- holds them too, as JSON for the analyst): indexed by indicator, so that a
-- victim's case counts where its hashes were found on the web without
-- reading every item. Written from this migration on, as the list is new.
CREATE TABLE takedown_item_matches (
	case_id      text NOT NULL,
	idx          integer NOT NULL,
	indicator_id bigint NOT NULL,
	PRIMARY KEY (case_id, idx, indicator_id),
	FOREIGN KEY (case_id, idx) REFERENCES takedown_items (case_id, idx)
);
CREATE INDEX takedown_item_matches_indicator ON takedown_item_matches (indicator_id);

-- Its transparency log, empty, as for every list (0021_translog.sql).
INSERT INTO logs (name, list_id, root, created_at)
SELECT 'lists/' || name, id, '\xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'::bytea, now()
FROM lists WHERE name = 'victim-reported';
