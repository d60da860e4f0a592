-- What a host hosts: its domains (lower case, comma-separated; a name
-- matches a domain and its subdomains) and address blocks (CIDR,
-- comma-separated), and the address its notices are e-mailed to. The
-- register is public in the CSAR, so nothing here is sealed.
CREATE TABLE hosts (
	org_id       INTEGER PRIMARY KEY REFERENCES orgs (id),
	domains      TEXT NOT NULL DEFAULT '',
	ip_ranges    TEXT NOT NULL DEFAULT '',
	notice_email TEXT NOT NULL DEFAULT ''
);

-- Organisations of kind host: hosting providers in the register of points
-- of contact (CSAR Art 23). SQLite cannot alter a CHECK constraint, and a
-- rebuild of orgs would break the foreign keys that point to it; the
-- schema text is edited in place instead, as SQLite documents for
-- loosening a CHECK (ALTER TABLE, "making other kinds of table schema
-- changes"): existing rows satisfy the wider constraint. RESET turns
-- writable_schema off again and reloads the schema.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = replace(sql, '''europol'', ''centre''))', '''europol'', ''centre'', ''host''))')
WHERE type = 'table' AND name = 'orgs';
PRAGMA writable_schema = RESET;

-- If the edit did not take (a schema not as migration 0001 made it), the
-- CHECK refuses this row and the whole migration is rolled back.
INSERT INTO orgs (name, kind, country, created_at) VALUES ('ward migration 0015 probe', 'host', 'ZZ', 0);
DELETE FROM orgs WHERE name = 'ward migration 0015 probe';
