-- A third kind of token, `scraper`: it reads /metrics and nothing else (what Prometheus is
-- given). `tokens_kind_check` is the name PostgreSQL gave the column's CHECK in 0001.
ALTER TABLE tokens DROP CONSTRAINT tokens_kind_check;
ALTER TABLE tokens ADD CONSTRAINT tokens_kind_check CHECK (kind IN ('agent', 'viewer', 'scraper'));
