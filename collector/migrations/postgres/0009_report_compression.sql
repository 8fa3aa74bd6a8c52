-- Raw report bodies (~56 KB of JSON for 200 findings) are compressed by TOAST. Its default
-- method, pglz, took a fifth of the server's time under the load test; lz4 (PostgreSQL 14+,
-- when the server is built with it, as Debian's is) compresses several times faster to a
-- similar size. Only rows written from now on change: stored bodies stay pglz, and both
-- read the same. A server without lz4 keeps pglz, with a notice, rather than failing the
-- upgrade.
DO $$
BEGIN
    ALTER TABLE reports ALTER COLUMN body SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'this server has no lz4 compression; report bodies stay pglz-compressed';
END
$$;
