-- pixbridge state schema, version 6 (PostgreSQL): several instances on one database: claims
-- and leases. Mirrors pixbridge/store/migrations/0006_instances.sql.

ALTER TABLE messages ADD COLUMN claimed_by TEXT COLLATE "C";
ALTER TABLE messages ADD COLUMN claim_until TEXT COLLATE "C";
-- Few rows are claimed at a time: finding them (an instance's own, or an earlier message of
-- the same sender claimed by another instance) stays cheap however long the history is.
CREATE INDEX messages_claimed ON messages (claimed_by) WHERE claimed_by IS NOT NULL;
CREATE INDEX messages_claimed_sender ON messages (sender, id) WHERE claimed_by IS NOT NULL;
-- The work still to do, in the order it is claimed: a claim reads the first few rows only,
-- however large the backlog.
CREATE INDEX messages_waiting ON messages (priority_rank, id)
    WHERE state IN ('accepted', 'registering');

ALTER TABLE outbox ADD COLUMN claimed_by TEXT COLLATE "C";
ALTER TABLE outbox ADD COLUMN claim_until TEXT COLLATE "C";
CREATE INDEX outbox_claimed ON outbox (claimed_by) WHERE claimed_by IS NOT NULL;

CREATE TABLE leases (
    name        TEXT COLLATE "C" PRIMARY KEY,
    holder      TEXT COLLATE "C" NOT NULL,
    acquired_at TEXT COLLATE "C" NOT NULL,
    renewed_at  TEXT COLLATE "C" NOT NULL,
    expires_at  TEXT COLLATE "C" NOT NULL
);
