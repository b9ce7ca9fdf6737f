-- pixbridge state schema, version 4 (PostgreSQL): the licence check made when a request was
-- registered. Mirrors pixbridge/store/migrations/0004_license.sql.

CREATE TABLE request_licenses (
    request_key     TEXT COLLATE "C" PRIMARY KEY REFERENCES requests (key),
    verdict         TEXT COLLATE "C" NOT NULL,
    codes           TEXT COLLATE "C" NOT NULL DEFAULT '[]',
    support_allowed INTEGER NOT NULL DEFAULT 0,
    support_until   TEXT COLLATE "C",
    outcome         TEXT COLLATE "C" NOT NULL,
    serial          TEXT COLLATE "C",
    product         TEXT COLLATE "C",
    dongle          TEXT COLLATE "C",
    source          TEXT COLLATE "C" NOT NULL,
    rule            TEXT COLLATE "C" NOT NULL,
    evidence        TEXT COLLATE "C" NOT NULL DEFAULT '{}',
    as_of           TEXT COLLATE "C" NOT NULL
);
CREATE INDEX request_licenses_verdict ON request_licenses (verdict, outcome);
