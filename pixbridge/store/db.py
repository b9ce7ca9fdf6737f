"""SQLite connection handling: WAL mode, versioned migrations, explicit transactions."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

__all__ = ["Database", "enable_wal", "migrations"]


def enable_wal(conn: sqlite3.Connection, *, tries: int = 100) -> None:
    """Switch *conn*'s database to WAL mode.

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


def migrations() -> list[tuple[int, str]]:
    """The schema migrations shipped with pixbridge, as (version, SQL), in order."""
    found = []
    for entry in resources.files("pixbridge.store").joinpath("migrations").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), entry.read_text(encoding="utf-8")))
    return sorted(found)


class Database:
    """One SQLite database file, migrated to the newest schema on open.

    Statements run in autocommit mode unless inside :meth:`transaction`, which takes the write
    lock up front (``BEGIN IMMEDIATE``) so two processes never deadlock upgrading a read lock.
    """

    def __init__(self, path: Path, *, synchronous: str = "FULL") -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=30.0)
        self.conn.row_factory = sqlite3.Row
        enable_wal(self.conn)
        # FULL: a committed transaction survives power loss, which the mailbox ordering relies on.
        self.conn.execute(f"PRAGMA synchronous={synchronous}")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self._depth = 0
        self._migrate()

    def _migrate(self) -> None:
        with self.transaction():
            self.conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
            )
            applied = {row[0] for row in self.conn.execute("SELECT version FROM schema_migrations")}
            for version, sql in migrations():
                if version in applied:
                    continue
                for statement in _statements(sql):
                    self.conn.execute(statement)
                self.conn.execute("INSERT INTO schema_migrations (version) VALUES (?)", (version,))

    @property
    def schema_version(self) -> int:
        """The newest migration applied."""
        row = self.conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run the block in one write transaction; nested blocks join the outer one."""
        if self._depth:
            self._depth += 1
            try:
                yield self.conn
            finally:
                self._depth -= 1
            return
        self.conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield self.conn
        except BaseException:
            self._depth = 0
            self.conn.execute("ROLLBACK")
            raise
        self._depth = 0
        self.conn.execute("COMMIT")

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


def _statements(sql: str) -> list[str]:
    """Split a migration into statements (``sqlite3.complete_statement`` knows about quotes)."""
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
