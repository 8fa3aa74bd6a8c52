-- The bytes of stored report bodies per organization, for its storage budget
-- (--org-storage-bytes). Kept by triggers, so that every writer (ingest, prune, another
-- process's prune) keeps it right and the ingest reads one row instead of summing bodies.
ALTER TABLE orgs ADD COLUMN report_bytes INTEGER NOT NULL DEFAULT 0;

UPDATE orgs SET report_bytes = (
    SELECT COALESCE(SUM(length(CAST(body AS BLOB))), 0) FROM reports
    WHERE reports.org = orgs.org
);

CREATE TRIGGER reports_bytes_insert AFTER INSERT ON reports
BEGIN
    UPDATE orgs SET report_bytes = report_bytes + length(CAST(NEW.body AS BLOB))
    WHERE org = NEW.org;
END;

CREATE TRIGGER reports_bytes_delete AFTER DELETE ON reports
BEGIN
    UPDATE orgs SET report_bytes = MAX(report_bytes - length(CAST(OLD.body AS BLOB)), 0)
    WHERE org = OLD.org;
END;
