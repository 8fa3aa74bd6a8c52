-- PostgreSQL dialect of ../0004_current_state.sql (same views, same meaning).
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
