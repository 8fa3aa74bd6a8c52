-- Viewer roles and web sessions in the database, PostgreSQL dialect of
-- ../0012_viewer_roles.sql: the same columns, checks and meaning. `tokens_check` is the name
-- PostgreSQL gave the table's CHECK of 0001.
ALTER TABLE tokens ADD COLUMN role TEXT CHECK (role IN ('sector', 'org', 'committee'));
UPDATE tokens SET role = 'sector' WHERE kind = 'viewer';
ALTER TABLE tokens DROP CONSTRAINT tokens_check;
ALTER TABLE tokens ADD CONSTRAINT tokens_kind_role_check CHECK ((kind = 'viewer') = (role IS NOT NULL));
ALTER TABLE tokens ADD CONSTRAINT tokens_kind_org_check
    CHECK ((kind = 'agent' OR COALESCE(role, '') = 'org') = (org IS NOT NULL));

CREATE TABLE web_sessions (
    hash       TEXT PRIMARY KEY NOT NULL,
    token_hash TEXT NOT NULL REFERENCES tokens (hash),
    created_at TEXT COLLATE "C" NOT NULL,
    expires_at TEXT COLLATE "C" NOT NULL
);
CREATE INDEX web_sessions_by_token ON web_sessions (token_hash);
CREATE INDEX web_sessions_by_expiry ON web_sessions (expires_at);
