"""What the state store holds right now, read on each scrape from the scraping thread."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

__all__ = ["Backlog", "SqliteProbe", "StoreProbe"]


@dataclass(frozen=True)
class Backlog:
    """Counts and timestamps of the work in the state store."""

    waiting: int = 0
    """Messages accepted but not yet done or quarantined."""
    oldest_waiting_at: datetime | None = None
    newest_received_at: datetime | None = None
    outbox_depth: int = 0
    """Mail queued and not yet sent (``pending``)."""
    oldest_outbox_at: datetime | None = None
    outcomes: dict[str, int] = field(default_factory=dict)
    """Handled messages by outcome: new_request, comment, automated, quarantined..."""


class StoreProbe(Protocol):
    """Reads a :class:`Backlog`; called from the metrics server's thread, not the orchestrator's."""

    def backlog(self) -> Backlog:
        """The state store's backlog now."""


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class SqliteProbe:
    """Reads the SQLite state store through its own read-only connection.

    The orchestrator's connection belongs to its thread, and a read-only connection in WAL mode
    never blocks the writer.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def backlog(self) -> Backlog:
        """One consistent read of the backlog."""
        uri = f"{self.path.resolve().as_uri()}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True, timeout=5.0)) as conn:
            conn.execute("BEGIN")  # one snapshot for every query below
            waiting, oldest, newest = conn.execute(
                "SELECT SUM(state IN ('accepted', 'registering')),"
                " MIN(CASE WHEN state IN ('accepted', 'registering') THEN received_at END),"
                " MAX(received_at) FROM messages"
            ).fetchone()
            depth, oldest_mail = conn.execute(
                "SELECT COUNT(*), MIN(created_at) FROM outbox WHERE state = 'pending'"
            ).fetchone()
            outcomes = dict(
                conn.execute(
                    "SELECT outcome, COUNT(*) FROM messages WHERE outcome IS NOT NULL"
                    " GROUP BY outcome"
                ).fetchall()
            )
        return Backlog(
            waiting=int(waiting or 0),
            oldest_waiting_at=_when(oldest),
            newest_received_at=_when(newest),
            outbox_depth=int(depth),
            oldest_outbox_at=_when(oldest_mail),
            outcomes={str(k): int(v) for k, v in outcomes.items()},
        )
