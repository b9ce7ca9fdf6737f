"""The built-in local tracker: an embedded registration system in one SQLite file.

It lets pixbridge run without Jira (a trial, a small team, the tests). Requests, comments,
attachments, links and an audit trail of every change live in
``<data_dir>/tracker/local-tracker.sqlite3`` (or ``[adapters.local] path``); the schema is in
:mod:`pixbridge.builtins.local_tracker_db`. Agents work through ``pixbridge requests
comment/complete``, which call :meth:`LocalTracker.comment` and :meth:`LocalTracker.complete`.

Several processes may share the file: it is in WAL mode with a busy timeout, and every write,
key allocation included, runs in a ``BEGIN IMMEDIATE`` transaction.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from pydantic import field_validator

from pixbridge.adapters import AdapterContext, AdapterSettings, Tracker
from pixbridge.builtins.local_tracker_db import (
    AuditEntry,
    comment_from_row,
    connect,
    insert,
    translated,
)
from pixbridge.errors import PermanentAdapterError, TransientAdapterError
from pixbridge.markers import hookimpl
from pixbridge.models import (
    Attachment,
    ChangeBatch,
    CommentDraft,
    RequestDraft,
    RequestStatus,
    TrackedRequest,
    TrackerChange,
)
from pixbridge.registry import AdapterRegistry
from pixbridge.store.db import sync_wal
from pixbridge.store.sqlite_lock import begin_immediate

__all__ = ["AuditEntry", "LocalTracker", "register_adapters"]

PIXBRIDGE_ACTOR = "pixbridge"
"""The audit trail's actor for everything pixbridge itself writes."""
PAGE_SIZE = 500
"""At most this many changes per :meth:`LocalTracker.changes_since` call."""


class LocalTracker(Tracker):
    """Requests kept in a local SQLite database; see the module docstring."""

    name: ClassVar[str] = "local"
    markers_always_checked: ClassVar[bool] = True  # see create_request and add_comment
    busy_timeout: ClassVar[float] = 30.0
    """Seconds to wait for another process's write lock before a ``TransientAdapterError``."""

    class Settings(AdapterSettings):
        """``[adapters.local]``: where the database is and how keys look."""

        prefix: str = "SUP"
        """Keys are ``<prefix>-1``, ``<prefix>-2``, ... in creation order."""
        path: Path | None = None
        """The database file; relative paths are taken from the data directory."""

        @field_validator("prefix")
        @classmethod
        def _check_prefix(cls, value: str) -> str:
            if not re.fullmatch(r"[A-Z][A-Z0-9]*", value):
                raise ValueError(
                    f"{value!r} is not a key prefix: use upper-case letters and digits, "
                    "starting with a letter (for example SUP)"
                )
            return value

    def __init__(self, settings: LocalTracker.Settings, context: AdapterContext) -> None:
        super().__init__(settings, context)
        self.prefix = settings.prefix
        default = Path("tracker") / "local-tracker.sqlite3"
        self.path = context.data_dir / (settings.path or default)
        """The database file (nothing is created until first use)."""
        self._conn: sqlite3.Connection | None = None
        # One connection per instance; the lock lets threads share the instance safely.
        self._lock = threading.RLock()
        self._at = ""
        self._group: sqlite3.Connection | None = None
        """Inside :meth:`grouped`: its open transaction, which every read and write joins."""

    # ------------------------------------------------------------------ lifecycle

    def open(self) -> None:
        """Create or open the database and bring its schema up to date."""
        with self._lock:
            self._connection()

    def close(self) -> None:
        """Close the connection; safe to call more than once. Later use reopens it."""
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.close()

    def check(self) -> list[str]:
        """Report why the database cannot be opened, if it cannot."""
        try:
            self.open()
        except (PermanentAdapterError, TransientAdapterError) as exc:
            return [str(exc)]
        return []

    # ------------------------------------------------------------------ pixbridge's writes

    def create_request(self, draft: RequestDraft) -> str:
        """Register *draft*; a request already carrying ``draft.marker`` is returned instead.

        The marker is looked up whether or not ``draft.recovering`` is set: the column is unique,
        so a second request with one marker cannot exist. An empty marker is stored as none.
        """
        marker = draft.marker or None
        with self._write() as conn:
            row = conn.execute("SELECT key FROM requests WHERE marker = ?", (marker,)).fetchone()
            if row is not None:
                return str(row[0])
            (number,) = conn.execute(
                "SELECT COALESCE(MAX(number), 0) + 1 FROM requests WHERE prefix = ?",
                (self.prefix,),
            ).fetchone()
            key, now = f"{self.prefix}-{number}", self._now()
            request_id = insert(
                conn, "requests", key=key, prefix=self.prefix, number=number, marker=marker,
                summary=draft.summary, description=draft.description, customer=draft.customer,
                language=draft.language, priority=draft.priority, assignee=draft.assignee,
                status=RequestStatus.REGISTERED.value, labels=json.dumps(list(draft.labels)),
                fields=json.dumps(dict(draft.fields)), created_at=now, updated_at=now,
            )  # fmt: skip
            self._audit(conn, request_id, "create", marker=marker, summary=draft.summary)
            self._store_files(conn, request_id, None, draft.attachments)
            return key

    def add_comment(self, key: str, draft: CommentDraft) -> str:
        """Add pixbridge's comment (``by_pixbridge``); the comment with the same marker if any."""
        marker = draft.marker or None
        with self._write() as conn:
            request_id, _ = self._find(conn, key)
            row = conn.execute(
                "SELECT id FROM comments WHERE request_id = ? AND marker = ?", (request_id, marker)
            ).fetchone()
            if row is not None:
                return str(row[0])
            comment_id = self._insert_comment(conn, request_id, draft, by_pixbridge=True)
            self._store_files(conn, request_id, comment_id, draft.attachments)
            return str(comment_id)

    def add_attachments(self, key: str, attachments: Sequence[Attachment]) -> None:
        """Attach files to *key*, skipping any with the name and size of one already there."""
        with self._write() as conn:
            request_id, _ = self._find(conn, key)
            have = set(
                conn.execute(
                    "SELECT filename, size FROM attachments WHERE request_id = ?", (request_id,)
                ).fetchall()
            )
            new: list[Attachment] = []
            for attachment in attachments:
                if (attachment.filename, attachment.size) not in have:
                    have.add((attachment.filename, attachment.size))
                    new.append(attachment)
            self._store_files(conn, request_id, None, new)

    def set_status(self, key: str, status: RequestStatus) -> None:
        """Move *key* to *status*; the status it already has is left alone (and not audited)."""
        with self._write() as conn:
            request_id, current = self._find(conn, key)
            if current is not status:
                self._update_status(conn, request_id, status)
                self._audit(conn, request_id, "status", old=current.value, new=status.value)

    def link(self, key: str, follows: str) -> None:
        """Record that *key* follows *follows*; linking twice is not an error."""
        with self._write() as conn:
            request_id, _ = self._find(conn, key)
            follows_id, _ = self._find(conn, follows)
            if request_id == follows_id:
                raise PermanentAdapterError(f"request {key} cannot follow itself")
            cur = conn.execute(
                "INSERT OR IGNORE INTO links (request_id, follows_id, created_at) VALUES (?, ?, ?)",
                (request_id, follows_id, self._now()),
            )
            if cur.rowcount:
                self._audit(conn, request_id, "link", follows=follows.strip().upper())

    def set_fix_version(self, key: str, product: str, version: str) -> None:
        """Store the build *key* waits for in its fields ``product`` and ``fix_version``."""
        with self._write() as conn:
            request_id, _ = self._find(conn, key)
            (raw,) = conn.execute(
                "SELECT fields FROM requests WHERE id = ?", (request_id,)
            ).fetchone()
            fields = json.loads(raw)
            wanted = {**fields, "product": product, "fix_version": version}
            if wanted != fields:
                conn.execute(
                    "UPDATE requests SET fields = ?, updated_at = ? WHERE id = ?",
                    (json.dumps(wanted), self._now(), request_id),
                )
                self._audit(conn, request_id, "fix_version", product=product, version=version)

    # ------------------------------------------------------------------ agents' interface

    def comment(self, key: str, body: str, *, public: bool, author: str) -> str:
        """Add an agent's comment to *key*; public ones are mailed to the customer."""
        if not body.strip():
            raise PermanentAdapterError(f"the comment on {key} is empty; write something")
        draft = CommentDraft(marker="", body=body, public=public, author=author)
        with self._write() as conn:
            request_id, _ = self._find(conn, key)
            return str(self._insert_comment(conn, request_id, draft, by_pixbridge=False))

    def complete(self, key: str, answer: str, *, author: str) -> None:
        """Complete *key* with *answer*, stored as the request's public answer comment.

        Refused for a request that is already completed: a customer who disagrees with an answer
        gets a new request, the old answer stands.
        """
        if not answer.strip():
            raise PermanentAdapterError(f"no answer given for {key}; a request completes with one")
        draft = CommentDraft(marker="", body=answer, public=True, author=author)
        with self._write() as conn:
            request_id, status = self._find(conn, key)
            if status is RequestStatus.COMPLETED:
                raise PermanentAdapterError(
                    f"request {key} is already completed; it cannot be completed again"
                )
            comment_id = self._insert_comment(
                conn, request_id, draft, by_pixbridge=False, answer=True
            )
            self._update_status(conn, request_id, RequestStatus.COMPLETED)
            self._audit(
                conn, request_id, "complete", author, comment_id=comment_id, old=status.value
            )

    # ------------------------------------------------------------------ reading

    def get_request(self, key: str) -> TrackedRequest:
        """The request *key* with its comments (oldest first), attachments and links.

        ``links`` holds the keys of the requests this one is linked with in either direction
        (those it follows, then those following it), each in the order the links were made.
        """
        with self._read() as conn:
            request_id, _ = self._find(conn, key)
            row = conn.execute(
                "SELECT key, status, summary, description, customer, priority, assignee, fields "
                "FROM requests WHERE id = ?",
                (request_id,),
            ).fetchone()
            files = conn.execute(
                "SELECT comment_id, filename FROM attachments WHERE request_id = ? ORDER BY id",
                (request_id,),
            ).fetchall()
            links = conn.execute(
                "SELECT r.key FROM links l JOIN requests r ON r.id = l.follows_id "
                "WHERE l.request_id = ? UNION ALL "
                "SELECT r.key FROM links l JOIN requests r ON r.id = l.request_id "
                "WHERE l.follows_id = ?",
                (request_id, request_id),
            ).fetchall()
            comment_rows = conn.execute(
                "SELECT id, body, public, author, by_pixbridge, created_at FROM comments "
                "WHERE request_id = ? ORDER BY id",
                (request_id,),
            ).fetchall()
        comments = tuple(
            comment_from_row(c, tuple(name for cid, name in files if cid == c[0]))
            for c in comment_rows
        )
        return TrackedRequest(
            key=row[0],
            status=RequestStatus(row[1]),
            summary=row[2],
            description=row[3],
            customer=row[4],
            priority=row[5],
            assignee=row[6],
            attachments=tuple(name for _, name in files),
            links=tuple(k for (k,) in links),
            comments=comments,
            fields=json.loads(row[7]),
        )

    def changes_since(self, watermark: str | None) -> ChangeBatch:
        """Agents' comments and completions after *watermark*, oldest first, at most 500.

        The watermark is the decimal audit sequence number of the last change returned (``"0"``
        before any). pixbridge's own writes are left out, and so is the answer comment of a
        completion, which is reported once as the completion's ``answer``.
        """
        after = _parse_watermark(watermark)
        # What is reported here is mailed to customers: a change another process committed but
        # has not yet synced (it syncs right after COMMIT) must be on disk first.
        self._sync()
        with self._read() as conn:
            rows = conn.execute(
                "SELECT a.seq, a.action, a.at, r.key, c.id, c.body, c.public, c.author, "
                "c.by_pixbridge, c.created_at FROM audit a JOIN requests r ON r.id = a.request_id "
                "JOIN comments c ON c.id = a.comment_id WHERE a.seq > ? AND a.by_pixbridge = 0 "
                "AND a.action IN ('comment', 'complete') ORDER BY a.seq LIMIT ?",
                (after, PAGE_SIZE),
            ).fetchall()
        changes = []
        for seq, action, at, key, *comment_row in rows:
            change_id, when = f"local:{seq}", datetime.fromisoformat(at)
            comment = comment_from_row(comment_row, ())
            if action == "complete":
                status, answer = RequestStatus.COMPLETED, comment.body
                changes.append(TrackerChange(change_id, key, when, status=status, answer=answer))
            else:
                changes.append(TrackerChange(change_id, key, when, comment=comment))
        last = rows[-1][0] if rows else after
        return ChangeBatch(tuple(changes), str(last))

    def audit_trail(self, key: str | None = None) -> list[AuditEntry]:
        """Every recorded change, oldest first; only those of request *key* when given."""
        with self._read() as conn:
            sql = (
                "SELECT a.seq, a.at, a.actor, a.by_pixbridge, a.action, r.key, a.detail "
                "FROM audit a JOIN requests r ON r.id = a.request_id"
            )
            if key is None:
                rows = conn.execute(sql + " ORDER BY a.seq").fetchall()
            else:
                request_id, _ = self._find(conn, key)
                rows = conn.execute(
                    sql + " WHERE a.request_id = ? ORDER BY a.seq", (request_id,)
                ).fetchall()
        return [
            AuditEntry(seq, datetime.fromisoformat(at), actor, bool(own), action, k, json.loads(d))
            for seq, at, actor, own, action, k, d in rows
        ]

    # ------------------------------------------------------------------ internals

    @contextmanager
    def grouped(self) -> Iterator[None]:
        """One transaction for every read and write in the block (see :meth:`Tracker.grouped`).

        The write lock is held for the whole block: the lifecycle runs only tracker calls in it.
        """
        with self._lock, self._write() as conn:
            self._group = conn
            try:
                yield
            finally:
                self._group = None

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        with self._lock, translated(self.path):
            if self._group is not None:
                yield self._group  # committed, or rolled back, when the group ends
                return
            conn = self._connection()
            if write:
                # IMMEDIATE takes the write lock up front, so two processes never allocate
                # one key.
                begin_immediate(conn, self.busy_timeout)
            else:
                # A read transaction gives one snapshot across the several SELECTs of a read.
                conn.execute("BEGIN")
            # One timestamp per transaction: a change and its audit line carry the same time.
            self._at = self.context.clock.now().isoformat()
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                # Also after a failed COMMIT, so the connection is never left mid-transaction.
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            if write:
                # Each write is on disk before the caller hears of it, as with SQLite's FULL,
                # but synced after COMMIT, so another process's write need not wait for this
                # disk sync too. A write transaction that read another process's commit not yet
                # synced syncs that as well: the log is one file, synced whole.
                self._sync()

    def _sync(self) -> None:
        try:
            sync_wal(self.path)
        except OSError as exc:
            # Committed but perhaps not on disk: a retry finds the request by its marker.
            raise TransientAdapterError(
                f"cannot sync the local tracker database {self.path} to disk: {exc}"
            ) from exc

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._transaction(write=True)

    def _read(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._transaction(write=False)

    def _now(self) -> str:
        return self._at

    def _find(self, conn: sqlite3.Connection, key: str) -> tuple[int, RequestStatus]:
        row = conn.execute(
            "SELECT id, status FROM requests WHERE key = ?", (key.strip().upper(),)
        ).fetchone()
        if row is None:
            raise PermanentAdapterError(f"there is no request {key} in the local tracker")
        return int(row[0]), RequestStatus(row[1])

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = connect(self.path, self.busy_timeout)
            # Writers wait for the lock in begin_immediate, which retries more finely than
            # SQLite's busy handler (see pixbridge.store.sqlite_lock).
            self._conn.execute("PRAGMA busy_timeout = 0")
        return self._conn

    def _update_status(
        self, conn: sqlite3.Connection, request_id: int, status: RequestStatus
    ) -> None:
        conn.execute(
            "UPDATE requests SET status = ?, updated_at = ? WHERE id = ?",
            (status.value, self._now(), request_id),
        )

    def _insert_comment(
        self, conn: sqlite3.Connection, request_id: int, draft: CommentDraft, *,
        by_pixbridge: bool, answer: bool = False,
    ) -> int:  # fmt: skip
        comment_id = insert(
            conn, "comments", request_id=request_id, marker=draft.marker or None, body=draft.body,
            public=draft.public, author=draft.author, by_pixbridge=by_pixbridge,
            is_answer=answer, created_at=self._now(),
        )  # fmt: skip
        # An answer is audited once, as the completion it belongs to.
        if not answer:
            agent = None if by_pixbridge else draft.author
            self._audit(
                conn, request_id, "comment", agent, comment_id=comment_id, public=draft.public,
                author=draft.author, marker=draft.marker or None,
            )  # fmt: skip
        return comment_id

    def _store_files(
        self, conn: sqlite3.Connection, request_id: int, comment_id: int | None,
        attachments: Sequence[Attachment],
    ) -> None:  # fmt: skip
        for a in attachments:
            digest = hashlib.sha256(a.data).hexdigest()
            insert(
                conn, "attachments", request_id=request_id, comment_id=comment_id,
                filename=a.filename, content_type=a.content_type, size=a.size, sha256=digest,
                data=a.data, created_at=self._now(),
            )  # fmt: skip
            self._audit(
                conn, request_id, "attach", comment_id=comment_id, filename=a.filename,
                size=a.size, sha256=digest,
            )  # fmt: skip

    def _audit(
        self, conn: sqlite3.Connection, request_id: int, action: str,
        agent: str | None = None, *, comment_id: int | None = None, **detail: Any,
    ) -> None:  # fmt: skip
        # *agent* None means pixbridge did it; only agents' changes are reported by changes_since.
        insert(
            conn, "audit", at=self._now(), actor=agent or PIXBRIDGE_ACTOR,
            by_pixbridge=agent is None, action=action, request_id=request_id, comment_id=comment_id,
            detail=json.dumps(detail, sort_keys=True),
        )  # fmt: skip


def _parse_watermark(watermark: str | None) -> int:
    if watermark is None:
        return 0
    if not watermark.isdigit():
        raise PermanentAdapterError(
            f"{watermark!r} is not a local tracker watermark (a decimal sequence number)"
        )
    return int(watermark)


@hookimpl
def register_adapters(registry: AdapterRegistry) -> None:
    """Register the local tracker."""
    registry.add(LocalTracker)
