-- The audit log: who gave, took back or used access to the sector's data. One row per token
-- created (an enrollment), token revoked (by `revoke` or `rotate`) and matrix exported (by
-- the CLI or the API). Never a token: a token is named by its fingerprint, the first 12 hex
-- digits of the SHA-256 stored in tokens.hash, which reveals nothing of the token.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    -- token.create | token.revoke | matrix.export
    action      TEXT NOT NULL,
    -- `cli` (a command on the collector's host) or `viewer:<token name>`.
    actor       TEXT NOT NULL,
    -- agent | viewer, for token actions.
    kind        TEXT,
    org         TEXT,
    name        TEXT,
    fingerprint TEXT,
    -- Free words written by the collector (e.g. `rotated`, `view=org format=csv lang=fr`),
    -- never a token or a report's content.
    detail      TEXT
);
CREATE INDEX audit_log_by_time ON audit_log (at);
