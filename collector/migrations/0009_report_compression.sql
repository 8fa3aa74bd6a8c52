-- PostgreSQL compresses report bodies with lz4 from this version on (see
-- migrations/postgres/0009_report_compression.sql). SQLite stores them as before; this
-- migration keeps the two dialects' version numbers in step.
SELECT 1;
