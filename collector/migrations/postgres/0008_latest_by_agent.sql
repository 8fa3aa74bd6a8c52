-- PostgreSQL dialect of ../0008_latest_by_agent.sql (same columns, same view, same meaning):
-- a `latest` row is written only when it changes; `agent_id`, `retired` and
-- `agents.last_report_id` tell the current state; `latest.report_id` is no longer a foreign key.
ALTER TABLE latest DROP CONSTRAINT IF EXISTS latest_report_id_fkey;
ALTER TABLE latest ADD COLUMN agent_id TEXT;
ALTER TABLE latest ADD COLUMN retired INTEGER NOT NULL DEFAULT 0;
ALTER TABLE agents ADD COLUMN last_report_id TEXT;

UPDATE agents SET last_report_id = (
    SELECT MAX(r.report_id) FROM reports r
    WHERE r.org = agents.org AND r.agent_id = agents.agent_id
      AND r.finished_at = agents.last_report_at);
UPDATE latest SET agent_id = (
    SELECT r.agent_id FROM reports r WHERE r.report_id = latest.report_id);
UPDATE latest SET retired = 1 WHERE NOT EXISTS (
    SELECT 1 FROM reports r
    JOIN agents a ON a.org = r.org AND a.agent_id = r.agent_id
    WHERE r.report_id = latest.report_id AND r.finished_at >= a.last_report_at);

CREATE INDEX latest_by_agent ON latest (org, agent_id);

DROP VIEW current_latest;
CREATE VIEW current_latest AS
SELECT l.org, l.target, l.check_id, l.status, l.severity, l.summary, l.remediation,
       l.evidence, COALESCE(a.last_report_id, l.report_id) AS report_id,
       a.last_report_at AS observed_at, l.since, l.agent_id
FROM latest l
JOIN agents a ON a.org = l.org AND a.agent_id = l.agent_id
WHERE l.retired = 0;
