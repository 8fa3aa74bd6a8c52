-- Organization metadata for the aggregate views by region and size band
-- (`vigie-collector org set`, `org import`). Optional: an organization without a row, or
-- with a NULL field, is counted under "unassigned".
CREATE TABLE org_meta (
    org        TEXT PRIMARY KEY REFERENCES orgs (org),
    region     TEXT,
    size_band  TEXT,
    updated_at TEXT NOT NULL
);
