-- The centre's search (package takedown/search): the places it fetches on
-- a schedule, with the figures of each place's last run, and on a
-- takedown case the place whose run found it.
CREATE TABLE search_places (
	-- AUTOINCREMENT: the ID of a removed place is never given to another,
	-- so that a run job queued for it does not run the other.
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	url          TEXT NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
	depth        INTEGER NOT NULL CHECK (depth BETWEEN 0 AND 5),
	max_pages    INTEGER NOT NULL CHECK (max_pages BETWEEN 1 AND 10000),
	every_s      INTEGER NOT NULL CHECK (every_s > 0),
	created_at   TIMESTAMP NOT NULL,
	next_run_at  TIMESTAMP NOT NULL,
	started_at   TIMESTAMP,
	finished_at  TIMESTAMP,
	pages        INTEGER NOT NULL DEFAULT 0,
	resources    INTEGER NOT NULL DEFAULT 0,
	matches      INTEGER NOT NULL DEFAULT 0,
	cases        INTEGER NOT NULL DEFAULT 0,
	error        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX search_places_due ON search_places (next_run_at);

-- No foreign key: a case keeps the number of the place that found it
-- after the place is removed.
ALTER TABLE takedown_cases ADD COLUMN place_id INTEGER;
-- One open case per URL the search found, however often it finds it
-- (package takedown: Service.Found).
CREATE UNIQUE INDEX takedown_cases_found ON takedown_cases (url_key)
	WHERE place_id IS NOT NULL AND state IN ('fetching', 'assessment', 'noticed');
