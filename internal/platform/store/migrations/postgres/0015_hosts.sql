-- What a host hosts: its domains (lower case, comma-separated; a name
-- matches a domain and its subdomains) and address blocks (CIDR,
-- comma-separated), and the address its notices are e-mailed to. The
-- register is public in the CSAR, so nothing here is sealed.
CREATE TABLE hosts (
	org_id       bigint PRIMARY KEY REFERENCES orgs (id),
	domains      text NOT NULL DEFAULT '',
	ip_ranges    text NOT NULL DEFAULT '',
	notice_email text NOT NULL DEFAULT ''
);

-- Organisations of kind host: hosting providers in the register of points
-- of contact (CSAR Art 23).
ALTER TABLE orgs DROP CONSTRAINT orgs_kind_check;
ALTER TABLE orgs ADD CONSTRAINT orgs_kind_check CHECK (kind IN ('provider', 'hotline', 'lea', 'europol', 'centre', 'host'));
