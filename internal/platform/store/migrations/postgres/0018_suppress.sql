-- A list's kind and default PDQ threshold (package indicator: List.Kind,
-- List.Threshold). A suppress list holds known benign content that
-- collides with indicators of other lists; its matches remove theirs.
-- The threshold is the distance used against a list when a query names
-- none, at most its max_distance (checked by indicator.List.Validate):
-- existing lists get the default a query had until now, 31, capped.
ALTER TABLE lists
	ADD COLUMN kind text NOT NULL DEFAULT 'match' CHECK (kind IN ('match', 'suppress')),
	ADD COLUMN threshold integer NOT NULL DEFAULT 31 CHECK (threshold BETWEEN 0 AND 256);
UPDATE lists SET threshold = LEAST(31, max_distance);
