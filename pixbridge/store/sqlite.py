"""The built-in SQLite backend: one file in the data directory, WAL mode, ``BEGIN IMMEDIATE``."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from pixbridge.store.db import Cursor, Database, IntegrityError, Reader, enable_wal, migrations
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
        # FULL: a committed transaction survives power loss, which the mailbox ordering relies on.
        self.conn.execute(f"PRAGMA synchronous={synchronous}")
        self._synchronous = synchronous.upper()
        self._relaxed = False
        self.conn.execute("PRAGMA foreign_keys=ON")
        apply_migrations(self, migrations("pixbridge.store"), self.conn.execute)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """Run one statement (outside a transaction, a write waits for the lock promptly)."""
        try:
            if self.conn.in_transaction:
                return self.conn.execute(sql, params)
            return retry_locked(lambda: self.conn.execute(sql, params))
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(str(exc)) from exc

    def _begin(self) -> None:
        if not self._durable and self._synchronous == "FULL":
            # SQLite takes the safety level at commit but refuses to change it inside a
            # transaction, so it is lowered here and raised again once the transaction ends.
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self._relaxed = True
        try:
            begin_immediate(self.conn)
        except BaseException:
            self._restore()
            raise

    def _commit(self) -> None:
        try:
            self.conn.execute("COMMIT")
        except sqlite3.IntegrityError as exc:  # a deferred constraint (the transaction stays open)
            raise IntegrityError(str(exc)) from exc
        finally:
            self._restore()

    def _rollback(self) -> None:
        try:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
        finally:
            self._restore()

    def _restore(self) -> None:
        if self._relaxed and not self.conn.in_transaction:
            self.conn.execute(f"PRAGMA synchronous={self._synchronous}")
            self._relaxed = False

    def flush(self) -> None:
        """fsync the write-ahead log, which holds every commit made since the last checkpoint.

        In WAL mode with ``synchronous=NORMAL`` SQLite writes a commit to the ``-wal`` file
        without syncing it, syncs that file before each checkpoint and the database after it
        (sqlite.org/pragma.html#pragma_synchronous). Syncing the ``-wal`` file is therefore all
        that stands between a relaxed commit and the disk; without the file there is nothing
        unsynced.
        """
        try:
            fd = os.open(f"{self.path}-wal", os.O_RDONLY)
        except FileNotFoundError:
            return
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

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
