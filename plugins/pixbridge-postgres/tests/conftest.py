"""A fresh schema on the real PostgreSQL server for each test (see pixbridge_postgres.testing)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from pixbridge_postgres.database import PostgresDatabase
from pixbridge_postgres.testing import fresh_schema


@pytest.fixture
def pg_schema() -> Iterator[tuple[str, str]]:
    """``(url, schema)`` of a new, empty schema, dropped after the test."""
    with fresh_schema() as where:
        yield where


@pytest.fixture
def open_pg(pg_schema: tuple[str, str]) -> Iterator[Callable[[], PostgresDatabase]]:
    """Opens a :class:`PostgresDatabase` on the test's schema; each call is a new connection."""
    opened: list[PostgresDatabase] = []

    def make() -> PostgresDatabase:
        db = PostgresDatabase(pg_schema[0], schema=pg_schema[1])
        opened.append(db)
        return db

    yield make
    for db in opened:
        db.close()
