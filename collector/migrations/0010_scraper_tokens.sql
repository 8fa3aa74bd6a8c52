-- A third kind of token, `scraper`: it reads /metrics and nothing else (what Prometheus is
-- given). SQLite cannot change a CHECK in place, so the table is copied into one with the
-- wider CHECK; no other table refers to `tokens`, and nothing else about it changes.
CREATE TABLE tokens_new (
    hash       TEXT PRIMARY KEY NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('agent', 'viewer', 'scraper')),
    org        TEXT REFERENCES orgs (org),
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    CHECK ((kind = 'agent') = (org IS NOT NULL))
);
INSERT INTO tokens_new (hash, kind, org, name, created_at, revoked_at)
    SELECT hash, kind, org, name, created_at, revoked_at FROM tokens;
DROP TABLE tokens;
ALTER TABLE tokens_new RENAME TO tokens;
