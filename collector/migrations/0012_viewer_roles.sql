-- Viewer roles and web sessions in the database.
--
-- A viewer token gets a role: `sector` (every organization), `org` (one organization, in
-- `org`) or `committee` (the aggregate only). Viewer tokens made before this migration read
-- every organization: they become `sector`. Agent and scraper tokens have no role. SQLite
-- cannot change a CHECK in place, so the table is copied into one with the new column and
-- checks (as in 0010); no other table refers to `tokens` yet.
CREATE TABLE tokens_new (
    hash       TEXT PRIMARY KEY NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('agent', 'viewer', 'scraper')),
    org        TEXT REFERENCES orgs (org),
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    role       TEXT CHECK (role IN ('sector', 'org', 'committee')),
    CHECK ((kind = 'viewer') = (role IS NOT NULL)),
    CHECK ((kind = 'agent' OR COALESCE(role, '') = 'org') = (org IS NOT NULL))
);
INSERT INTO tokens_new (hash, kind, org, name, created_at, revoked_at, role)
    SELECT hash, kind, org, name, created_at, revoked_at,
           CASE WHEN kind = 'viewer' THEN 'sector' END
    FROM tokens;
DROP TABLE tokens;
ALTER TABLE tokens_new RENAME TO tokens;

-- The web view's sessions, shared by every collector over this database: the SHA-256 of the
-- random value the browser holds in its cookie, the token it was opened with, and when it
-- ends. A session is live while it has not expired and its token is not revoked; logging
-- out deletes it, revoking its token deletes them all.
CREATE TABLE web_sessions (
    hash       TEXT PRIMARY KEY NOT NULL,
    token_hash TEXT NOT NULL REFERENCES tokens (hash),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX web_sessions_by_token ON web_sessions (token_hash);
CREATE INDEX web_sessions_by_expiry ON web_sessions (expires_at);
