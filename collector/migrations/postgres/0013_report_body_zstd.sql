-- SQLite compresses report bodies with zstd from this version on (see
-- migrations/0013_report_body_zstd.sql). PostgreSQL already compresses them with lz4
-- (migration 9); this migration keeps the two dialects' version numbers in step.
SELECT 1;
