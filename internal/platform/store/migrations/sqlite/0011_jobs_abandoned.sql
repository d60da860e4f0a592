-- How many attempts in a row, before the one that claims the job, never
-- recorded an outcome: their node stopped while running them, perhaps
-- because of the job itself. The runner gives up on a job that keeps
-- stopping nodes instead of letting it stop one after another.
ALTER TABLE jobs ADD COLUMN abandoned INTEGER NOT NULL DEFAULT 0;
