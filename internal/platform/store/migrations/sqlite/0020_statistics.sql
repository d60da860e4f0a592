-- The transparency statistics (package stats): counts per UTC day, rolled
-- up by a periodic job from the tables of the flows, so that a year's
-- figures are read from a few thousand rows rather than counted from
-- millions. Only counts are kept: by provider (an organisation's name), by
-- country, by type, by bucket of a time histogram; never personal data.

-- What happened on each day (YYYY-MM-DD), as figure, key ("" for a plain
-- count; a name, a country, a type or a histogram bucket) and count. A
-- roll-up of a day replaces its rows.
CREATE TABLE stats_days (
	day    TEXT NOT NULL CHECK (length(day) = 10),
	figure TEXT NOT NULL CHECK (length(figure) BETWEEN 1 AND 64),
	key    TEXT NOT NULL CHECK (length(key) <= 255),
	n      INTEGER NOT NULL CHECK (n > 0),
	PRIMARY KEY (day, figure, key)
) WITHOUT ROWID;

-- The sums of stats_days per calendar month (YYYY-MM), kept with each
-- roll-up of a day: a range reads its whole months here and only the
-- days at its ends from stats_days.
CREATE TABLE stats_months (
	month  TEXT NOT NULL CHECK (length(month) = 7),
	figure TEXT NOT NULL,
	key    TEXT NOT NULL,
	n      INTEGER NOT NULL CHECK (n > 0),
	PRIMARY KEY (month, figure, key)
) WITHOUT ROWID;

-- Stocks at the end of each day rolled up (how many indicators are on the
-- lists, how many in quarantine): not summed over days, read at a
-- range's end. A row for every day and stock, zeros included, so that the
-- latest row on or before a day is that day's value.
CREATE TABLE stats_stocks (
	day    TEXT NOT NULL CHECK (length(day) = 10),
	figure TEXT NOT NULL CHECK (length(figure) BETWEEN 1 AND 64),
	n      INTEGER NOT NULL,
	PRIMARY KEY (day, figure)
) WITHOUT ROWID;

-- The roll-up's progress: every day up to final_through is final (rolled
-- up after it settled, never again); updated_at is when a roll-up last
-- finished a day. One row; none before the first roll-up.
CREATE TABLE stats_rollup (
	id            INTEGER PRIMARY KEY CHECK (id = 1),
	final_through TEXT CHECK (length(final_through) = 10),
	updated_at    TIMESTAMP NOT NULL
);

-- What the roll-up counts a day by, each a range of one time column. The
-- others it needs exist: reports_received (finished_at), reports_decided
-- (state, decided_at), takedown_cases_received (received_at).
CREATE INDEX reports_triaged ON reports (triaged_at) WHERE triaged_at IS NOT NULL;
CREATE INDEX deliveries_created ON deliveries (created_at);
CREATE INDEX indicators_activated ON indicators (activated_at) WHERE activated_at IS NOT NULL;
CREATE INDEX indicators_withdrawn ON indicators (withdrawn_at) WHERE withdrawn_at IS NOT NULL;
CREATE INDEX quarantines_began ON quarantines (at);
CREATE INDEX quarantines_ended ON quarantines (ended_at) WHERE ended_at IS NOT NULL;
CREATE INDEX match_feedback_at ON match_feedback (at);
CREATE INDEX complaints_received ON complaints (received_at);
CREATE INDEX complaints_decided ON complaints (decided_at) WHERE decided_at IS NOT NULL;
CREATE INDEX takedown_cases_removed ON takedown_cases (removed_at) WHERE removed_at IS NOT NULL;
CREATE INDEX takedown_events_noticed ON takedown_events (at) WHERE kind = 'noticed';
