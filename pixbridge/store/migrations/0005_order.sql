-- pixbridge state schema: explicit order columns, so no query relies on SQLite's rowid and the
-- same SQL runs on PostgreSQL (issue 10).

ALTER TABLE requests ADD COLUMN seq INTEGER;  -- registration order: 1, 2, 3 ... (newest = highest)
UPDATE requests SET seq = rowid;
CREATE INDEX requests_seq ON requests (seq);

ALTER TABLE release_steps ADD COLUMN position INTEGER;  -- the order the publishers were configured in
UPDATE release_steps SET position = rowid;
