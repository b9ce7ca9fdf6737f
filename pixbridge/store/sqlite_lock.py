"""Taking SQLite's write lock promptly when several processes write to one database.

SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25... milliseconds between tries, so a
process that meets the lock held for a fraction of a millisecond (one commit) waits several
milliseconds, and two workers sharing a database spend more time asleep than working. So the
connections have no busy timeout, and the lock is retried here after a fraction of a
millisecond, backing off to a few milliseconds, for at most 30 seconds.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["begin_immediate", "retry_locked"]

T = TypeVar("T")

_FIRST_DELAY = 0.0001
_MAX_DELAY = 0.004
TIMEOUT = 30.0


def retry_locked(attempt: Callable[[], T], timeout: float = TIMEOUT) -> T:
    """*attempt()*, again after a short sleep each time it finds the database locked.

    Only for statements that change nothing when they fail that way (a ``BEGIN``, or one
    statement outside a transaction).

    :raises sqlite3.OperationalError: still locked after *timeout* seconds, or another error.
    """
    deadline = time.monotonic() + timeout
    delay = _FIRST_DELAY
    while True:
        try:
            return attempt()
        except sqlite3.OperationalError as exc:
            message = str(exc)
            if "locked" not in message and "busy" not in message:
                raise
            if time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, _MAX_DELAY)


def begin_immediate(conn: sqlite3.Connection, timeout: float = TIMEOUT) -> None:
    """``BEGIN IMMEDIATE`` on *conn* (opened with ``timeout=0``), retrying promptly."""
    retry_locked(lambda: conn.execute("BEGIN IMMEDIATE"), timeout)
