"""Store primitives for several pixbridge instances on one database: claims and leases.

A **claim** marks a message or an outgoing mail as taken by one instance (``holder``) until a
time; an expired claim is free again, so the work of an instance that died is taken over. A
**lease** is a named role ("poll mailbox X", "sync tracker Y") that one instance holds at a
time, renewed while it works. Every time is the caller's clock, passed in.

Both backends claim atomically: the claiming statement runs under :meth:`Database.lock`
(SQLite: the write lock of ``BEGIN IMMEDIATE``; PostgreSQL: an advisory lock, plus
``FOR UPDATE SKIP LOCKED`` so rows another transaction is changing are passed over).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from pixbridge.store.db import Database
from pixbridge.store.rows import LeaseRow, MessageRow, OutboxRow, from_row, ts

__all__ = ["MAILBOX_ROLE_PREFIX", "ClaimsMixin", "mailbox_role"]

CLAIM_LOCK = "pixbridge.claims"
"""The lock every claiming transaction holds (see :meth:`Database.lock`)."""

MAILBOX_ROLE_PREFIX = "mailbox:"
"""How the lease of the role "poll a mailbox" begins; :meth:`ClaimsMixin.held_by_others` looks
for it, so the orchestrator names the role with :func:`mailbox_role`."""


def mailbox_role(source: str) -> str:
    """The lease name of polling mail source *source* (its settings key)."""
    return f"{MAILBOX_ROLE_PREFIX}{source}"


class ClaimsMixin:
    """Claims on messages and outgoing mail, and leases (part of :class:`StateStore`)."""

    db: Database

    # ---------------------------------------------------------------- messages

    def claim_work(
        self, holder: str, now: datetime, ttl: timedelta, limit: int
    ) -> list[MessageRow]:
        """Claim up to *limit* messages to process for *holder* until ``now + ttl``.

        Taken: messages still to process (``accepted``/``registering``) whose next attempt is
        due and whose claim is free, expired or already *holder*'s (which renews it), most
        urgent first, then in arrival order. A conversation stays in order: a message is not
        claimed while an earlier unfinished message from the same sender (``messages.sender``,
        when already known) is claimed by another holder.
        """
        until = ts(now + ttl)
        with self.db.transaction():
            self.db.lock(CLAIM_LOCK)
            rows = self.db.execute(
                "UPDATE messages SET claimed_by = ?, claim_until = ? WHERE id IN ("
                " SELECT m.id FROM messages m"
                " WHERE m.state IN ('accepted', 'registering')"
                " AND (m.next_attempt_at IS NULL OR m.next_attempt_at <= ?)"
                " AND (m.claimed_by IS NULL OR m.claimed_by = ? OR m.claim_until <= ?)"
                " AND NOT EXISTS (SELECT 1 FROM messages e"
                "  WHERE e.sender = m.sender AND e.id < m.id"
                "  AND e.state IN ('accepted', 'registering')"
                "  AND e.claimed_by IS NOT NULL AND e.claimed_by != ? AND e.claim_until > ?)"
                f" ORDER BY m.priority_rank, m.id LIMIT ?{self.db.row_lock})"
                " RETURNING *",
                (holder, until, ts(now), holder, ts(now), holder, ts(now), limit),
            ).fetchall()
        claimed = [from_row(MessageRow, r) for r in rows]
        return sorted(claimed, key=lambda m: (m.priority_rank, m.id))

    def release_claim(self, message: int, holder: str | None = None) -> None:
        """Give message *message* free again (only if *holder*'s, when *holder* is given)."""
        if holder is None:
            self.db.execute(
                "UPDATE messages SET claimed_by = NULL, claim_until = NULL WHERE id = ?",
                (message,),
            )
        else:
            self.db.execute(
                "UPDATE messages SET claimed_by = NULL, claim_until = NULL"
                " WHERE id = ? AND claimed_by = ?",
                (message, holder),
            )

    # ---------------------------------------------------------------- outbox

    def claim_outbox(
        self, holder: str, now: datetime, ttl: timedelta, limit: int
    ) -> list[OutboxRow]:
        """Claim up to *limit* pending mails whose time has come, oldest first (as
        :meth:`claim_work` does for messages)."""
        until = ts(now + ttl)
        with self.db.transaction():
            self.db.lock(CLAIM_LOCK)
            rows = self.db.execute(
                "UPDATE outbox SET claimed_by = ?, claim_until = ? WHERE id IN ("
                " SELECT id FROM outbox WHERE state = 'pending'"
                " AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"
                " AND (claimed_by IS NULL OR claimed_by = ? OR claim_until <= ?)"
                f" ORDER BY id LIMIT ?{self.db.row_lock})"
                " RETURNING *",
                (holder, until, ts(now), holder, ts(now), limit),
            ).fetchall()
        return sorted((from_row(OutboxRow, r) for r in rows), key=lambda o: o.id)

    def release_outbox_claim(self, row_id: int, holder: str | None = None) -> None:
        """Give mail *row_id* free again (only if *holder*'s, when *holder* is given)."""
        if holder is None:
            self.db.execute(
                "UPDATE outbox SET claimed_by = NULL, claim_until = NULL WHERE id = ?", (row_id,)
            )
        else:
            self.db.execute(
                "UPDATE outbox SET claimed_by = NULL, claim_until = NULL"
                " WHERE id = ? AND claimed_by = ?",
                (row_id, holder),
            )

    def keep_claims(
        self, table: str, ids: Sequence[int], holder: str, now: datetime, ttl: timedelta
    ) -> set[int]:
        """Renew *holder*'s claims on rows *ids* of *table* (``messages`` or ``outbox``) until
        ``now + ttl``; returns the ids it still holds. A row whose claim expired and was taken
        by another instance, or that is finished, is not among them."""
        if table not in ("messages", "outbox"):
            raise ValueError(f"no claims in table {table!r}")
        if not ids:
            return set()
        unfinished = "('accepted', 'registering')" if table == "messages" else "('pending')"
        marks = ", ".join("?" for _ in ids)
        rows = self.db.execute(
            f"UPDATE {table} SET claim_until = ? WHERE id IN ({marks})"
            f" AND claimed_by = ? AND state IN {unfinished} RETURNING id",
            (ts(now + ttl), *ids, holder),
        ).fetchall()
        return {int(r["id"]) for r in rows}

    def release_claims(self, holder: str) -> int:
        """Give every message and mail claimed by *holder* free (a clean shutdown)."""
        freed = 0
        with self.db.transaction():
            for table in ("messages", "outbox"):
                freed += self.db.execute(
                    f"UPDATE {table} SET claimed_by = NULL, claim_until = NULL"
                    " WHERE claimed_by = ?",
                    (holder,),
                ).rowcount
        return freed

    # ---------------------------------------------------------------- leases

    def acquire_lease(self, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        """Take or renew lease *name* for *holder* until ``now + ttl``.

        True when *holder* has it now: it was free, expired or already *holder*'s. One
        statement, so two instances racing for it cannot both win.
        """
        rows = self.db.execute(
            "INSERT INTO leases (name, holder, acquired_at, renewed_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,"
            " acquired_at = CASE WHEN leases.holder = excluded.holder"
            "  THEN leases.acquired_at ELSE excluded.acquired_at END,"
            " renewed_at = excluded.renewed_at, expires_at = excluded.expires_at"
            " WHERE leases.holder = excluded.holder OR leases.expires_at <= excluded.renewed_at"
            " RETURNING holder",
            (name, holder, ts(now), ts(now), ts(now + ttl)),
        ).fetchall()
        return len(rows) == 1

    def release_lease(self, name: str, holder: str) -> bool:
        """Give lease *name* up if *holder* has it; True if it did."""
        cur = self.db.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))
        return cur.rowcount == 1

    def lease(self, name: str) -> LeaseRow | None:
        """Lease *name* as stored (possibly expired), or ``None``."""
        row = self.db.execute("SELECT * FROM leases WHERE name = ?", (name,)).fetchone()
        return from_row(LeaseRow, row) if row else None

    def held_by_others(self, holder: str, now: datetime) -> bool:
        """Whether an instance other than *holder* holds an unexpired claim on unfinished work,
        or the role of polling a mailbox (``pixbridge run --once`` waits for them to finish)."""
        busy = self.db.execute(
            "SELECT 1 FROM messages WHERE claimed_by IS NOT NULL AND claimed_by != ?"
            " AND claim_until > ? AND state IN ('accepted', 'registering')"
            " UNION ALL SELECT 1 FROM outbox WHERE claimed_by IS NOT NULL AND claimed_by != ?"
            " AND claim_until > ? AND state = 'pending'"
            " UNION ALL SELECT 1 FROM leases WHERE holder != ? AND expires_at > ?"
            " AND name LIKE ?"
            " LIMIT 1",
            (holder, ts(now), holder, ts(now), holder, ts(now), f"{MAILBOX_ROLE_PREFIX}%"),
        ).fetchone()
        return busy is not None
