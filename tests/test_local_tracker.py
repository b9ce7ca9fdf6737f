"""The built-in local tracker: the tracker contract, plus what only the local tracker promises."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from pixbridge.adapters import AdapterContext, AdapterKind
from pixbridge.builtins import local_tracker
from pixbridge.builtins.local_tracker import LocalTracker
from pixbridge.builtins.local_tracker_db import MIGRATIONS
from pixbridge.errors import PermanentAdapterError, TransientAdapterError
from pixbridge.models import Attachment, CommentDraft, RequestDraft, RequestStatus
from pixbridge.registry import AdapterRegistry
from pixbridge.testing.contracts.tracker import MarkerCheckingTrackerContract
from pixbridge.testing.plugin import FakeClock

BASE = RequestDraft(
    marker="", summary="", description="details", customer="anna@example.com", language="en",
    priority="normal",
)  # fmt: skip


def draft(marker: str, **changes: Any) -> RequestDraft:
    """A draft with *marker*, summary ``request <marker>`` and any *changes*."""
    changes.setdefault("summary", f"request {marker}")
    return dataclasses.replace(BASE, marker=marker, **changes)


def make(context: AdapterContext, **settings: object) -> LocalTracker:
    return LocalTracker(LocalTracker.Settings.model_validate(settings), context)


@pytest.fixture
def tracker(adapter_context: AdapterContext) -> Iterator[LocalTracker]:
    adapter = make(adapter_context)
    adapter.open()
    yield adapter
    adapter.close()


class TestLocalTracker(MarkerCheckingTrackerContract):
    @pytest.fixture
    def adapter(self, adapter_context: AdapterContext) -> Iterator[LocalTracker]:
        adapter = make(adapter_context)
        adapter.open()
        yield adapter
        adapter.close()


# ---------------------------------------------------------------- settings and registration


def test_registered_as_the_local_tracker() -> None:
    registry = AdapterRegistry()
    local_tracker.register_adapters(registry)
    entry = registry.get("local", AdapterKind.TRACKER)
    assert entry.cls is LocalTracker


@pytest.mark.parametrize("prefix", ["sup", "1SUP", "SU-P", "", "SÜP", "SUP "])
def test_prefix_must_be_upper_case_letters_and_digits(prefix: str) -> None:
    with pytest.raises(ValidationError, match="key prefix"):
        LocalTracker.Settings(prefix=prefix)


def test_keys_use_the_prefix_and_number_in_creation_order(adapter_context: AdapterContext) -> None:
    adapter = make(adapter_context, prefix="HELP2")
    keys = [adapter.create_request(draft(f"m{n}")) for n in range(3)]
    assert keys == ["HELP2-1", "HELP2-2", "HELP2-3"]
    adapter.close()


def test_init_creates_nothing_and_open_creates_the_database(
    adapter_context: AdapterContext,
) -> None:
    adapter = make(adapter_context)
    assert list(adapter_context.data_dir.iterdir()) == []
    adapter.open()
    assert (adapter_context.data_dir / "tracker" / "local-tracker.sqlite3").is_file()
    adapter.close()


def test_path_setting_is_relative_to_the_data_directory(adapter_context: AdapterContext) -> None:
    adapter = make(adapter_context, path="elsewhere/requests.db")
    adapter.create_request(draft("m"))
    adapter.close()
    assert (adapter_context.data_dir / "elsewhere" / "requests.db").is_file()
    assert not (adapter_context.data_dir / "tracker").exists()


# ---------------------------------------------------------------- storage


def test_database_is_wal_and_schema_versioned(adapter_context: AdapterContext) -> None:
    for _ in range(2):  # reopening an up-to-date database changes nothing
        adapter = make(adapter_context)
        adapter.open()
        adapter.close()
    with sqlite3.connect(adapter.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)
    db.close()


def test_a_newer_schema_is_refused(adapter_context: AdapterContext) -> None:
    adapter = make(adapter_context)
    adapter.open()
    adapter.close()
    db = sqlite3.connect(adapter.path)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(PermanentAdapterError, match="newer"):
        make(adapter_context).open()


def test_state_survives_close_and_reopen(adapter_context: AdapterContext) -> None:
    first = make(adapter_context)
    a = first.create_request(draft("m1", attachments=(Attachment("a.log", "text/plain", b"x"),)))
    b = first.create_request(draft("m2"))
    first.add_comment(a, CommentDraft("c1", "reply", True, "anna"))
    first.link(b, follows=a)
    before = first.get_request(a)
    first.close()
    first.close()
    second = make(adapter_context)
    assert second.get_request(a) == before
    assert second.create_request(draft("m1", recovering=True)) == a
    assert second.create_request(draft("m3")) == "SUP-3"
    second.close()


def test_same_marker_without_recovering_still_gives_one_request(tracker: LocalTracker) -> None:
    first = tracker.create_request(draft("m1"))
    assert tracker.create_request(draft("m1", summary="retried blindly")) == first
    assert tracker.get_request(first).summary == "request m1"
    assert tracker.create_request(draft("m2")) == "SUP-2"


def test_attachments_are_stored_with_checksum_and_bytes(tracker: LocalTracker) -> None:
    key = tracker.create_request(draft("m1"))
    data = b"\x00\x01binary\xff"
    tracker.add_comment(
        key, CommentDraft("c1", "see file", True, "anna", (Attachment("d.bin", "x/y", data),))
    )
    request = tracker.get_request(key)
    assert request.attachments == ("d.bin",)
    assert request.comments[0].attachments == ("d.bin",)
    with sqlite3.connect(tracker.path) as db:
        row = db.execute("SELECT content_type, size, sha256, data FROM attachments").fetchone()
    db.close()
    assert row == ("x/y", len(data), hashlib.sha256(data).hexdigest(), data)


def test_links_are_listed_in_both_directions(tracker: LocalTracker) -> None:
    a, b, c = (tracker.create_request(draft(m)) for m in ("m1", "m2", "m3"))
    tracker.link(b, follows=a)
    tracker.link(c, follows=b)
    assert tracker.get_request(a).links == (b,)
    assert tracker.get_request(b).links == (a, c)
    with pytest.raises(PermanentAdapterError, match="itself"):
        tracker.link(a, follows=a)


def test_keys_are_found_whatever_their_case(tracker: LocalTracker) -> None:
    key = tracker.create_request(draft("m1"))
    assert tracker.get_request(key.lower()).key == key


# ---------------------------------------------------------------- agents and changes


def test_complete_twice_is_refused(tracker: LocalTracker) -> None:
    key = tracker.create_request(draft("m1"))
    tracker.complete(key, "the answer", author="bob")
    with pytest.raises(PermanentAdapterError, match=f"{key} is already completed"):
        tracker.complete(key, "another answer", author="bob")
    answers = [c for c in tracker.get_request(key).comments if c.public and not c.by_pixbridge]
    assert [c.body for c in answers] == ["the answer"]


def test_empty_agent_text_is_refused(tracker: LocalTracker) -> None:
    key = tracker.create_request(draft("m1"))
    with pytest.raises(PermanentAdapterError, match="empty"):
        tracker.comment(key, "  ", public=True, author="bob")
    with pytest.raises(PermanentAdapterError, match="answer"):
        tracker.complete(key, "", author="bob")
    assert tracker.get_request(key).status is RequestStatus.REGISTERED


def test_changes_come_in_pages_of_500(tracker: LocalTracker) -> None:
    key = tracker.create_request(draft("m1"))
    for n in range(501):
        tracker.comment(key, f"note {n}", public=False, author="bob")
    first = tracker.changes_since(None)
    assert len(first.changes) == 500
    second = tracker.changes_since(first.watermark)
    assert [c.comment.body for c in second.changes if c.comment] == ["note 500"]
    last = tracker.changes_since(second.watermark)
    assert (last.changes, last.watermark) == ((), second.watermark)


def test_watermark_format(tracker: LocalTracker) -> None:
    assert tracker.changes_since(None).watermark == "0"
    key = tracker.create_request(draft("m1"))
    tracker.comment(key, "hello", public=True, author="bob")
    batch = tracker.changes_since("0")
    assert [c.change_id for c in batch.changes] == [f"local:{batch.watermark}"]
    with pytest.raises(PermanentAdapterError, match="watermark"):
        tracker.changes_since("yesterday")


def test_audit_trail_records_who_did_what(tracker: LocalTracker, fake_clock: FakeClock) -> None:
    key = tracker.create_request(draft("m1", attachments=(Attachment("a", "t/p", b"1"),)))
    tracker.add_comment(key, CommentDraft("c1", "reply", True, "anna@example.com"))
    tracker.set_status(key, RequestStatus.IN_PROGRESS)
    tracker.set_status(key, RequestStatus.IN_PROGRESS)
    fake_clock.advance(minutes=5)
    tracker.comment(key, "looking", public=False, author="bob")
    tracker.complete(key, "fixed", author="carol")
    trail = tracker.audit_trail(key)
    assert [(e.actor, e.action, e.by_pixbridge) for e in trail] == [
        ("pixbridge", "create", True),
        ("pixbridge", "attach", True),
        ("pixbridge", "comment", True),
        ("pixbridge", "status", True),
        ("bob", "comment", False),
        ("carol", "complete", False),
    ]
    assert trail[3].detail == {"old": "registered", "new": "in_progress"}
    assert trail[2].detail["author"] == "anna@example.com"
    assert [e.at - trail[0].at for e in trail[3:5]] == [timedelta(0), timedelta(minutes=5)]
    assert [e.key for e in tracker.audit_trail()] == [key] * 6


def test_times_come_from_the_injected_clock(tracker: LocalTracker, fake_clock: FakeClock) -> None:
    key = tracker.create_request(draft("m1"))
    fake_clock.advance(hours=3)
    tracker.comment(key, "hello", public=True, author="bob")
    fake_clock.advance(days=1)
    tracker.complete(key, "done", author="bob")
    comments = tracker.get_request(key).comments
    assert [c.created_at for c in comments] == [
        fake_clock.current - timedelta(days=1),
        fake_clock.current,
    ]
    changes = tracker.changes_since(None).changes
    assert [c.at for c in changes] == [c.created_at for c in comments]


# ---------------------------------------------------------------- concurrency


def test_two_instances_in_threads_never_share_a_key(adapter_context: AdapterContext) -> None:
    instances = [make(adapter_context) for _ in range(4)]
    keys: list[list[str]] = [[] for _ in instances]

    def work(n: int) -> None:
        for i in range(25):
            keys[n].append(instances[n].create_request(draft(f"t{n}-{i}")))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(len(instances))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for instance in instances:
        instance.close()
    every = [k for ks in keys for k in ks]
    assert sorted(every) == sorted(f"SUP-{n}" for n in range(1, 101))


WORKER = """
import sys
from pathlib import Path
from pixbridge.adapters import AdapterContext
from pixbridge.builtins.local_tracker import LocalTracker
from pixbridge.models import RequestDraft

tracker = LocalTracker(LocalTracker.Settings(), AdapterContext(data_dir=Path(sys.argv[1])))
for i in range(int(sys.argv[3])):
    draft = RequestDraft(f"{sys.argv[2]}-{i}", "s", "d", "c@example.com", "en", "normal")
    print(tracker.create_request(draft), flush=True)
tracker.close()
"""


def test_processes_sharing_the_file_never_share_a_key(adapter_context: AdapterContext) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(adapter_context.data_dir), f"p{n}", "30"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    every: list[str] = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        every.extend(out.split())
    assert sorted(every) == sorted(f"SUP-{n}" for n in range(1, 91))


def test_a_locked_database_is_a_transient_error(
    tracker: LocalTracker, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracker.close()
    monkeypatch.setattr(LocalTracker, "busy_timeout", 0.05)
    tracker.open()
    other = sqlite3.connect(tracker.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    with pytest.raises(TransientAdapterError, match="busy"):
        tracker.create_request(draft("m1"))
    other.execute("ROLLBACK")
    other.close()
    assert tracker.create_request(draft("m1")) == "SUP-1"


def test_a_group_is_one_transaction(adapter_context: AdapterContext) -> None:
    tracker, other = make(adapter_context), make(adapter_context)
    commits: list[str] = []
    with tracker.grouped():
        assert tracker._group is not None
        tracker._group.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else 0)
        key = tracker.create_request(draft("g1"))
        tracker.add_comment(key, CommentDraft("g1:note", "internal", public=False, author="pb"))
        tracker.set_status(key, RequestStatus.WAITING_FOR_CUSTOMER)
        # Reads inside the group see its writes; another connection sees none of them yet.
        assert tracker.get_request(key).status is RequestStatus.WAITING_FOR_CUSTOMER
        with pytest.raises(PermanentAdapterError):
            other.get_request(key)
    assert commits == ["COMMIT"]
    seen = other.get_request(key)
    assert (seen.status, [c.body for c in seen.comments]) == (
        RequestStatus.WAITING_FOR_CUSTOMER,
        ["internal"],
    )
    other.close()
    tracker.close()


def test_a_failed_group_leaves_nothing(tracker: LocalTracker) -> None:
    with pytest.raises(RuntimeError), tracker.grouped():
        key = tracker.create_request(draft("g2"))
        tracker.set_status(key, RequestStatus.WAITING_FOR_CUSTOMER)
        raise RuntimeError("crash between writes")
    assert tracker.create_request(draft("g2", recovering=True)) == key  # created anew
    assert tracker.get_request(key).status is RequestStatus.REGISTERED


# ---------------------------------------------------------------- syncing to disk


def _wal(tracker: LocalTracker) -> str:
    return f"{tracker.path.resolve()}-wal"


def test_sqlite_does_not_sync_inside_commit(tracker: LocalTracker) -> None:
    tracker.create_request(draft("m-1"))
    conn = tracker._connection()
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL


def test_a_write_is_synced_once_committed_and_a_read_is_not(
    tracker: LocalTracker, synced: list[str]
) -> None:
    key = tracker.create_request(draft("m-1"))
    assert synced == [_wal(tracker)]
    tracker.get_request(key)
    assert synced == [_wal(tracker)]
    tracker.add_comment(
        key, CommentDraft(marker="c-1", body="more", public=True, author="anna@example.com")
    )
    assert synced == [_wal(tracker)] * 2


def test_the_write_lock_is_free_while_a_write_waits_for_the_disk(
    tracker: LocalTracker, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracker.create_request(draft("m-0"))  # creates the database before the spy
    other = sqlite3.connect(tracker.path, isolation_level=None, timeout=0.0)
    seen: list[object] = []
    real_fsync = os.fsync

    def sync_with_a_second_writer(fd: int) -> None:
        try:
            other.execute("BEGIN IMMEDIATE")
            seen.append(other.execute("SELECT COUNT(*) FROM requests").fetchone()[0])
            other.execute("ROLLBACK")
        except sqlite3.OperationalError as exc:
            seen.append(str(exc))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", sync_with_a_second_writer)
    try:
        tracker.create_request(draft("m-1"))
    finally:
        other.close()
    assert seen == [2]  # the lock was free and the new request committed


def test_changes_are_on_disk_before_they_are_reported(
    tracker: LocalTracker, synced: list[str]
) -> None:
    # Another process's comment may be committed and not yet synced; it is mailed to customers.
    tracker.changes_since(None)
    assert synced == [_wal(tracker)]


def test_a_failed_sync_is_transient_and_the_retry_gives_the_same_request(
    tracker: LocalTracker, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_fsync = os.fsync

    def broken(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken)
    with pytest.raises(TransientAdapterError, match="cannot sync the local tracker database"):
        tracker.create_request(draft("m-1"))
    monkeypatch.setattr(os, "fsync", real_fsync)
    key = tracker.create_request(draft("m-1"))
    assert tracker.create_request(draft("m-1")) == key
    count = tracker._connection().execute("SELECT COUNT(*) FROM requests").fetchone()[0]
    assert count == 1
