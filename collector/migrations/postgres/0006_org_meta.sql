-- PostgreSQL dialect of ../0006_org_meta.sql.
CREATE TABLE org_meta (
    org        TEXT PRIMARY KEY REFERENCES orgs (org),
    region     TEXT,
    size_band  TEXT,
    updated_at TEXT COLLATE "C" NOT NULL
);
