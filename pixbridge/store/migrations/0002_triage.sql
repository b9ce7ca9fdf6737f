-- pixbridge state schema, version 2: what triage found on a request, and round-robin turns.

ALTER TABLE requests ADD COLUMN os_version TEXT;  -- the OS version found in the request's messages
ALTER TABLE requests ADD COLUMN serial TEXT;      -- the product serial (message text or known contact)
ALTER TABLE requests ADD COLUMN facts TEXT NOT NULL DEFAULT '{}';  -- JSON: every required item found, item -> what

CREATE INDEX requests_open_by_assignee ON requests (assignee, status);

CREATE TABLE assignment_turns (
    team       TEXT PRIMARY KEY,  -- a team of [triage.assignment.teams]
    turn       INTEGER NOT NULL,  -- the next round-robin turn (member = turn mod team size)
    updated_at TEXT NOT NULL
);
