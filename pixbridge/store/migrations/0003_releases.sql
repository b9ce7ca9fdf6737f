-- pixbridge state schema: releases (issue 9).
-- A release is one product version generation.build; its steps are the publishers it went to;
-- its notifications are the customers told that the build they waited for is out.
-- Times are ISO 8601 UTC strings.

CREATE TABLE releases (
    id           INTEGER PRIMARY KEY,
    product      TEXT    NOT NULL,
    generation   INTEGER NOT NULL,
    build        INTEGER NOT NULL,
    version      TEXT    NOT NULL,  -- "<generation>.<build>"
    identity     TEXT    NOT NULL,  -- sha256 of the files and change entries: what may not change
    manifest     TEXT    NOT NULL,  -- JSON: files with sha256 and size, change entries, notes
    status       TEXT    NOT NULL DEFAULT 'publishing',  -- publishing | published
    created_at   TEXT    NOT NULL,
    published_at TEXT,
    UNIQUE (product, version),
    UNIQUE (product, build)     -- build numbers are never reused within a product
);

CREATE TABLE release_steps (
    release_id  INTEGER NOT NULL REFERENCES releases (id),
    publisher   TEXT    NOT NULL,  -- the release publisher adapter's name
    state       TEXT    NOT NULL DEFAULT 'pending',  -- pending | done | failed
    attempts    INTEGER NOT NULL DEFAULT 0,
    url         TEXT,              -- where the publisher put the release
    details     TEXT    NOT NULL DEFAULT '{}',  -- JSON: the publisher's further links
    last_error  TEXT,
    updated_at  TEXT    NOT NULL,
    PRIMARY KEY (release_id, publisher)
);

CREATE TABLE waiting_builds (
    request_key TEXT PRIMARY KEY REFERENCES requests (key),
    product     TEXT NOT NULL,
    version     TEXT NOT NULL,     -- the build the customer waits for
    marked_by   TEXT NOT NULL,     -- the agent
    marked_at   TEXT NOT NULL,
    release_id  INTEGER REFERENCES releases (id)  -- set when the customer was told
);
CREATE INDEX waiting_builds_version ON waiting_builds (product, version);

CREATE TABLE release_notifications (
    release_id   INTEGER NOT NULL REFERENCES releases (id),
    request_key  TEXT    NOT NULL,
    cause        TEXT    NOT NULL UNIQUE,  -- the outbox cause: build:<product>:<version>:<key>
    queued_at    TEXT    NOT NULL,
    tracker_done INTEGER NOT NULL DEFAULT 0,  -- 1 once the tracker shows the request completed
    PRIMARY KEY (release_id, request_key)
);
