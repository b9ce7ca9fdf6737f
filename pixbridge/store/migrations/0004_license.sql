-- pixbridge state schema: the licence check made when a request was registered (issue 6).
-- One row per request; times are ISO 8601 UTC strings, dates YYYY-MM-DD.

CREATE TABLE request_licenses (
    request_key     TEXT PRIMARY KEY REFERENCES requests (key),
    verdict         TEXT NOT NULL,     -- valid | invalid | indeterminate
    codes           TEXT NOT NULL DEFAULT '[]',  -- JSON list, most fundamental first
    support_allowed INTEGER NOT NULL DEFAULT 0,
    support_until   TEXT,              -- last day of support (inclusive), when known
    outcome         TEXT NOT NULL,     -- valid | support_expired | unknown_serial | invalid | indeterminate
    serial          TEXT,
    product         TEXT,
    dongle          TEXT,
    source          TEXT NOT NULL,     -- the validator whose answer decided
    rule            TEXT NOT NULL,     -- the combine rule that decided
    evidence        TEXT NOT NULL DEFAULT '{}',  -- JSON: the whole check, every validator's answer
    as_of           TEXT NOT NULL      -- the message's arrival time the check was made at
);
CREATE INDEX request_licenses_verdict ON request_licenses (verdict, outcome);
