-- The durable job queue (package jobs), continued.

-- When a person last revived a dead job: a revived job gets the time of
-- its kind's DeadAfter again, counted from then.
ALTER TABLE jobs ADD COLUMN revived_at TIMESTAMP;

-- The console lists dead jobs, the most recent first, among all the done
-- ones the table keeps.
CREATE INDEX jobs_dead ON jobs (dead_at, id) WHERE dead_at IS NOT NULL;
