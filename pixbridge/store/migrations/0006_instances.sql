-- pixbridge state schema: several pixbridge instances on one database (issue 10).
-- A claim is a time-limited promise "this instance works on this row"; a lease is a named
-- time-limited role ("polls mailbox X"). Both expire, so a crashed instance's work is taken over.
-- Times are ISO 8601 UTC strings.

ALTER TABLE messages ADD COLUMN claimed_by TEXT;   -- the instance working on the message
ALTER TABLE messages ADD COLUMN claim_until TEXT;  -- the claim expires then
-- Few rows are claimed at a time: finding them (an instance's own, or an earlier message of
-- the same sender claimed by another instance) stays cheap however long the history is.
CREATE INDEX messages_claimed ON messages (claimed_by) WHERE claimed_by IS NOT NULL;
CREATE INDEX messages_claimed_sender ON messages (sender, id) WHERE claimed_by IS NOT NULL;
-- The work still to do, in the order it is claimed: a claim reads the first few rows only,
-- however large the backlog.
CREATE INDEX messages_waiting ON messages (priority_rank, id)
    WHERE state IN ('accepted', 'registering');

ALTER TABLE outbox ADD COLUMN claimed_by TEXT;     -- the instance sending the mail
ALTER TABLE outbox ADD COLUMN claim_until TEXT;
CREATE INDEX outbox_claimed ON outbox (claimed_by) WHERE claimed_by IS NOT NULL;

CREATE TABLE leases (
    name        TEXT PRIMARY KEY,  -- the role, e.g. mailbox:<source>, sync:<tracker>
    holder      TEXT NOT NULL,     -- the instance holding it
    acquired_at TEXT NOT NULL,     -- when this holder took it
    renewed_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL      -- free for anyone after this time
);
