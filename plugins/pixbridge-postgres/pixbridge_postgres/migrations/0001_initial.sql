-- pixbridge state schema, version 1, PostgreSQL dialect: the same tables and columns as
-- pixbridge/store/migrations/0001_initial.sql (a test compares the two).
-- Times are ISO 8601 UTC strings, as on SQLite; text compares byte-wise (COLLATE "C") so that
-- ordering and comparisons match SQLite's whatever the database's locale.
-- Documented for analysts in docs/schema.md.

CREATE TABLE messages (
    id              BIGSERIAL PRIMARY KEY,
    mailbox         TEXT COLLATE "C" NOT NULL,
    source_ref      TEXT COLLATE "C" NOT NULL,
    message_id      TEXT COLLATE "C",
    content_hash    TEXT COLLATE "C" NOT NULL,
    size            BIGINT  NOT NULL,
    received_at     TEXT COLLATE "C" NOT NULL,
    state           TEXT COLLATE "C" NOT NULL,
    outcome         TEXT COLLATE "C",
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT COLLATE "C",
    last_error      TEXT COLLATE "C",
    verdict         TEXT COLLATE "C",
    verdict_reason  TEXT COLLATE "C",
    sender          TEXT COLLATE "C",
    subject         TEXT COLLATE "C",
    request_key     TEXT COLLATE "C",
    marker          TEXT COLLATE "C",
    priority_rank   INTEGER NOT NULL DEFAULT 50,
    mailbox_acked   INTEGER NOT NULL DEFAULT 0,
    UNIQUE (mailbox, source_ref)
);
CREATE INDEX messages_dedupe ON messages (mailbox, message_id, content_hash);
CREATE INDEX messages_work ON messages (state, priority_rank, id);
CREATE INDEX messages_request ON messages (request_key);

CREATE TABLE message_raw (
    message BIGINT PRIMARY KEY REFERENCES messages (id),
    raw     BYTEA NOT NULL
);

CREATE TABLE requests (
    key             TEXT COLLATE "C" PRIMARY KEY,
    customer        TEXT COLLATE "C" NOT NULL,
    language        TEXT COLLATE "C" NOT NULL,
    status          TEXT COLLATE "C" NOT NULL,
    summary         TEXT COLLATE "C" NOT NULL,
    priority        TEXT COLLATE "C" NOT NULL,
    priority_reason TEXT COLLATE "C" NOT NULL,
    assignee        TEXT COLLATE "C",
    assignee_reason TEXT COLLATE "C" NOT NULL,
    follows         TEXT COLLATE "C",
    origin_message  BIGINT REFERENCES messages (id),
    thread_id       TEXT COLLATE "C",
    missing         TEXT COLLATE "C" NOT NULL DEFAULT '[]',
    created_at      TEXT COLLATE "C" NOT NULL,
    updated_at      TEXT COLLATE "C" NOT NULL
);
CREATE INDEX requests_customer ON requests (customer);

CREATE TABLE participants (
    request_key TEXT COLLATE "C" NOT NULL REFERENCES requests (key),
    address     TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (request_key, address)
);

CREATE TABLE outbox (
    id              BIGSERIAL PRIMARY KEY,
    message_id      TEXT COLLATE "C" NOT NULL UNIQUE,
    cause           TEXT COLLATE "C" NOT NULL UNIQUE,
    request_key     TEXT COLLATE "C",
    purpose         TEXT COLLATE "C" NOT NULL,
    recipient       TEXT COLLATE "C" NOT NULL,
    raw             BYTEA NOT NULL,
    created_at      TEXT COLLATE "C" NOT NULL,
    state           TEXT COLLATE "C" NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT COLLATE "C",
    sent_at         TEXT COLLATE "C",
    last_error      TEXT COLLATE "C"
);
CREATE INDEX outbox_pending ON outbox (state, id);
CREATE INDEX outbox_recipient ON outbox (recipient, purpose, created_at);

CREATE TABLE watermarks (
    name       TEXT COLLATE "C" PRIMARY KEY,
    value      TEXT COLLATE "C" NOT NULL,
    updated_at TEXT COLLATE "C" NOT NULL
);

CREATE TABLE seen_changes (
    change_id   TEXT COLLATE "C" PRIMARY KEY,
    request_key TEXT COLLATE "C" NOT NULL,
    seen_at     TEXT COLLATE "C" NOT NULL
);

CREATE TABLE events (
    id          BIGSERIAL PRIMARY KEY,
    at          TEXT COLLATE "C" NOT NULL,
    request_key TEXT COLLATE "C",
    message     BIGINT,
    activity    TEXT COLLATE "C" NOT NULL,
    actor       TEXT COLLATE "C" NOT NULL,
    detail      TEXT COLLATE "C" NOT NULL DEFAULT '{}'
);
CREATE INDEX events_request ON events (request_key, id);
