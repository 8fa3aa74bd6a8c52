-- Retention (`vigie-collector prune`, `[retention] reports_days`): raw reports older than a
-- set age are deleted, except those a `latest` or `tls_certificates` row points at (the
-- current state is read through them, see 0004). History is kept whole: a transition may now
-- name a report that is gone, so `transitions.report_id` is no longer a foreign key (SQLite
-- cannot drop a constraint: the table is rebuilt with the same rows and ids).
CREATE TABLE transitions_new (
    id          INTEGER PRIMARY KEY,
    org         TEXT NOT NULL REFERENCES orgs (org),
    target      TEXT NOT NULL,
    check_id    TEXT NOT NULL,
    from_status TEXT,
    to_status   TEXT NOT NULL,
    at          TEXT NOT NULL,
    -- The report that made the change; it may have been pruned since.
    report_id   TEXT NOT NULL
);
INSERT INTO transitions_new (id, org, target, check_id, from_status, to_status, at, report_id)
SELECT id, org, target, check_id, from_status, to_status, at, report_id FROM transitions;
DROP TABLE transitions;
ALTER TABLE transitions_new RENAME TO transitions;
CREATE INDEX transitions_by_key ON transitions (org, target, check_id, at);
CREATE INDEX reports_by_received ON reports (received_at);
