-- Placeholder for the 0023 of another branch (issue 14), so that 0024 follows
-- without a gap here: delete this file when merging that branch.
SELECT 1;
