-- The authorities' inbox has an action of its own, inbox.read, which
-- reports.read granted before: keys of authorities restricted to
-- reports.read keep their inbox. (reports.read grants them nothing now.)
UPDATE api_keys SET scopes = trim(replace(' ' || scopes || ' ', ' reports.read ', ' inbox.read '))
WHERE org_id IN (SELECT id FROM orgs WHERE kind IN ('lea', 'europol'));
