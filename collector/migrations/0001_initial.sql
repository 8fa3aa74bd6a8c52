-- The first schema of the collector's store.
--
-- Times are TEXT in RFC 3339 UTC with nine fractional digits and a `Z`
-- (`2026-11-22T10:00:04.000000000Z`): fixed width, so that comparing the text compares the
-- instants, and readable by an operator with the sqlite3 shell.

-- Organizations are created by `vigie-collector agent add --org ORG`.
CREATE TABLE orgs (
    org        TEXT PRIMARY KEY NOT NULL,
    created_at TEXT NOT NULL
);

-- API tokens, stored only as the SHA-256 of the token string (hex). An agent token is bound
-- to one organization; a viewer token reads every organization.
CREATE TABLE tokens (
    hash       TEXT PRIMARY KEY NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('agent', 'viewer')),
    org        TEXT REFERENCES orgs (org),
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    CHECK ((kind = 'agent') = (org IS NOT NULL))
);

-- Every report accepted, as received. `body_sha256` is the hash of the canonical JSON (keys
-- sorted, no insignificant whitespace): the same report_id with another body is a conflict.
CREATE TABLE reports (
    report_id   TEXT PRIMARY KEY NOT NULL,
    org         TEXT NOT NULL REFERENCES orgs (org),
    agent_id    TEXT NOT NULL,
    body_sha256 TEXT NOT NULL,
    received_at TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX reports_by_org ON reports (org, finished_at);

-- The newest verdict per (org, target, check). `observed_at` is the finished_at of the report
-- it came from (a report that finished earlier never overwrites it); `since` is when the
-- status last changed.
CREATE TABLE latest (
    org         TEXT NOT NULL REFERENCES orgs (org),
    target      TEXT NOT NULL,
    check_id    TEXT NOT NULL,
    status      TEXT NOT NULL,
    severity    TEXT NOT NULL,
    summary     TEXT NOT NULL,
    remediation TEXT,
    evidence    TEXT NOT NULL,
    report_id   TEXT NOT NULL REFERENCES reports (report_id),
    observed_at TEXT NOT NULL,
    since       TEXT NOT NULL,
    PRIMARY KEY (org, target, check_id)
);

-- History: status transitions only. The first verdict for a key has from_status NULL.
CREATE TABLE transitions (
    id          INTEGER PRIMARY KEY,
    org         TEXT NOT NULL REFERENCES orgs (org),
    target      TEXT NOT NULL,
    check_id    TEXT NOT NULL,
    from_status TEXT,
    to_status   TEXT NOT NULL,
    at          TEXT NOT NULL,
    report_id   TEXT NOT NULL REFERENCES reports (report_id)
);
CREATE INDEX transitions_by_key ON transitions (org, target, check_id, at);

-- The agents seen in reports, with what their newest report said about them.
CREATE TABLE agents (
    org            TEXT NOT NULL REFERENCES orgs (org),
    agent_id       TEXT NOT NULL,
    hostname       TEXT NOT NULL,
    version        TEXT NOT NULL,
    last_report_at TEXT NOT NULL,
    PRIMARY KEY (org, agent_id)
);

-- The leaf certificate's notAfter per TLS endpoint, from the newest observation.
CREATE TABLE tls_certificates (
    org         TEXT NOT NULL REFERENCES orgs (org),
    target      TEXT NOT NULL,
    not_after   TEXT NOT NULL,
    observed_at TEXT NOT NULL,
    report_id   TEXT NOT NULL REFERENCES reports (report_id),
    PRIMARY KEY (org, target)
);
