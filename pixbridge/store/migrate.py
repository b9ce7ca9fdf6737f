"""Applying a backend's migrations: each version once, all pending ones in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from pixbridge.store.db import Database, split_statements

__all__ = ["apply_migrations"]


def apply_migrations(
    db: Database, found: Sequence[tuple[int, str]], run: Callable[[str], Any]
) -> list[int]:
    """Apply the versions of *found* that *db* lacks; returns the versions applied.

    :param found: (version, SQL) pairs of the backend's own dialect, in order.
    :param run: Runs one DDL statement as written (no placeholder translation).

    Two instances starting at once wait for each other (:meth:`Database.lock`), and the
    second sees every version applied.
    """
    applied_now: list[int] = []
    with db.transaction():
        db.lock("pixbridge.migrations")
        run(
            "CREATE TABLE IF NOT EXISTS schema_migrations"
            " (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        applied = {int(row[0]) for row in db.execute("SELECT version FROM schema_migrations")}
        for version, sql in found:
            if version in applied:
                continue
            for statement in split_statements(sql):
                run(statement)
            db.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                (version, datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")),
            )
            applied_now.append(version)
    return applied_now
