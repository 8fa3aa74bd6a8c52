-- PostgreSQL dialect of ../0005_retention.sql: transitions outlive the raw reports they
-- name, and reports are found by age.
ALTER TABLE transitions DROP CONSTRAINT IF EXISTS transitions_report_id_fkey;
CREATE INDEX reports_by_received ON reports (received_at);
