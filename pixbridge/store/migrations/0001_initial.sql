-- pixbridge state schema, version 1.
-- Every accepted message, its processing state and request; the outbox; watermarks; the event log.
-- Times are ISO 8601 UTC strings. Documented for analysts in docs/schema.md.

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    mailbox         TEXT    NOT NULL,  -- the mail source adapter's name
    source_ref      TEXT    NOT NULL,  -- the message's id in that mailbox
    message_id      TEXT,              -- the Message-ID header, if any
    content_hash    TEXT    NOT NULL,  -- sha256 of the raw bytes
    size            INTEGER NOT NULL,
    received_at     TEXT    NOT NULL,  -- when we accepted it: the time every rule uses
    state           TEXT    NOT NULL,  -- accepted | registering | done | quarantined
    outcome         TEXT,              -- new_request | comment | followup | automated | duplicate | quarantined
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    last_error      TEXT,
    verdict         TEXT,              -- human | auto_reply | bounce | bulk | own
    verdict_reason  TEXT,
    sender          TEXT,
    subject         TEXT,
    request_key     TEXT,
    marker          TEXT,
    priority_rank   INTEGER NOT NULL DEFAULT 50,  -- lower is handled first
    mailbox_acked   INTEGER NOT NULL DEFAULT 0,
    UNIQUE (mailbox, source_ref)
);
CREATE INDEX messages_dedupe ON messages (mailbox, message_id, content_hash);
CREATE INDEX messages_work ON messages (state, priority_rank, id);
CREATE INDEX messages_request ON messages (request_key);

CREATE TABLE message_raw (
    message INTEGER PRIMARY KEY REFERENCES messages (id),
    raw     BLOB NOT NULL
);

CREATE TABLE requests (
    key             TEXT PRIMARY KEY,  -- the tracker's registration number
    customer        TEXT NOT NULL,
    language        TEXT NOT NULL,
    status          TEXT NOT NULL,     -- registered | in_progress | waiting_for_customer | completed
    summary         TEXT NOT NULL,
    priority        TEXT NOT NULL,
    priority_reason TEXT NOT NULL,
    assignee        TEXT,
    assignee_reason TEXT NOT NULL,
    follows         TEXT,              -- the completed request this one follows
    origin_message  INTEGER REFERENCES messages (id),
    thread_id       TEXT,              -- Message-ID of the customer's first message
    missing         TEXT NOT NULL DEFAULT '[]',  -- JSON list of required items still missing
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX requests_customer ON requests (customer);

CREATE TABLE participants (
    request_key TEXT NOT NULL REFERENCES requests (key),
    address     TEXT NOT NULL,
    PRIMARY KEY (request_key, address)
);

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    message_id      TEXT NOT NULL UNIQUE,  -- chosen before sending
    cause           TEXT NOT NULL UNIQUE,  -- what made us write it; one mail per cause
    request_key     TEXT,
    purpose         TEXT NOT NULL,         -- acknowledgement | followup_acknowledgement | agent_comment | completion
    recipient       TEXT NOT NULL,
    raw             BLOB NOT NULL,
    created_at      TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending',  -- pending | sent | failed
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    sent_at         TEXT,
    last_error      TEXT
);
CREATE INDEX outbox_pending ON outbox (state, id);
CREATE INDEX outbox_recipient ON outbox (recipient, purpose, created_at);

CREATE TABLE watermarks (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE seen_changes (
    change_id   TEXT PRIMARY KEY,
    request_key TEXT NOT NULL,
    seen_at     TEXT NOT NULL
);

CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    request_key TEXT,
    message     INTEGER,
    activity    TEXT NOT NULL,   -- accepted | screened | registered | commented | acknowledged | sent | ...
    actor       TEXT NOT NULL,   -- pixbridge | customer address | agent name | adapter name
    detail      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_request ON events (request_key, id);
