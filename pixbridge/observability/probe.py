"""What the state store holds right now, read on each scrape from the scraping thread."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from pixbridge.store.state import StateStore

__all__ = ["Backlog", "StoreBacklogProbe", "StoreProbe"]


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


class StoreBacklogProbe:
    """Reads the backlog through a read-only connection of its own, on any store backend.

    The orchestrator's connection belongs to its thread; :meth:`Database.snapshot` opens
    another one that never joins or blocks the orchestrator's transactions.
    """

    def __init__(self, store: StateStore) -> None:
        self.store = store

    def backlog(self) -> Backlog:
        """One consistent read of the backlog."""
        with self.store.db.snapshot() as conn:
            waiting, oldest, newest = conn.execute(
                "SELECT COUNT(CASE WHEN state IN ('accepted', 'registering') THEN 1 END),"
                " MIN(CASE WHEN state IN ('accepted', 'registering') THEN received_at END),"
                " MAX(received_at) FROM messages"
            ).fetchone()
            depth, oldest_mail = conn.execute(
                "SELECT COUNT(*), MIN(created_at) FROM outbox WHERE state = 'pending'"
            ).fetchone()
            outcomes = {
                str(r[0]): int(r[1])
                for r in conn.execute(
                    "SELECT outcome, COUNT(*) FROM messages WHERE outcome IS NOT NULL"
                    " GROUP BY outcome"
                )
            }
        return Backlog(
            waiting=int(waiting or 0),
            oldest_waiting_at=_when(oldest),
            newest_received_at=_when(newest),
            outbox_depth=int(depth),
            oldest_outbox_at=_when(oldest_mail),
            outcomes=outcomes,
        )
