"""The local tracker's SQLite database: schema, migrations, connection and error translation.

The schema version lives in ``PRAGMA user_version``: migration *n* (1-based) brings a database
from version *n - 1* to *n*. Migrations are only ever appended, never edited, so a database
written by any earlier pixbridge can be brought up to date on open.

Tables, for analysts who query the file directly:

``requests``
    One row per request; ``key`` is ``<prefix>-<number>``, ``marker`` is pixbridge's idempotency
    marker (unique), ``labels`` and ``fields`` are JSON.
``comments``
    Public or internal comments; ``by_pixbridge`` marks comments pixbridge wrote (customer
    replies), ``is_answer`` the public comment an agent completed the request with.
``attachments``
    File name, content type, size, SHA-256 and the bytes; ``comment_id`` is set when the file
    came with a comment.
``links``
    ``request_id`` follows ``follows_id`` (a customer's new request after a completed one).
``audit``
    Every change, in order: ``seq`` (also the ``changes_since`` watermark), ``at``, ``actor``,
    ``by_pixbridge``, ``action`` and a JSON ``detail``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pixbridge.errors import PermanentAdapterError, TransientAdapterError
from pixbridge.models import TrackerComment
from pixbridge.store.db import enable_wal

__all__ = [
    "MIGRATIONS",
    "AuditEntry",
    "comment_from_row",
    "connect",
    "insert",
    "migrate",
    "translated",
]

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE requests (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            prefix TEXT NOT NULL,
            number INTEGER NOT NULL,
            marker TEXT UNIQUE,
            summary TEXT NOT NULL,
            description TEXT NOT NULL,
            customer TEXT NOT NULL,
            language TEXT NOT NULL,
            priority TEXT NOT NULL,
            assignee TEXT,
            status TEXT NOT NULL,
            labels TEXT NOT NULL DEFAULT '[]',
            fields TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (prefix, number)
        )
        """,
        """
        CREATE TABLE comments (
            id INTEGER PRIMARY KEY,
            request_id INTEGER NOT NULL REFERENCES requests (id),
            marker TEXT,
            body TEXT NOT NULL,
            public INTEGER NOT NULL,
            author TEXT NOT NULL,
            by_pixbridge INTEGER NOT NULL,
            is_answer INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            UNIQUE (request_id, marker)
        )
        """,
        """
        CREATE TABLE attachments (
            id INTEGER PRIMARY KEY,
            request_id INTEGER NOT NULL REFERENCES requests (id),
            comment_id INTEGER REFERENCES comments (id),
            filename TEXT NOT NULL,
            content_type TEXT NOT NULL,
            size INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            data BLOB NOT NULL,
            created_at TEXT NOT NULL
        )
        """,
        "CREATE INDEX attachments_request ON attachments (request_id)",
        """
        CREATE TABLE links (
            request_id INTEGER NOT NULL REFERENCES requests (id),
            follows_id INTEGER NOT NULL REFERENCES requests (id),
            created_at TEXT NOT NULL,
            PRIMARY KEY (request_id, follows_id)
        )
        """,
        "CREATE INDEX links_follows ON links (follows_id)",
        """
        CREATE TABLE audit (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            by_pixbridge INTEGER NOT NULL,
            action TEXT NOT NULL,
            request_id INTEGER NOT NULL REFERENCES requests (id),
            comment_id INTEGER REFERENCES comments (id),
            detail TEXT NOT NULL DEFAULT '{}'
        )
        """,
        "CREATE INDEX audit_request ON audit (request_id, seq)",
    ),
)
"""Statements of each migration, in order; append a tuple to change the schema."""


def _version(conn: sqlite3.Connection) -> int:
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def migrate(conn: sqlite3.Connection, path: object) -> None:
    """Bring the database on *conn* (in autocommit mode) to the latest schema version.

    Idempotent: an up-to-date database is only read. Raises :class:`PermanentAdapterError` for a
    database written by a newer pixbridge, naming *path*.
    """
    latest = len(MIGRATIONS)
    if _version(conn) == latest:
        return
    # Under a write lock and re-read: another process may be migrating the same file right now.
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = _version(conn)
        if current > latest:
            raise PermanentAdapterError(
                f"the local tracker database {path} has schema version {current}, newer than "
                f"this pixbridge knows ({latest}); upgrade pixbridge or point "
                "[adapters.local] path at another file"
            )
        for number in range(current + 1, latest + 1):
            for statement in MIGRATIONS[number - 1]:
                conn.execute(statement)
            # PRAGMA takes no parameters; *number* is an int from our own range.
            conn.execute(f"PRAGMA user_version = {number}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def connect(path: Path, timeout: float) -> sqlite3.Connection:
    """Open (creating if need be) the database at *path*, migrated, in autocommit mode.

    WAL lets readers run beside one writer. Commits are not synced by SQLite (``NORMAL``): the
    tracker syncs the log right after each write transaction's COMMIT, outside the write lock
    (:meth:`LocalTracker._transaction`); *timeout* is the busy timeout for another process's
    write lock.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PermanentAdapterError(
            f"cannot create the local tracker's directory {path.parent}: {exc}; "
            "check its permissions or set [adapters.local] path"
        ) from exc
    with translated(path):
        conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
        try:
            enable_wal(conn)
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            migrate(conn, path)
        except BaseException:
            conn.close()
            raise
    return conn


@contextmanager
def translated(path: Path) -> Iterator[None]:
    """Turn sqlite3's exceptions into adapter errors that name the file and what to do."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        name = getattr(exc, "sqlite_errorname", "")
        if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in str(exc):
            raise TransientAdapterError(
                f"the local tracker database {path} is busy (another process holds its lock); "
                "try again"
            ) from exc
        raise PermanentAdapterError(f"local tracker database {path}: {exc}") from exc
    except sqlite3.Error as exc:
        raise PermanentAdapterError(f"local tracker database {path}: {exc}") from exc


def insert(conn: sqlite3.Connection, table: str, **values: Any) -> int:
    """Insert one row into *table* (a name from this module's schema); return its rowid."""
    columns = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    # Table and column names come from our own code, never from input; the values are bound.
    cur = conn.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", tuple(values.values()))
    assert cur.lastrowid is not None  # an INSERT always sets it
    return cur.lastrowid


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit trail: who did what to which request, and when."""

    seq: int
    at: datetime
    actor: str
    by_pixbridge: bool
    action: str
    """``create``, ``comment``, ``attach``, ``status``, ``link`` or ``complete``."""
    key: str
    detail: dict[str, Any]


def comment_from_row(row: Sequence[Any], attachments: tuple[str, ...]) -> TrackerComment:
    """A comment from ``id, body, public, author, by_pixbridge, created_at`` of ``comments``."""
    cid, body, public, author, by_pixbridge, created_at = row
    return TrackerComment(
        id=str(cid),
        body=body,
        public=bool(public),
        author=author,
        by_pixbridge=bool(by_pixbridge),
        created_at=datetime.fromisoformat(created_at),
        attachments=attachments,
    )
