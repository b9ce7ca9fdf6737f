-- pixbridge state schema, version 3 (PostgreSQL): releases. Mirrors
-- pixbridge/store/migrations/0003_releases.sql.

CREATE TABLE releases (
    id           BIGSERIAL PRIMARY KEY,
    product      TEXT COLLATE "C" NOT NULL,
    generation   INTEGER NOT NULL,
    build        INTEGER NOT NULL,
    version      TEXT COLLATE "C" NOT NULL,
    identity     TEXT COLLATE "C" NOT NULL,
    manifest     TEXT COLLATE "C" NOT NULL,
    status       TEXT COLLATE "C" NOT NULL DEFAULT 'publishing',
    created_at   TEXT COLLATE "C" NOT NULL,
    published_at TEXT COLLATE "C",
    UNIQUE (product, version),
    UNIQUE (product, build)
);

CREATE TABLE release_steps (
    release_id  BIGINT  NOT NULL REFERENCES releases (id),
    publisher   TEXT COLLATE "C" NOT NULL,
    state       TEXT COLLATE "C" NOT NULL DEFAULT 'pending',
    attempts    INTEGER NOT NULL DEFAULT 0,
    url         TEXT COLLATE "C",
    details     TEXT COLLATE "C" NOT NULL DEFAULT '{}',
    last_error  TEXT COLLATE "C",
    updated_at  TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (release_id, publisher)
);

CREATE TABLE waiting_builds (
    request_key TEXT COLLATE "C" PRIMARY KEY REFERENCES requests (key),
    product     TEXT COLLATE "C" NOT NULL,
    version     TEXT COLLATE "C" NOT NULL,
    marked_by   TEXT COLLATE "C" NOT NULL,
    marked_at   TEXT COLLATE "C" NOT NULL,
    release_id  BIGINT REFERENCES releases (id)
);
CREATE INDEX waiting_builds_version ON waiting_builds (product, version);

CREATE TABLE release_notifications (
    release_id   BIGINT  NOT NULL REFERENCES releases (id),
    request_key  TEXT COLLATE "C" NOT NULL,
    cause        TEXT COLLATE "C" NOT NULL UNIQUE,
    queued_at    TEXT COLLATE "C" NOT NULL,
    tracker_done INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (release_id, request_key)
);
