-- The centre's search (package takedown/search): the places it fetches on
-- a schedule, with the figures of each place's last run, and on a
-- takedown case the place whose run found it.
CREATE TABLE search_places (
	id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	url          text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
	depth        integer NOT NULL CHECK (depth BETWEEN 0 AND 5),
	max_pages    integer NOT NULL CHECK (max_pages BETWEEN 1 AND 10000),
	every_s      bigint NOT NULL CHECK (every_s > 0),
	created_at   timestamptz NOT NULL,
	next_run_at  timestamptz NOT NULL,
	started_at   timestamptz,
	finished_at  timestamptz,
	pages        integer NOT NULL DEFAULT 0,
	resources    integer NOT NULL DEFAULT 0,
	matches      integer NOT NULL DEFAULT 0,
	cases        integer NOT NULL DEFAULT 0,
	error        text NOT NULL DEFAULT ''
);
CREATE INDEX search_places_due ON search_places (next_run_at);

-- No foreign key: a case keeps the number of the place that found it
-- after the place is removed.
ALTER TABLE takedown_cases ADD COLUMN place_id bigint;
-- One open case per URL the search found, however often it finds it
-- (package takedown: Service.Found).
CREATE UNIQUE INDEX takedown_cases_found ON takedown_cases (url_key)
	WHERE place_id IS NOT NULL AND state IN ('fetching', 'assessment', 'noticed');
