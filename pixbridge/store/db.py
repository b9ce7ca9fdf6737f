"""The backend-neutral database interface of the state store.

pixbridge's SQL is written once, in the dialect both backends understand: ``?`` placeholders,
``INSERT ... ON CONFLICT``, ``RETURNING``, times as ISO 8601 text, booleans as integers. A
backend (SQLite built in, PostgreSQL in the ``pixbridge-postgres`` plugin) implements
:class:`Database`: it runs that SQL, returns rows addressable by column name and by position,
nests transactions the same way and applies its own dialect's migrations of the same versions.
"""

from __future__ import annotations

import os
import sqlite3
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from importlib import resources
from typing import Any, ClassVar, Protocol

from pixbridge.errors import PixbridgeError

__all__ = [
    "Cursor",
    "Database",
    "IntegrityError",
    "Reader",
    "StoreUnavailable",
    "enable_wal",
    "migrations",
    "split_statements",
    "sync_wal",
]


class IntegrityError(Exception):
    """A statement broke a constraint (unique key, foreign key, not null), on any backend."""


class StoreUnavailable(PixbridgeError):
    """The database cannot be reached or opened; the message says what to check."""


class Cursor(Protocol):
    """What :meth:`Database.execute` returns (``sqlite3.Cursor`` and psycopg's cursor fit)."""

    @property
    def rowcount(self) -> int:
        """Rows changed by an INSERT, UPDATE or DELETE."""

    def fetchone(self) -> Any:
        """The next row, or ``None``; a row is addressable by column name and by position."""

    def fetchall(self) -> list[Any]:
        """Every remaining row."""

    def __iter__(self) -> Iterator[Any]:
        """The remaining rows, one by one."""


class Reader(Protocol):
    """A read-only view of the database on a connection of its own (see :meth:`Database.snapshot`)."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """Run one read-only statement."""


class Database(ABC):
    """One state database: statements, nested transactions, the schema version.

    Statements run in autocommit mode unless inside :meth:`transaction`. A transaction is one
    unit on the database; a nested ``transaction()`` block joins the outer one (no savepoint),
    and an exception leaving the outermost block rolls everything back.
    """

    dialect: ClassVar[str]
    """``sqlite`` or ``postgresql``: which migrations apply, and for the few dialect clauses."""

    row_lock: ClassVar[str] = ""
    """Appended to a ``SELECT`` whose rows are about to be claimed: PostgreSQL's
    ``FOR UPDATE SKIP LOCKED``; empty where the transaction already holds the write lock."""

    def __init__(self) -> None:
        self._depth = 0
        self._durable = True
        """Whether the open transaction must survive a power cut when it commits."""

    # ------------------------------------------------------------------ statements

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """Run one statement with ``?`` placeholders.

        :raises IntegrityError: the statement broke a constraint.
        """

    # ------------------------------------------------------------------ transactions

    @abstractmethod
    def _begin(self) -> None:
        """Start a write transaction."""

    @abstractmethod
    def _commit(self) -> None:
        """Commit the transaction."""

    @abstractmethod
    def _rollback(self) -> None:
        """Roll the transaction back."""

    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[Database]:
        """Run the block in one write transaction; nested blocks join the outer one.

        ``durable=False`` lets a backend commit without waiting for the disk (SQLite: no fsync),
        so a power cut, though never a crash of the process, may lose the transaction. Use it
        only where losing it is harmless, and call :meth:`flush` before anything outside the
        store (a tracker, a mailbox, a customer) acts on what it recorded. A nested block takes
        the outer block's durability.
        """
        if self._depth:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        self._durable = durable
        self._begin()
        self._depth = 1
        try:
            yield self
            self._commit()
        except BaseException:
            # Also when COMMIT itself fails: SQLite may leave the transaction open then (a
            # deferred constraint, a full disk), and every later BEGIN would be refused.
            self._rollback()
            raise
        finally:
            self._depth = 0

    def flush(self) -> None:  # noqa: B027 - optional by design
        """Make every committed transaction durable, ``durable=False`` ones included.

        The default does nothing: a backend that always commits durably needs no flush.
        """

    @property
    def in_transaction(self) -> bool:
        """Whether a :meth:`transaction` block is open."""
        return self._depth > 0

    @abstractmethod
    def lock(self, name: str) -> None:
        """Inside a transaction: wait until no other instance holds lock *name*, then hold it
        until the transaction ends (SQLite's write lock already does; PostgreSQL takes an
        advisory lock)."""

    # ------------------------------------------------------------------ the rest

    @property
    def schema_version(self) -> int:
        """The newest migration applied."""
        row = self.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0)

    @abstractmethod
    def snapshot(self) -> AbstractContextManager[Reader]:
        """A read-only connection of its own, reading one consistent snapshot.

        For another thread (the metrics server): it never joins or blocks this connection's
        transactions. The connection is closed when the block ends.
        """

    @abstractmethod
    def columns(self) -> dict[str, list[str]]:
        """Every table of the schema with its column names in order (for checks and docs)."""

    @abstractmethod
    def describe(self) -> str:
        """Where the database is, for messages and logs (never a password)."""

    @abstractmethod
    def close(self) -> None:
        """Close the connection."""


def migrations(
    package: str = "pixbridge.store", folder: str = "migrations"
) -> list[tuple[int, str]]:
    """The migrations in *package*'s *folder*, as (version, SQL), in order.

    Files are named ``NNNN_name.sql``; the number is the schema version.
    """
    found = []
    for entry in resources.files(package).joinpath(folder).iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), entry.read_text(encoding="utf-8")))
    return sorted(found)


def split_statements(sql: str) -> list[str]:
    """Split a migration into statements (``sqlite3.complete_statement`` knows about quotes).

    Good for both dialects as long as a migration uses no PostgreSQL dollar quoting.
    """
    statements, current = [], ""
    for line in sql.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            stripped = current.strip()
            if stripped and not all(
                ln.strip().startswith("--") or not ln.strip() for ln in stripped.splitlines()
            ):
                statements.append(stripped)
            current = ""
    return statements


def sync_wal(database: str | os.PathLike[str]) -> None:
    """fsync the write-ahead log of the SQLite *database* file, which holds every commit made
    since the last checkpoint (shared with the local tracker's database).

    In WAL mode with ``synchronous=NORMAL`` SQLite writes a commit to the ``-wal`` file without
    syncing it, syncs that file before each checkpoint and the database after it
    (sqlite.org/pragma.html#pragma_synchronous). Syncing the ``-wal`` file is therefore all that
    stands between such a commit and the disk; without the file there is nothing unsynced.
    """
    try:
        fd = os.open(f"{os.fspath(database)}-wal", os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def enable_wal(conn: sqlite3.Connection, *, tries: int = 100) -> None:
    """Switch *conn*'s SQLite database to WAL mode (shared with the local tracker's database).

    Changing the journal mode needs an exclusive lock and SQLite answers "locked" at once,
    without its busy handler, while another connection opens the same new file: so retry.
    """
    for attempt in range(tries):
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == tries - 1:
                raise
            time.sleep(0.02)
