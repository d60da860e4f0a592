-- Placeholder for migration 0017, which another branch adds (indicator
-- quarantine): it keeps the numbering without a gap on this branch. Delete
-- this file when merging that branch.
SELECT 1;
