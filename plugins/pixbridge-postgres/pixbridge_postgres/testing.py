"""Test support: a fresh schema on a real PostgreSQL server for each test.

The server is ``PIXBRIDGE_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``).
Tests that use it fail, never skip, when it cannot be reached: the error says what to do.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

__all__ = ["DEFAULT_URL", "fresh_schema", "server_url"]

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


def server_url() -> str:
    """The PostgreSQL server the tests use."""
    return os.environ.get("PIXBRIDGE_TEST_POSTGRES_URL", DEFAULT_URL)


@contextmanager
def fresh_schema(url: str | None = None) -> Iterator[tuple[str, str]]:
    """Create schema ``pixbridge_test_<random>``, yield ``(url, schema)``, then drop it.

    :raises RuntimeError: the server cannot be reached (with what to do about it).
    """
    url = url or server_url()
    try:
        admin = psycopg.connect(url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        raise RuntimeError(
            f"the PostgreSQL tests need a server at {url!r} and cannot reach it: "
            f"{str(exc).strip()}. Start PostgreSQL on 127.0.0.1:5432 with trust authentication "
            "for user postgres and a database named test, or point PIXBRIDGE_TEST_POSTGRES_URL "
            "at one."
        ) from exc
    schema = f"pixbridge_test_{secrets.token_hex(6)}"
    with admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        try:
            yield url, schema
        finally:
            admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
