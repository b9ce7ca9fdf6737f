"""The built-in SQLite backend: one file in the data directory, WAL mode, ``BEGIN IMMEDIATE``."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from pixbridge.store.db import (
    Cursor,
    Database,
    IntegrityError,
    Reader,
    enable_wal,
    migrations,
    sync_wal,
)
from pixbridge.store.migrate import apply_migrations
from pixbridge.store.sqlite_lock import begin_immediate, retry_locked

__all__ = ["SqliteDatabase"]


class SqliteDatabase(Database):
    """One SQLite database file, migrated to the newest schema on open.

    A transaction takes the write lock up front (``BEGIN IMMEDIATE``), so two processes never
    deadlock upgrading a read lock, and everything inside it is serialised with other writers.
    """

    dialect = "sqlite"

    def __init__(self, path: Path, *, synchronous: str = "FULL") -> None:
        super().__init__()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # No busy timeout: SQLite's handler sleeps in coarse steps; sqlite_lock retries finely.
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=0.0)
        """The driver connection: for the SQLite backend's own code and tests only."""
        self.conn.row_factory = sqlite3.Row
        self._closed = False
        enable_wal(self.conn)
        self._syncs = synchronous.upper() == "FULL"
        # FULL (the default): a durable transaction survives power loss, which the mailbox
        # ordering relies on. SQLite's own FULL would sync the log inside COMMIT, while this
        # connection holds the database's one write lock, so every other writer (the second
        # worker) waits for the disk too; instead the connection commits at NORMAL and the
        # log is synced right after COMMIT, before transaction() returns (see _commit).
        self.conn.execute(f"PRAGMA synchronous={'NORMAL' if self._syncs else synchronous}")
        self.conn.execute("PRAGMA foreign_keys=ON")
        apply_migrations(self, migrations("pixbridge.store"), self.conn.execute)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """Run one statement (outside a transaction, a write waits for the lock promptly and
        is durable when this returns, as a durable transaction is)."""
        try:
            if self.conn.in_transaction:
                return self.conn.execute(sql, params)
            changes = self.conn.total_changes
            cursor = retry_locked(lambda: self.conn.execute(sql, params))
            if self._syncs and self.conn.total_changes != changes:
                self.flush()
            return cursor
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(str(exc)) from exc

    def _begin(self) -> None:
        begin_immediate(self.conn)

    def _commit(self) -> None:
        try:
            self.conn.execute("COMMIT")
        except sqlite3.IntegrityError as exc:  # a deferred constraint (the transaction stays open)
            raise IntegrityError(str(exc)) from exc
        if self._durable and self._syncs:
            # After COMMIT, so the write lock is free while the disk works. Readers may see the
            # transaction before it is on disk: nothing outside the store acts on what it read
            # before a flush (inbound.py, delivery.py), which covers it.
            self.flush()

    def _rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def flush(self) -> None:
        """fsync the write-ahead log: every commit so far, relaxed or not, is then on disk."""
        sync_wal(self.path)

    def lock(self, name: str) -> None:
        """Nothing to do: ``BEGIN IMMEDIATE`` holds the database's one write lock."""

    @contextmanager
    def snapshot(self) -> Iterator[Reader]:
        """A read-only connection; in WAL mode it never blocks the writer."""
        uri = f"{self.path.resolve().as_uri()}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True, timeout=5.0)) as conn:
            conn.row_factory = sqlite3.Row
            conn.execute("BEGIN")  # one snapshot for every query of the block
            yield conn

    def columns(self) -> dict[str, list[str]]:
        """Tables and their columns, in declaration order."""
        tables = [
            r[0]
            for r in self.conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                " AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        return {
            t: [r["name"] for r in self.conn.execute(f"PRAGMA table_info({t})")] for t in tables
        }

    def describe(self) -> str:
        """The database file."""
        return f"SQLite database {self.path}"

    def close(self) -> None:
        """Close the connection (again: nothing happens)."""
        if not self._closed:
            self._closed = True
            self.conn.close()
