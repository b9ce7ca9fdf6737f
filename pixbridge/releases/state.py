"""The release tables of the state store (migration ``0003_releases.sql``).

Methods run in the caller's transaction when called inside ``store.db.transaction()``, so a
publish step, a notification and the mail it causes are recorded together.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pixbridge.store.rows import from_row, ts
from pixbridge.store.state import StateStore

__all__ = ["ReleaseRow", "ReleaseStore", "StepRow", "WaitingRow"]


@dataclass(frozen=True)
class ReleaseRow:
    """A version recorded for publishing (``publishing``) or fully published (``published``)."""

    id: int
    product: str
    generation: int
    build: int
    version: str
    identity: str
    manifest: Mapping[str, Any]
    """JSON: ``files`` (name, sha256, size), ``changes`` (entries), ``notes`` (rendered)."""
    status: str
    created_at: datetime
    published_at: datetime | None


@dataclass(frozen=True)
class StepRow:
    """One publisher's part of a release."""

    release_id: int
    publisher: str
    state: str
    attempts: int
    url: str | None
    details: Mapping[str, str]
    last_error: str | None


@dataclass(frozen=True)
class WaitingRow:
    """A request whose answer is a build that may not be out yet."""

    request_key: str
    product: str
    version: str
    marked_by: str
    marked_at: datetime
    release_id: int | None


class ReleaseStore:
    """Typed access to ``releases``, ``release_steps``, ``waiting_builds``, ``release_notifications``."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    # ---------------------------------------------------------------- releases

    def release(self, product: str, version: str) -> ReleaseRow | None:
        """The recorded release, or ``None``."""
        row = self.store.db.execute(
            "SELECT * FROM releases WHERE product = ? AND version = ?", (product, version)
        ).fetchone()
        return from_row(ReleaseRow, row) if row else None

    def releases(self, product: str | None = None) -> list[ReleaseRow]:
        """Recorded releases in build order, of one product or of all."""
        if product is None:
            rows = self.store.db.execute("SELECT * FROM releases ORDER BY product, build")
        else:
            rows = self.store.db.execute(
                "SELECT * FROM releases WHERE product = ? ORDER BY build", (product,)
            )
        return [from_row(ReleaseRow, r) for r in rows]

    def insert_release(
        self,
        *,
        product: str,
        generation: int,
        build: int,
        identity: str,
        manifest: Mapping[str, Any],
        at: datetime,
    ) -> int:
        """Record a release about to be published; returns its id."""
        (row,) = self.store.db.execute(
            "INSERT INTO releases (product, generation, build, version, identity, manifest,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                product,
                generation,
                build,
                f"{generation}.{build}",
                identity,
                json.dumps(manifest, ensure_ascii=False, sort_keys=True),
                ts(at),
            ),
        ).fetchall()
        return int(row[0])

    def mark_published(self, release_id: int, at: datetime) -> None:
        """Every publisher has the release: it is out."""
        self.store.db.execute(
            "UPDATE releases SET status = 'published', published_at = COALESCE(published_at, ?)"
            " WHERE id = ?",
            (ts(at), release_id),
        )

    # ---------------------------------------------------------------- steps

    def steps(self, release_id: int) -> list[StepRow]:
        """The publishers of a release, in the order they were first configured."""
        rows = self.store.db.execute(
            "SELECT * FROM release_steps WHERE release_id = ? ORDER BY position", (release_id,)
        )
        return [from_row(StepRow, r) for r in rows]

    def add_step(self, release_id: int, publisher: str, at: datetime) -> None:
        """Plan publishing to *publisher* (already planned: nothing changes)."""
        self.store.db.execute(
            "INSERT INTO release_steps (release_id, publisher, updated_at, position)"
            " VALUES (?, ?, ?, (SELECT COALESCE(MAX(position), 0) + 1 FROM release_steps"
            " WHERE release_id = ?)) ON CONFLICT DO NOTHING",
            (release_id, publisher, ts(at), release_id),
        )

    def step_done(
        self, release_id: int, publisher: str, url: str, details: Mapping[str, str], at: datetime
    ) -> None:
        """Record where *publisher* put the release."""
        self.store.db.execute(
            "UPDATE release_steps SET state = 'done', attempts = attempts + 1, url = ?,"
            " details = ?, last_error = NULL, updated_at = ? WHERE release_id = ? AND publisher = ?",
            (url, json.dumps(dict(details), sort_keys=True), ts(at), release_id, publisher),
        )

    def step_failed(self, release_id: int, publisher: str, error: str, at: datetime) -> None:
        """Record a failed attempt; the next publish of the identical manifest tries again."""
        self.store.db.execute(
            "UPDATE release_steps SET state = 'failed', attempts = attempts + 1, last_error = ?,"
            " updated_at = ? WHERE release_id = ? AND publisher = ?",
            (error, ts(at), release_id, publisher),
        )

    # ---------------------------------------------------------------- waiting for a build

    def mark_waiting(
        self, request_key: str, product: str, version: str, by: str, at: datetime
    ) -> None:
        """Record that *request_key* waits for *version*; a later mark replaces an earlier one."""
        self.store.db.execute(
            "INSERT INTO waiting_builds (request_key, product, version, marked_by, marked_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (request_key) DO UPDATE SET"
            " product = excluded.product, version = excluded.version,"
            " marked_by = excluded.marked_by, marked_at = excluded.marked_at",
            (request_key, product, version, by, ts(at)),
        )

    def waiting(self, request_key: str) -> WaitingRow | None:
        """What *request_key* waits for, if anything."""
        row = self.store.db.execute(
            "SELECT * FROM waiting_builds WHERE request_key = ?", (request_key,)
        ).fetchone()
        return from_row(WaitingRow, row) if row else None

    def waiting_for(self, product: str, version: str) -> list[WaitingRow]:
        """The requests waiting for one build (told or not), in the order they were marked."""
        rows = self.store.db.execute(
            "SELECT * FROM waiting_builds WHERE product = ? AND version = ?"
            " ORDER BY marked_at, request_key",
            (product, version),
        )
        return [from_row(WaitingRow, r) for r in rows]

    # ---------------------------------------------------------------- notifications

    def add_notification(self, release_id: int, request_key: str, cause: str, at: datetime) -> bool:
        """Record that the customer of *request_key* was told; False if already recorded."""
        cur = self.store.db.execute(
            "INSERT INTO release_notifications (release_id, request_key, cause,"
            " queued_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (release_id, request_key, cause, ts(at)),
        )
        self.store.db.execute(
            "UPDATE waiting_builds SET release_id = ? WHERE request_key = ?",
            (release_id, request_key),
        )
        return cur.rowcount == 1

    def notified(self, release_id: int) -> dict[str, bool]:
        """Requests told about a release, each with whether the tracker shows it completed."""
        rows = self.store.db.execute(
            "SELECT request_key, tracker_done FROM release_notifications WHERE release_id = ?"
            " ORDER BY queued_at, request_key",
            (release_id,),
        )
        return {r[0]: bool(r[1]) for r in rows}

    def tracker_done(self, release_id: int, request_key: str) -> None:
        """The tracker shows the request completed."""
        self.store.db.execute(
            "UPDATE release_notifications SET tracker_done = 1"
            " WHERE release_id = ? AND request_key = ?",
            (release_id, request_key),
        )
