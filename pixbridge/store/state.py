"""The state store: accepted messages, requests, the outbox, watermarks and the event log.

Every method runs in the caller's transaction when called inside ``store.db.transaction()``,
so the orchestrator can record an effect and the mail it causes atomically. The SQL is the
portable dialect of :mod:`pixbridge.store.db`, so every backend runs the same statements.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pixbridge.store.claims import ClaimsMixin
from pixbridge.store.db import Database
from pixbridge.store.rows import LeaseRow, MessageRow, OutboxRow, RequestRow, from_row, ts

__all__ = ["LeaseRow", "MessageRow", "OutboxRow", "RequestRow", "StateStore"]


class StateStore(ClaimsMixin):
    """Typed access to the state database.

    :param db: An open :class:`~pixbridge.store.db.Database` of any backend, or the path of a
        SQLite file (opened with the built-in backend; *synchronous* applies to it only).
    """

    def __init__(self, db: Database | Path, *, synchronous: str = "FULL") -> None:
        if not isinstance(db, Database):
            from pixbridge.store.sqlite import SqliteDatabase

            db = SqliteDatabase(Path(db), synchronous=synchronous)
        self.db: Database = db

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    # ---------------------------------------------------------------- messages

    def known_refs(self, mailbox: str, refs: Sequence[str]) -> set[str]:
        """Which of *refs* have already been accepted from *mailbox*."""
        known: set[str] = set()
        for start in range(0, len(refs), 500):
            chunk = list(refs[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                f"SELECT source_ref FROM messages WHERE mailbox = ? AND source_ref IN ({marks})",
                [mailbox, *chunk],
            )
            known.update(r[0] for r in rows)
        return known

    def accept(
        self,
        mailbox: str,
        ref: str,
        raw: bytes,
        received_at: datetime,
        sender: str | None = None,
    ) -> int:
        """Store a message's raw bytes durably; returns pixbridge's number for it.

        :param sender: The From address if already known (stored lowercase): lets
            :meth:`claim_work` keep a sender's messages in order before they are parsed.
        """
        with self.db.transaction():
            (row,) = self.db.execute(
                "INSERT INTO messages (mailbox, source_ref, content_hash, size, received_at,"
                " state, sender) VALUES (?, ?, ?, ?, ?, 'accepted', ?) RETURNING id",
                (
                    mailbox,
                    ref,
                    hashlib.sha256(raw).hexdigest(),
                    len(raw),
                    ts(received_at),
                    sender.lower() if sender else None,
                ),
            ).fetchall()
            number = int(row[0])
            self.db.execute("INSERT INTO message_raw (message, raw) VALUES (?, ?)", (number, raw))
            return number

    def raw(self, message: int) -> bytes:
        """The raw bytes of an accepted message, exactly as received."""
        row = self.db.execute(
            "SELECT raw FROM message_raw WHERE message = ?", (message,)
        ).fetchone()
        return bytes(row[0])

    def message(self, message: int) -> MessageRow:
        """One accepted message."""
        row = self.db.execute("SELECT * FROM messages WHERE id = ?", (message,)).fetchone()
        if row is None:
            raise KeyError(message)
        return from_row(MessageRow, row)

    def messages(self, *, state: str | None = None, limit: int = 1000) -> list[MessageRow]:
        """Accepted messages, newest first, optionally only those in *state*."""
        sql = "SELECT * FROM messages"
        args: list[Any] = []
        if state:
            sql += " WHERE state = ?"
            args.append(state)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        return [from_row(MessageRow, r) for r in self.db.execute(sql, args)]

    def work(self, now: datetime, limit: int) -> list[MessageRow]:
        """Messages still to process, most urgent first, then in arrival order."""
        rows = self.db.execute(
            "SELECT * FROM messages WHERE state IN ('accepted', 'registering')"
            " AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"
            " ORDER BY priority_rank, id LIMIT ?",
            (ts(now), limit),
        )
        return [from_row(MessageRow, r) for r in rows]

    def update_message(self, message: int, **fields: Any) -> None:
        """Set columns of a message row."""
        cols = ", ".join(f"{name} = ?" for name in fields)
        values = [ts(v) if isinstance(v, datetime) else v for v in fields.values()]
        self.db.execute(f"UPDATE messages SET {cols} WHERE id = ?", [*values, message])

    def duplicate_of(self, row: MessageRow, message_id: str | None) -> int | None:
        """An earlier message from the same mailbox with the same Message-ID and content."""
        if message_id is None:
            found = self.db.execute(
                "SELECT id FROM messages WHERE mailbox = ? AND content_hash = ? AND id < ?"
                " AND message_id IS NULL AND (outcome IS NULL OR outcome != 'duplicate')"
                " ORDER BY id LIMIT 1",
                (row.mailbox, row.content_hash, row.id),
            ).fetchone()
        else:
            found = self.db.execute(
                "SELECT id FROM messages WHERE mailbox = ? AND message_id = ? AND content_hash = ?"
                " AND id < ? AND (outcome IS NULL OR outcome != 'duplicate') ORDER BY id LIMIT 1",
                (row.mailbox, message_id, row.content_hash, row.id),
            ).fetchone()
        return int(found[0]) if found else None

    def same_id_other_content(self, row: MessageRow, message_id: str) -> int | None:
        """An earlier message with the same Message-ID but different content (worth a flag)."""
        found = self.db.execute(
            "SELECT id FROM messages WHERE mailbox = ? AND message_id = ? AND content_hash != ?"
            " AND id < ? ORDER BY id LIMIT 1",
            (row.mailbox, message_id, row.content_hash, row.id),
        ).fetchone()
        return int(found[0]) if found else None

    def unacknowledged(self, mailbox: str) -> list[MessageRow]:
        """Finished messages whose mailbox has not yet been told."""
        rows = self.db.execute(
            "SELECT * FROM messages WHERE mailbox = ? AND mailbox_acked = 0"
            " AND state IN ('done', 'quarantined') ORDER BY id",
            (mailbox,),
        )
        return [from_row(MessageRow, r) for r in rows]

    # ---------------------------------------------------------------- requests

    def insert_request(self, request: RequestRow) -> None:
        """Remember a newly registered request."""
        self.db.execute(
            "INSERT INTO requests (key, customer, language, status, summary, priority,"
            " priority_reason, assignee, assignee_reason, follows, origin_message, thread_id,"
            " missing, created_at, updated_at, seq) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,"
            " (SELECT COALESCE(MAX(seq), 0) + 1 FROM requests))",
            (
                request.key,
                request.customer,
                request.language,
                request.status,
                request.summary,
                request.priority,
                request.priority_reason,
                request.assignee,
                request.assignee_reason,
                request.follows,
                request.origin_message,
                request.thread_id,
                json.dumps(request.missing),
                ts(request.created_at),
                ts(request.updated_at),
            ),
        )
        self.add_participant(request.key, request.customer)

    def request(self, key: str) -> RequestRow | None:
        """A request pixbridge registered, or ``None``."""
        row = self.db.execute("SELECT * FROM requests WHERE key = ?", (key,)).fetchone()
        return from_row(RequestRow, row) if row else None

    def requests(self, limit: int = 1000) -> list[RequestRow]:
        """Registered requests, newest first."""
        rows = self.db.execute("SELECT * FROM requests ORDER BY seq DESC LIMIT ?", (limit,))
        return [from_row(RequestRow, r) for r in rows]

    def set_request_status(self, key: str, status: str, at: datetime) -> None:
        """Record a request's new status."""
        self.db.execute(
            "UPDATE requests SET status = ?, updated_at = ? WHERE key = ?", (status, ts(at), key)
        )

    def set_missing(self, key: str, missing: Sequence[str], at: datetime) -> None:
        """Record which required items a request still lacks."""
        self.db.execute(
            "UPDATE requests SET missing = ?, updated_at = ? WHERE key = ?",
            (json.dumps(list(missing)), ts(at), key),
        )

    def set_facts(self, key: str, facts: Mapping[str, str], at: datetime) -> None:
        """Record what triage found on a request (its OS version and serial among them)."""
        self.db.execute(
            "UPDATE requests SET facts = ?, os_version = ?, serial = ?, updated_at = ?"
            " WHERE key = ?",
            (
                json.dumps(dict(facts), ensure_ascii=False),
                facts.get("os_version"),
                facts.get("serial"),
                ts(at),
                key,
            ),
        )

    def add_participant(self, key: str, address: str) -> None:
        """Let *address* write to request *key* by its number in the subject."""
        self.db.execute(
            "INSERT INTO participants (request_key, address) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (key, address.lower()),
        )

    def is_participant(self, key: str, address: str) -> bool:
        """Whether *address* takes part in request *key*."""
        row = self.db.execute(
            "SELECT 1 FROM participants WHERE request_key = ? AND address = ?",
            (key, address.lower()),
        ).fetchone()
        return row is not None

    def request_for_thread(self, message_ids: Iterable[str]) -> str | None:
        """The request one of *message_ids* belongs to: our mail, or the customer's own."""
        ids = [m for m in message_ids if m]
        if not ids:
            return None
        marks = ",".join("?" * len(ids))
        row = self.db.execute(
            f"SELECT request_key FROM outbox WHERE message_id IN ({marks})"
            " AND request_key IS NOT NULL ORDER BY id DESC LIMIT 1",
            ids,
        ).fetchone()
        if row is None:
            row = self.db.execute(
                f"SELECT request_key FROM messages WHERE message_id IN ({marks})"
                " AND request_key IS NOT NULL ORDER BY id DESC LIMIT 1",
                ids,
            ).fetchone()
        return str(row[0]) if row else None

    # ---------------------------------------------------------------- outbox

    def enqueue(
        self,
        *,
        message_id: str,
        cause: str,
        request_key: str | None,
        purpose: str,
        recipient: str,
        raw: bytes,
        at: datetime,
    ) -> bool:
        """Queue a mail; a second mail for the same *cause* is ignored. True if queued."""
        cur = self.db.execute(
            "INSERT INTO outbox (message_id, cause, request_key, purpose, recipient,"
            " raw, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (message_id, cause, request_key, purpose, recipient.lower(), raw, ts(at)),
        )
        return cur.rowcount == 1

    def outbox_message_ids(self) -> list[str]:
        """The Message-ID of every mail ever queued, in the order queued."""
        return [str(r[0]) for r in self.db.execute("SELECT message_id FROM outbox ORDER BY id")]

    def has_cause(self, cause: str) -> bool:
        """Whether a mail for *cause* was already queued."""
        return (
            self.db.execute("SELECT 1 FROM outbox WHERE cause = ?", (cause,)).fetchone() is not None
        )

    def outbox_due(self, now: datetime, limit: int) -> list[OutboxRow]:
        """Pending mail whose time has come, oldest first."""
        rows = self.db.execute(
            "SELECT * FROM outbox WHERE state = 'pending'"
            " AND (next_attempt_at IS NULL OR next_attempt_at <= ?) ORDER BY id LIMIT ?",
            (ts(now), limit),
        )
        return [from_row(OutboxRow, r) for r in rows]

    def outbox_sent(self, row_id: int, at: datetime) -> None:
        """Mark a mail as sent."""
        self.db.execute(
            "UPDATE outbox SET state = 'sent', sent_at = ?, attempts = attempts + 1 WHERE id = ?",
            (ts(at), row_id),
        )

    def outbox_failed(
        self, row_id: int, error: str, *, retry_at: datetime | None, permanent: bool
    ) -> None:
        """Record a failed send: retry later, or give up when *permanent*."""
        self.db.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?,"
            " state = ? WHERE id = ?",
            (
                error,
                ts(retry_at) if retry_at else None,
                "failed" if permanent else "pending",
                row_id,
            ),
        )

    def outbox_depth(self) -> int:
        """Mail waiting to be sent."""
        return int(
            self.db.execute("SELECT COUNT(*) FROM outbox WHERE state = 'pending'").fetchone()[0]
        )

    def acks_since(self, recipient: str, since: datetime) -> int:
        """Acknowledgements and rejection notices queued for *recipient* since *since* (the cap)."""
        row = self.db.execute(
            "SELECT COUNT(*) FROM outbox WHERE recipient = ?"
            " AND (purpose LIKE '%acknowledgement' OR purpose = 'rejected')"
            " AND created_at >= ?",
            (recipient.lower(), ts(since)),
        ).fetchone()
        return int(row[0])

    def outbox_for(self, request_key: str) -> list[OutboxRow]:
        """Every mail for a request, oldest first."""
        rows = self.db.execute(
            "SELECT * FROM outbox WHERE request_key = ? ORDER BY id", (request_key,)
        )
        return [from_row(OutboxRow, r) for r in rows]

    # ---------------------------------------------------------------- assignment

    def next_turn(self, team: str, at: datetime) -> int:
        """Take the next round-robin turn of *team*: 0, 1, 2 ... across restarts and instances.

        One statement, so two instances never take the same turn.
        """
        (row,) = self.db.execute(
            "INSERT INTO assignment_turns (team, turn, updated_at) VALUES (?, 1, ?)"
            " ON CONFLICT (team) DO UPDATE SET turn = assignment_turns.turn + 1,"
            " updated_at = excluded.updated_at RETURNING turn",
            (team, ts(at)),
        ).fetchall()
        return int(row[0]) - 1

    def open_counts(self, members: Sequence[str]) -> dict[str, int]:
        """How many requests not yet completed each of *members* is assigned."""
        counts = {m: 0 for m in members}
        if not members:
            return counts
        marks = ",".join("?" * len(members))
        rows = self.db.execute(
            f"SELECT assignee, COUNT(*) FROM requests WHERE status != 'completed'"
            f" AND assignee IN ({marks}) GROUP BY assignee",
            list(members),
        )
        counts.update({str(r[0]): int(r[1]) for r in rows})
        return counts

    # ---------------------------------------------------------------- sync

    def watermark(self, name: str) -> str | None:
        """The stored watermark *name*."""
        row = self.db.execute("SELECT value FROM watermarks WHERE name = ?", (name,)).fetchone()
        return str(row[0]) if row else None

    def set_watermark(self, name: str, value: str, at: datetime) -> None:
        """Store watermark *name*."""
        self.db.execute(
            "INSERT INTO watermarks (name, value, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            (name, value, ts(at)),
        )

    def mark_change_seen(self, change_id: str, request_key: str, at: datetime) -> bool:
        """Record a tracker change as handled; False if it already was."""
        cur = self.db.execute(
            "INSERT INTO seen_changes (change_id, request_key, seen_at) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (change_id, request_key, ts(at)),
        )
        return cur.rowcount == 1

    # ---------------------------------------------------------------- events

    def log(
        self,
        activity: str,
        *,
        at: datetime,
        actor: str = "pixbridge",
        request_key: str | None = None,
        message: int | None = None,
        **detail: Any,
    ) -> None:
        """Append to the event log."""
        self.db.execute(
            "INSERT INTO events (at, request_key, message, activity, actor, detail)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (ts(at), request_key, message, activity, actor, json.dumps(detail, default=str)),
        )

    def events(self, request_key: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Logged events, oldest first, optionally for one request."""
        sql = "SELECT * FROM events"
        args: list[Any] = []
        if request_key:
            sql += " WHERE request_key = ?"
            args.append(request_key)
        sql += " ORDER BY id LIMIT ?"
        args.append(limit)
        return [
            {
                "id": r["id"],
                "at": r["at"],
                "request": r["request_key"],
                "message": r["message"],
                "activity": r["activity"],
                "actor": r["actor"],
                "detail": json.loads(r["detail"]),
            }
            for r in self.db.execute(sql, args)
        ]
