-- The current state: what each agent's newest report says.
--
-- `latest` keeps every (org, target, check) ever reported. A verdict that the newest report of
-- the agent behind it no longer carries (a port since closed, an endpoint removed from the
-- agent's config, a host renamed) is history, not current state: it must not keep an alert
-- firing, a service counted as exposed, or a capability graded. These views keep only the rows
-- refreshed by that agent's newest report: every row points at the report that last wrote it,
-- and `agents.last_report_at` is the finished_at of the agent's newest report.
-- The join goes through `reports`, so a retention job must never delete the report a `latest`
-- row points at.
CREATE VIEW current_latest AS
SELECT l.*
FROM latest l
JOIN reports r ON r.report_id = l.report_id
JOIN agents a ON a.org = r.org AND a.agent_id = r.agent_id
WHERE r.finished_at >= a.last_report_at;

CREATE VIEW current_tls_certificates AS
SELECT c.*
FROM tls_certificates c
JOIN reports r ON r.report_id = c.report_id
JOIN agents a ON a.org = r.org AND a.agent_id = r.agent_id
WHERE r.finished_at >= a.last_report_at;
