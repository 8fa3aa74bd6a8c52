-- Report bodies are stored zstd-compressed (a BLOB in the `body` column, which SQLite allows
-- whatever the declared type): ~56 KB of JSON at 200 findings becomes a few KB, and the raw
-- reports were nearly all of the file's growth. New reports are stored compressed by the
-- collector; the bodies already stored as text are compressed by the collector itself just
-- before this file runs, in the same transaction (`store/sqlite/body.rs`, as SQLite has no
-- zstd function). Readers take either form.
--
-- The bytes each organization stores (its storage budget, migration 11) shrink with them.
UPDATE orgs SET report_bytes = (
    SELECT COALESCE(SUM(length(CAST(body AS BLOB))), 0) FROM reports
    WHERE reports.org = orgs.org
);
