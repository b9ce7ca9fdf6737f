"""Relaxed commits (``transaction(durable=False)``) and the flush that makes them durable."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from lifecycle_helpers import mail

from pixbridge.errors import PermanentAdapterError
from pixbridge.lifecycle import inbound
from pixbridge.store.sqlite import SqliteDatabase
from pixbridge.store.state import StateStore
from pixbridge.testing.harness import Harness


def _synchronous(db: SqliteDatabase) -> int:
    return int(db.conn.execute("PRAGMA synchronous").fetchone()[0])


FULL, NORMAL = 2, 1


@pytest.fixture
def db(tmp_path: Path) -> Iterator[SqliteDatabase]:
    database = SqliteDatabase(tmp_path / "state.sqlite3")
    yield database
    database.close()


def _wal(db: SqliteDatabase) -> str:
    return f"{db.path.resolve()}-wal"


def _insert(db: SqliteDatabase, name: str) -> None:
    db.execute("INSERT INTO watermarks (name, value, updated_at) VALUES (?, '1', 'now')", (name,))


def test_a_durable_transaction_syncs_the_log_and_a_relaxed_one_does_not(
    db: SqliteDatabase, synced: list[str]
) -> None:
    with db.transaction(durable=False):
        _insert(db, "a")
    assert synced == []
    with db.transaction():
        _insert(db, "b")
    assert synced == [_wal(db)]
    names = [r[0] for r in db.execute("SELECT name FROM watermarks ORDER BY name")]
    assert names == ["a", "b"]


def test_sqlite_itself_never_syncs_inside_commit(db: SqliteDatabase) -> None:
    # The sync happens after COMMIT, in Python; SQLite's FULL would do it holding the lock.
    assert _synchronous(db) == NORMAL
    with db.transaction():
        assert _synchronous(db) == NORMAL


def test_the_write_lock_is_free_while_a_durable_commit_waits_for_the_disk(
    db: SqliteDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = sqlite3.connect(db.path, isolation_level=None, timeout=0.0)
    seen: list[tuple[int, bool]] = []
    real_fsync = os.fsync

    def sync_with_a_second_writer(fd: int) -> None:
        # Another process's writer takes the lock at once, and sees the commit being synced.
        try:
            other.execute("BEGIN IMMEDIATE")
            seen.append((other.execute("SELECT COUNT(*) FROM watermarks").fetchone()[0], True))
            other.execute("ROLLBACK")
        except sqlite3.OperationalError:
            seen.append((-1, False))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", sync_with_a_second_writer)
    try:
        with db.transaction():
            _insert(db, "a")
    finally:
        other.close()
    assert seen == [(1, True)]


def test_a_failed_transaction_rolls_back_without_a_sync(
    db: SqliteDatabase, synced: list[str]
) -> None:
    for durable in (True, False):
        with pytest.raises(RuntimeError), db.transaction(durable=durable):
            _insert(db, "a")
            raise RuntimeError("boom")
    assert synced == []
    assert db.execute("SELECT COUNT(*) FROM watermarks").fetchone()[0] == 0


def test_a_nested_block_takes_the_outer_blocks_durability(
    db: SqliteDatabase, synced: list[str]
) -> None:
    with db.transaction(), db.transaction(durable=False):
        _insert(db, "a")
    assert synced == [_wal(db)]
    with db.transaction(durable=False), db.transaction():
        _insert(db, "b")
    assert synced == [_wal(db)]


def test_a_write_outside_a_transaction_is_synced_and_a_read_is_not(
    db: SqliteDatabase, synced: list[str]
) -> None:
    db.execute("SELECT COUNT(*) FROM watermarks").fetchone()
    db.execute("UPDATE watermarks SET value = '2' WHERE name = 'none'")  # changes nothing
    assert synced == []
    _insert(db, "a")
    assert synced == [_wal(db)]


def test_a_database_opened_relaxed_never_syncs(tmp_path: Path, synced: list[str]) -> None:
    database = SqliteDatabase(tmp_path / "s.sqlite3", synchronous="NORMAL")
    try:
        with database.transaction():
            _insert(database, "a")
        _insert(database, "b")
        assert synced == []
        assert _synchronous(database) == NORMAL
    finally:
        database.close()


def test_flush_syncs_the_write_ahead_log(db: SqliteDatabase, synced: list[str]) -> None:
    with db.transaction(durable=False):
        _insert(db, "a")
    db.flush()
    assert synced == [_wal(db)]


def test_flush_without_a_log_has_nothing_to_sync(tmp_path: Path) -> None:
    database = SqliteDatabase(tmp_path / "s.sqlite3")
    database.close()
    wal = Path(f"{database.path}-wal")
    assert not wal.exists()  # the last connection checkpointed and removed it
    database.flush()  # no error: every commit is in the database file, synced


def test_relaxed_transactions_work_on_every_backend(store: StateStore) -> None:
    # PostgreSQL ignores durable=False (it always commits durably) and flush does nothing.
    with store.db.transaction(durable=False):
        store.set_watermark("relaxed", "1", datetime.now(UTC))
    store.db.flush()
    assert store.watermark("relaxed") == "1"


# ---------------------------------------------------------------- the lifecycle's ordering


class _Recorder:
    """Records, in order, store flushes and what the mailbox and the customer are told."""

    def __init__(self, harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
        self.events: list[str] = []
        app = harness.app
        self._wrap(monkeypatch, app.store.db, "flush", "flush")
        self._wrap(monkeypatch, app.source, "acknowledge", "mailbox")
        self._wrap(monkeypatch, app.sender, "send", "send")
        self._wrap(monkeypatch, app.tracker, "create_request", "create")

    def _wrap(self, monkeypatch: pytest.MonkeyPatch, obj: Any, name: str, tag: str) -> None:
        real = getattr(obj, name)

        def recorded(*args: Any, **kwargs: Any) -> Any:
            self.events.append(tag)
            return real(*args, **kwargs)

        monkeypatch.setattr(obj, name, recorded)


def test_the_store_is_flushed_before_the_mailbox_or_a_customer_hears_of_a_message(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = _Recorder(harness, monkeypatch)
    for n in range(3):
        harness.deliver(mail(sender=f"c{n}@customer.example", subject=f"Case {n}"))
    result = harness.run()
    assert (result.processed, result.sent) == (3, 3)
    events = recorder.events
    # Registrations commit without a sync; whatever acts on them comes after a flush.
    last_create = max(i for i, e in enumerate(events) if e == "create")
    first_told = min(i for i, e in enumerate(events) if e in ("mailbox", "send"))
    assert last_create < first_told
    assert "flush" in events[last_create:first_told]
    for tag in ("mailbox", "send"):
        first = events.index(tag)
        assert "flush" in events[last_create:first], (tag, events)


@pytest.mark.parametrize("always_checked", [True, False])
def test_the_intent_waits_for_the_disk_only_where_the_tracker_needs_it(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, always_checked: bool, synced: list[str]
) -> None:
    assert harness.app.tracker.markers_always_checked  # the local tracker declares it
    # A tracker that finds markers only when asked to recover (Jira) needs a durable intent.
    monkeypatch.setattr(harness.app.tracker, "markers_always_checked", always_checked)
    store = harness.app.store
    assert isinstance(store.db, SqliteDatabase)
    wal = _wal(store.db)
    events: list[str] = []
    real_update, real_create = store.update_message, harness.app.tracker.create_request

    def update(number: int, **fields: Any) -> None:
        real_update(number, **fields)
        if fields.get("state") == "registering":
            synced.clear()
            events.append("intent")

    def create(draft: Any) -> str:
        # Whether the state store's log was synced between the intent and the tracker write.
        events.append("synced" if wal in synced else "not synced")
        return str(real_create(draft))

    monkeypatch.setattr(store, "update_message", update)
    monkeypatch.setattr(harness.app.tracker, "create_request", create)
    for n in range(2):
        harness.deliver(mail(sender=f"c{n}@customer.example", subject=f"Case {n}"))
    assert harness.run().processed == 2
    told = "synced" if not always_checked else "not synced"
    assert events == ["intent", told, "intent", told]


def test_an_intent_lost_to_a_power_cut_still_gives_one_request(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relaxed intent may not survive a power cut that the tracker's commit survives."""
    harness.deliver(mail(sender="c@customer.example", subject="Export fails"))
    store = harness.app.store

    def power_cut(point: str) -> None:
        if point == "after_tracker":  # the tracker committed the request; the machine stops
            raise KeyboardInterrupt

    monkeypatch.setattr(inbound, "crashpoint", power_cut)
    with pytest.raises(KeyboardInterrupt):
        harness.run()
    monkeypatch.undo()
    assert harness.app.tracker.get_request("SUP-1").summary == "Export fails"
    # What the disk kept of the state store: the message accepted, the intent not.
    (row_id,) = [r[0] for r in store.db.execute("SELECT id FROM messages")]
    store.db.execute(
        "UPDATE messages SET state = 'accepted', marker = NULL, claimed_by = NULL WHERE id = ?",
        (row_id,),
    )
    assert harness.run().processed == 1
    keys = [r.key for r in store.requests()]
    assert keys == ["SUP-1"], keys
    with pytest.raises(PermanentAdapterError):
        harness.app.tracker.get_request("SUP-2")
    assert len(harness.sent()) == 1
