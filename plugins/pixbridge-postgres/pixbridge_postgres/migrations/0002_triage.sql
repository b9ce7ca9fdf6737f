-- pixbridge state schema, version 2 (PostgreSQL): what triage found on a request, and
-- round-robin turns. Mirrors pixbridge/store/migrations/0002_triage.sql.

ALTER TABLE requests ADD COLUMN os_version TEXT COLLATE "C";
ALTER TABLE requests ADD COLUMN serial TEXT COLLATE "C";
ALTER TABLE requests ADD COLUMN facts TEXT COLLATE "C" NOT NULL DEFAULT '{}';

CREATE INDEX requests_open_by_assignee ON requests (assignee, status);

CREATE TABLE assignment_turns (
    team       TEXT COLLATE "C" PRIMARY KEY,
    turn       INTEGER NOT NULL,
    updated_at TEXT COLLATE "C" NOT NULL
);
