"""The PostgreSQL implementation of pixbridge's :class:`~pixbridge.store.db.Database`.

One autocommit connection per store; :meth:`transaction` is ``BEGIN`` ... ``COMMIT`` at READ
COMMITTED, nested blocks joining the outer one as on SQLite. What SQLite's single write lock
gave for free is explicit here: statements that must not interleave between instances are
single statements (``INSERT ... ON CONFLICT``, ``UPDATE ... RETURNING``) or run under an
advisory lock (:meth:`lock`: claims, migrations).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from pixbridge.store.db import (
    Cursor,
    Database,
    IntegrityError,
    Reader,
    StoreUnavailable,
    migrations,
)
from pixbridge.store.migrate import apply_migrations
from pixbridge_postgres.paramstyle import to_pyformat
from pixbridge_postgres.rows import Row, row_factory

__all__ = ["PostgresDatabase"]

CONNECT_TIMEOUT = 10
"""Seconds to wait for the server before reporting it unreachable."""


def _values(params: Sequence[Any]) -> list[Any]:
    # Booleans are stored as integers (0/1), as on SQLite; psycopg would send a boolean.
    return [int(v) if isinstance(v, bool) else v for v in params]


class _Reader:
    """A :class:`~pixbridge.store.db.Reader` on a connection of its own."""

    def __init__(self, conn: psycopg.Connection[Row]) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> Cursor:
        return self._conn.execute(to_pyformat(sql), _values(params))


class PostgresDatabase(Database):
    """A schema in a PostgreSQL database, migrated to the newest version on open.

    :param url: A libpq connection string or ``postgresql://`` URL.
    :param schema: The schema holding pixbridge's tables (created if missing); ``None``: the
        connection's default search path (usually ``public``).
    :raises StoreUnavailable: the server cannot be reached, or refuses the login.
    """

    dialect = "postgresql"
    row_lock = " FOR UPDATE SKIP LOCKED"

    def __init__(self, url: str, *, schema: str | None = None) -> None:
        super().__init__()
        self._url = url
        self.schema = schema
        self.conn = self._connect()
        """The driver connection: for this backend's own code and tests only."""
        apply_migrations(self, migrations("pixbridge_postgres"), self._run_ddl)

    # ------------------------------------------------------------------ connections

    def _connect(self, *, create_schema: bool = True) -> psycopg.Connection[Row]:
        try:
            conn = psycopg.connect(
                self._url,
                autocommit=True,
                row_factory=row_factory,
                connect_timeout=CONNECT_TIMEOUT,
                application_name="pixbridge",
            )
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(
                f"cannot connect to {self.describe()}: {str(exc).strip()}; check [store] url "
                "and that the server is running and accepts this user"
            ) from exc
        if self.schema is not None:
            schema = sql.Identifier(self.schema)
            exists = conn.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.schema,)
            ).fetchone()
            if exists is None and create_schema:
                # Only when missing: CREATE SCHEMA needs a privilege the user may not have.
                conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema))
            conn.execute(sql.SQL("SET search_path TO {}").format(schema))
        return conn

    def _usable(self) -> psycopg.Connection[Row]:
        """The connection; a broken one is replaced when no transaction depends on it."""
        if self.conn.broken and not self._depth:
            self.conn.close()
            self.conn = self._connect()
        return self.conn

    # ------------------------------------------------------------------ statements

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """Run one statement with ``?`` placeholders.

        :raises StoreUnavailable: the connection was lost (the next statement outside a
            transaction reconnects).
        """
        try:
            return self._usable().execute(to_pyformat(sql), _values(params))
        except psycopg.IntegrityError as exc:
            raise IntegrityError(str(exc).strip()) from exc
        except psycopg.OperationalError as exc:
            raise self._lost(exc) from exc

    def _lost(self, exc: psycopg.OperationalError) -> Exception:
        """A lost connection as :class:`StoreUnavailable`; any other failure as it is."""
        if not self.conn.broken:
            return exc
        return StoreUnavailable(f"lost the connection to {self.describe()}: {str(exc).strip()}")

    def _run_ddl(self, statement: str) -> None:
        self.conn.execute(statement)  # without parameters: no placeholder processing

    def _begin(self) -> None:
        try:
            self._usable().execute("BEGIN")
        except psycopg.OperationalError as exc:
            raise self._lost(exc) from exc

    def _commit(self) -> None:
        try:
            self.conn.execute("COMMIT")
        except psycopg.IntegrityError as exc:  # a deferred constraint: rolled back
            raise IntegrityError(str(exc).strip()) from exc
        except psycopg.OperationalError as exc:
            # Whether it took effect is unknown; the unique keys (one message per mailbox
            # reference, one mail per cause) keep a retried pass from doing it twice.
            raise self._lost(exc) from exc

    def _rollback(self) -> None:
        if not self.conn.broken and not self.conn.closed:
            self.conn.execute("ROLLBACK")

    def lock(self, name: str) -> None:
        """Take a transaction-scoped advisory lock for *name* in this schema."""
        digest = hashlib.blake2b(f"{self.schema}:{name}".encode(), digest_size=8).digest()
        key = int.from_bytes(digest, "big", signed=True)
        # Through execute: a connection lost here is StoreUnavailable, as everywhere else.
        self.execute("SELECT pg_advisory_xact_lock(?)", (key,))

    # ------------------------------------------------------------------ the rest

    @contextmanager
    def snapshot(self) -> Iterator[Reader]:
        """A read-only connection of its own in one REPEATABLE READ snapshot."""
        conn = self._connect(create_schema=False)
        try:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield _Reader(conn)
        finally:
            conn.close()  # closing ends (rolls back) the read-only transaction

    def columns(self) -> dict[str, list[str]]:
        """Tables of the schema and their columns, in declaration order."""
        tables: dict[str, list[str]] = {}
        for row in self.conn.execute(
            "SELECT c.table_name, c.column_name FROM information_schema.columns c"
            " JOIN information_schema.tables t"
            " ON t.table_schema = c.table_schema AND t.table_name = c.table_name"
            " WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'"
            " ORDER BY c.table_name, c.ordinal_position"
        ):
            tables.setdefault(row[0], []).append(row[1])
        return tables

    def describe(self) -> str:
        """Host, port, database and schema; never the password."""
        try:
            info = conninfo_to_dict(self._url)
        except psycopg.ProgrammingError:
            return "PostgreSQL (unreadable [store] url)"
        where = f"{info.get('host') or 'localhost'}:{info.get('port') or 5432}"
        schema = f", schema {self.schema}" if self.schema else ""
        return f"PostgreSQL database {info.get('dbname') or '?'} on {where}{schema}"

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()
