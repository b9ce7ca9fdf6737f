-- pixbridge state schema, version 5 (PostgreSQL): explicit order columns. Mirrors
-- pixbridge/store/migrations/0005_order.sql (which fills them from SQLite's rowid).

ALTER TABLE requests ADD COLUMN seq BIGINT;  -- registration order: 1, 2, 3 ...
CREATE INDEX requests_seq ON requests (seq);

ALTER TABLE release_steps ADD COLUMN position INTEGER;  -- the order the publishers were configured in
