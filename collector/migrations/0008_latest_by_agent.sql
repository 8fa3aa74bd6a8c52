-- Ingest writes a `latest` row only when something in it changes (issue 8): most findings of
-- a report repeat the agent's previous verdict, and rewriting each row cost a write per
-- finding. A current row no longer points at the newest report that carried it, so the
-- current state (0004) can no longer be told from `latest.report_id`; instead:
--
-- * `latest.agent_id` is the agent whose report last wrote or confirmed the row, read in one
--   range query per report (`latest_by_agent`);
-- * `latest.retired` is 1 once that agent's newest report no longer carries the row (a port
--   since closed, an endpoint removed): history, not current state. Retiring sets
--   `report_id`/`observed_at` to the last report that carried it;
-- * `agents.last_report_id` is the agent's newest report, which observed every current row
--   of the agent: the view takes `report_id` and `observed_at` from the agent.
--
-- Retention keeps each agent's newest report and the reports retired rows point at; a
-- current row's `report_id` (the report that last changed it) may be deleted, so it is no
-- longer a foreign key (the table is rebuilt, as SQLite cannot drop a constraint).
-- A report that finishes before its agent's newest (a late one) changes no `latest` row.
ALTER TABLE agents ADD COLUMN last_report_id TEXT;
UPDATE agents SET last_report_id = (
    SELECT MAX(r.report_id) FROM reports r
    WHERE r.org = agents.org AND r.agent_id = agents.agent_id
      AND r.finished_at = agents.last_report_at);

DROP VIEW current_latest;
CREATE TABLE latest_new (
    org         TEXT NOT NULL REFERENCES orgs (org),
    target      TEXT NOT NULL,
    check_id    TEXT NOT NULL,
    status      TEXT NOT NULL,
    severity    TEXT NOT NULL,
    summary     TEXT NOT NULL,
    remediation TEXT,
    evidence    TEXT NOT NULL,
    -- The report that last changed the row (or, once retired, the last that carried it).
    report_id   TEXT NOT NULL,
    observed_at TEXT NOT NULL,
    since       TEXT NOT NULL,
    agent_id    TEXT,
    retired     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (org, target, check_id)
);
-- What 0004's view did not show stays out of the current state.
INSERT INTO latest_new (org, target, check_id, status, severity, summary, remediation,
                        evidence, report_id, observed_at, since, agent_id, retired)
SELECT l.org, l.target, l.check_id, l.status, l.severity, l.summary, l.remediation,
       l.evidence, l.report_id, l.observed_at, l.since, r.agent_id,
       CASE WHEN a.last_report_at IS NOT NULL AND r.finished_at >= a.last_report_at
            THEN 0 ELSE 1 END
FROM latest l
LEFT JOIN reports r ON r.report_id = l.report_id
LEFT JOIN agents a ON a.org = r.org AND a.agent_id = r.agent_id;
DROP TABLE latest;
ALTER TABLE latest_new RENAME TO latest;
CREATE INDEX latest_by_agent ON latest (org, agent_id);

CREATE VIEW current_latest AS
SELECT l.org, l.target, l.check_id, l.status, l.severity, l.summary, l.remediation,
       l.evidence, COALESCE(a.last_report_id, l.report_id) AS report_id,
       a.last_report_at AS observed_at, l.since, l.agent_id
FROM latest l
JOIN agents a ON a.org = l.org AND a.agent_id = l.agent_id
WHERE l.retired = 0;
