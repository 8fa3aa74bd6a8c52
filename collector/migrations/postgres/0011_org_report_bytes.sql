-- The bytes of stored report bodies per organization, for its storage budget
-- (--org-storage-bytes). Kept by a trigger, so that every writer (ingest, prune, another
-- collector's prune) keeps it right and the ingest reads one row instead of summing bodies.
-- octet_length of a compressed body reads its size from the TOAST header, not the body.
ALTER TABLE orgs ADD COLUMN report_bytes BIGINT NOT NULL DEFAULT 0;

UPDATE orgs SET report_bytes = COALESCE((
    SELECT SUM(octet_length(body)) FROM reports WHERE reports.org = orgs.org
), 0);

CREATE FUNCTION vigie_count_report_bytes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE orgs SET report_bytes = report_bytes + octet_length(NEW.body)
        WHERE org = NEW.org;
        RETURN NEW;
    END IF;
    UPDATE orgs SET report_bytes = GREATEST(report_bytes - octet_length(OLD.body), 0)
    WHERE org = OLD.org;
    RETURN OLD;
END
$$;

CREATE TRIGGER reports_bytes AFTER INSERT OR DELETE ON reports
    FOR EACH ROW EXECUTE FUNCTION vigie_count_report_bytes();
