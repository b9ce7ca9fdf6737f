"""The state store's behaviour, the same on every backend (SQLite and a real PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from pixbridge.licensing.combine import LicenseCheck
from pixbridge.licensing.records import license_view, save_check
from pixbridge.models import LicenseVerdict
from pixbridge.observability.probe import StoreBacklogProbe
from pixbridge.releases.state import ReleaseStore
from pixbridge.store.db import IntegrityError
from pixbridge.store.state import RequestRow, StateStore

AT = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
RAW = b"From: a@x.example\r\nSubject: hi\r\n\r\n\xff\x00 not UTF-8\r\n"


def request(key: str, *, at: datetime = AT, assignee: str | None = None) -> RequestRow:
    return RequestRow(
        key=key, customer="Cust@X.example", language="en", status="registered", summary="s",
        priority="normal", priority_reason="r", assignee=assignee, assignee_reason="a",
        follows=None, origin_message=None, thread_id="<t@x>", missing=["logs"], created_at=at,
        updated_at=at,
    )  # fmt: skip


def test_schema_is_migrated_to_the_newest_version(store: StateStore) -> None:
    assert store.db.schema_version == 6
    tables = store.db.columns()
    assert {"messages", "requests", "outbox", "leases", "schema_migrations"} <= set(tables)
    assert tables["messages"][-2:] == ["claimed_by", "claim_until"]


def test_accept_keeps_the_raw_bytes_and_numbers_messages_in_order(store: StateStore) -> None:
    first = store.accept("mb", "r1", RAW, AT, sender="A@X.example")
    second = store.accept("mb", "r2", b"x", AT + timedelta(seconds=1))
    assert second > first
    assert store.raw(first) == RAW
    row = store.message(first)
    assert (row.mailbox, row.source_ref, row.size, row.state) == ("mb", "r1", len(RAW), "accepted")
    assert row.received_at == AT and row.sender == "a@x.example"
    assert row.mailbox_acked is False and row.claimed_by is None
    assert store.known_refs("mb", ["r1", "r2", "r3"]) == {"r1", "r2"}
    assert store.known_refs("other", ["r1"]) == set()
    with pytest.raises(KeyError):
        store.message(second + 100)


def test_the_same_mailbox_message_twice_is_an_integrity_error(store: StateStore) -> None:
    store.accept("mb", "r1", b"x", AT)
    with pytest.raises(IntegrityError):
        store.accept("mb", "r1", b"y", AT)
    # The failed transaction was rolled back; the store goes on working.
    assert store.known_refs("mb", ["r1"]) == {"r1"}
    assert len(store.messages()) == 1


def test_work_is_most_urgent_first_then_arrival_and_only_when_due(store: StateStore) -> None:
    ids = [store.accept("mb", f"r{n}", b"x", AT) for n in range(4)]
    store.update_message(ids[2], priority_rank=10)
    store.update_message(ids[1], next_attempt_at=AT + timedelta(minutes=5))
    store.update_message(ids[3], state="done", mailbox_acked=True)
    assert [m.id for m in store.work(AT, 10)] == [ids[2], ids[0]]
    assert [m.id for m in store.work(AT + timedelta(minutes=5), 10)] == [ids[2], ids[0], ids[1]]
    assert [m.id for m in store.work(AT, 1)] == [ids[2]]
    assert store.message(ids[3]).mailbox_acked is True
    assert [m.id for m in store.messages()] == ids[::-1]
    assert [m.id for m in store.messages(state="done")] == [ids[3]]


def test_duplicates_and_reused_message_ids(store: StateStore) -> None:
    a = store.accept("mb", "a", b"same", AT)
    b = store.accept("mb", "b", b"same", AT)
    c = store.accept("mb", "c", b"other", AT)
    for n in (a, b, c):
        store.update_message(n, message_id="<m@x>")
    rows = {n: store.message(n) for n in (a, b, c)}
    assert store.duplicate_of(rows[b], "<m@x>") == a
    assert store.duplicate_of(rows[a], "<m@x>") is None
    assert store.same_id_other_content(rows[c], "<m@x>") == a
    # A message already marked as a duplicate is not the original of another.
    store.update_message(a, outcome="duplicate")
    assert store.duplicate_of(rows[b], "<m@x>") is None
    d = store.accept("mb", "d", b"no id", AT)
    e = store.accept("mb", "e", b"no id", AT)
    assert store.duplicate_of(store.message(e), None) == d


def test_unacknowledged_lists_finished_messages_the_mailbox_was_not_told_of(
    store: StateStore,
) -> None:
    a, b, c = (store.accept("mb", r, b"x", AT) for r in ("a", "b", "c"))
    store.update_message(a, state="done")
    store.update_message(b, state="quarantined")
    store.update_message(c, state="done", mailbox_acked=1)
    assert [m.id for m in store.unacknowledged("mb")] == [a, b]


def test_requests_are_listed_newest_registration_first(store: StateStore) -> None:
    # Same creation time, and keys whose text order is not their registration order.
    for key in ("SUP-9", "SUP-10", "SUP-1"):
        store.insert_request(request(key))
    assert [r.key for r in store.requests()] == ["SUP-1", "SUP-10", "SUP-9"]
    assert [r.key for r in store.requests(limit=1)] == ["SUP-1"]
    row = store.request("SUP-9")
    assert row is not None and row.missing == ["logs"] and row.facts == {}
    assert store.request("SUP-404") is None


def test_request_updates_and_participants(store: StateStore) -> None:
    store.insert_request(request("SUP-1"))
    later = AT + timedelta(hours=1)
    store.set_request_status("SUP-1", "completed", later)
    store.set_missing("SUP-1", [], later)
    store.set_facts(
        "SUP-1", {"os_version": "Windows 11", "serial": "PTM-1", "logs": "a.log"}, later
    )
    row = store.request("SUP-1")
    assert row is not None
    assert (row.status, row.missing, row.os_version, row.serial) == (
        "completed", [], "Windows 11", "PTM-1",
    )  # fmt: skip
    assert row.facts["logs"] == "a.log" and row.updated_at == later
    # The customer is a participant (lowercase); adding one twice is harmless.
    assert store.is_participant("SUP-1", "cust@x.example")
    store.add_participant("SUP-1", "Colleague@X.example")
    store.add_participant("SUP-1", "colleague@x.example")
    assert store.is_participant("SUP-1", "COLLEAGUE@x.example")
    assert not store.is_participant("SUP-1", "stranger@x.example")


def test_thread_lookup_prefers_our_mail_then_the_customers(store: StateStore) -> None:
    store.insert_request(request("SUP-1"))
    store.insert_request(request("SUP-2"))
    n = store.accept("mb", "r", b"x", AT)
    store.update_message(n, message_id="<cust@x>", request_key="SUP-2")
    store.enqueue(
        message_id="<ours@pix>", cause="ack:1", request_key="SUP-1", purpose="acknowledgement",
        recipient="cust@x.example", raw=b"m", at=AT,
    )  # fmt: skip
    assert store.request_for_thread(["<ours@pix>", "<cust@x>"]) == "SUP-1"
    assert store.request_for_thread(["<cust@x>"]) == "SUP-2"
    assert store.request_for_thread(["<unknown@x>", ""]) is None
    assert store.request_for_thread([]) is None


def test_outbox_queues_one_mail_per_cause_and_tracks_delivery(store: StateStore) -> None:
    def enqueue(cause: str, purpose: str, at: datetime = AT) -> bool:
        return store.enqueue(
            message_id=f"<{cause}@pix>", cause=cause, request_key="SUP-1", purpose=purpose,
            recipient="Cust@X.example", raw=b"\x00mail", at=at,
        )  # fmt: skip

    assert enqueue("ack:1", "acknowledgement")
    assert not enqueue("ack:1", "acknowledgement"), "a second mail for one cause"
    assert enqueue("followup:2", "followup_acknowledgement", AT + timedelta(minutes=1))
    assert enqueue("comment:3", "agent_comment")
    assert enqueue("rejected:4", "rejected")
    assert store.has_cause("ack:1") and not store.has_cause("ack:9")
    assert store.outbox_depth() == 4
    # The per-sender cap counts acknowledgements and rejections (LIKE '%acknowledgement').
    assert store.acks_since("cust@x.example", AT) == 3
    assert store.acks_since("cust@x.example", AT + timedelta(seconds=30)) == 1
    due = store.outbox_due(AT, 10)
    assert [o.cause for o in due] == ["ack:1", "followup:2", "comment:3", "rejected:4"]
    assert due[0].raw == b"\x00mail" and due[0].recipient == "cust@x.example"
    store.outbox_sent(due[0].id, AT)
    store.outbox_failed(due[1].id, "421", retry_at=AT + timedelta(minutes=5), permanent=False)
    store.outbox_failed(due[2].id, "550", retry_at=None, permanent=True)
    assert [o.cause for o in store.outbox_due(AT, 10)] == ["rejected:4"]
    assert [o.cause for o in store.outbox_due(AT + timedelta(minutes=5), 10)] == [
        "followup:2", "rejected:4",
    ]  # fmt: skip
    states = {o.cause: (o.state, o.attempts) for o in store.outbox_for("SUP-1")}
    assert states["ack:1"] == ("sent", 1) and states["comment:3"] == ("failed", 1)
    assert store.outbox_depth() == 2
    assert store.outbox_message_ids() == ["<ack:1@pix>", "<followup:2@pix>", "<comment:3@pix>",
                                          "<rejected:4@pix>"]  # fmt: skip


def test_watermarks_seen_changes_and_events(store: StateStore) -> None:
    assert store.watermark("tracker") is None
    store.set_watermark("tracker", "2026-01-15T09:00", AT)
    store.set_watermark("tracker", "2026-01-15T10:00", AT)
    assert store.watermark("tracker") == "2026-01-15T10:00"
    assert store.mark_change_seen("c1", "SUP-1", AT)
    assert not store.mark_change_seen("c1", "SUP-1", AT)
    store.log("accepted", at=AT, message=1, size=3)
    store.log("registered", at=AT, request_key="SUP-1", actor="local", when=AT)
    events = store.events()
    assert [e["activity"] for e in events] == ["accepted", "registered"]
    assert events[0]["detail"] == {"size": 3}
    assert events[1]["detail"] == {"when": str(AT)}
    assert [e["activity"] for e in store.events("SUP-1")] == ["registered"]


def test_transactions_nest_and_roll_back_as_one(store: StateStore) -> None:
    with store.db.transaction():
        store.log("outer", at=AT)
        with store.db.transaction():
            store.log("inner", at=AT)
        assert store.db.in_transaction
    assert not store.db.in_transaction
    with pytest.raises(RuntimeError), store.db.transaction():
        store.log("lost-outer", at=AT)
        with store.db.transaction():
            store.log("lost-inner", at=AT)
        raise RuntimeError("boom")
    assert [e["activity"] for e in store.events()] == ["outer", "inner"]


def test_a_refused_commit_rolls_back_and_the_next_transaction_works(store: StateStore) -> None:
    # A deferred constraint is checked at COMMIT; SQLite then keeps the transaction open.
    db = store.db
    db.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
    db.execute(
        "CREATE TABLE child (parent INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)"
    )
    with pytest.raises(IntegrityError), db.transaction():
        store.log("lost", at=AT)
        db.execute("INSERT INTO child (parent) VALUES (1)")
    assert not db.in_transaction
    assert store.events() == []
    with db.transaction():
        store.log("kept", at=AT)
    assert [e["activity"] for e in store.events()] == ["kept"]


def test_a_transaction_is_invisible_to_another_connection_until_it_commits(
    open_store: Callable[[], StateStore],
) -> None:
    writer, reader = open_store(), open_store()
    with writer.db.transaction():
        writer.log("pending", at=AT)
        with reader.db.snapshot() as conn:
            assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0
    assert [e["activity"] for e in reader.events()] == ["pending"]


def test_assignment_turns_and_open_counts(store: StateStore) -> None:
    assert [store.next_turn("tm", AT) for _ in range(3)] == [0, 1, 2]
    assert store.next_turn("ps", AT) == 0
    store.insert_request(request("SUP-1", assignee="anna"))
    store.insert_request(request("SUP-2", assignee="anna"))
    store.insert_request(request("SUP-3", assignee="boris"))
    store.set_request_status("SUP-2", "completed", AT)
    assert store.open_counts(["anna", "boris", "carl"]) == {"anna": 1, "boris": 1, "carl": 0}
    assert store.open_counts([]) == {}


def test_release_tables(store: StateStore) -> None:
    releases = ReleaseStore(store)
    rid = releases.insert_release(
        product="PTM", generation=4, build=13, identity="i", manifest={"files": []}, at=AT
    )
    assert releases.release("PTM", "4.13") is not None
    with pytest.raises(IntegrityError), store.db.transaction():
        releases.insert_release(
            product="PTM", generation=5, build=13, identity="j", manifest={}, at=AT
        )
    for publisher in ("directory", "jira-version", "directory"):
        releases.add_step(rid, publisher, AT)
    assert [s.publisher for s in releases.steps(rid)] == ["directory", "jira-version"]
    releases.step_done(rid, "jira-version", "https://x/v", {"internal": "true"}, AT)
    releases.step_failed(rid, "directory", "disk full", AT)
    steps = {s.publisher: s for s in releases.steps(rid)}
    assert steps["jira-version"].details == {"internal": "true"}
    assert (steps["directory"].state, steps["directory"].attempts) == ("failed", 1)
    store.insert_request(request("SUP-1"))
    store.insert_request(request("SUP-2"))
    releases.mark_waiting("SUP-2", "PTM", "4.13", "agent", AT)
    releases.mark_waiting("SUP-1", "PTM", "4.12", "agent", AT)
    releases.mark_waiting("SUP-1", "PTM", "4.13", "agent", AT + timedelta(seconds=1))
    assert [w.request_key for w in releases.waiting_for("PTM", "4.13")] == ["SUP-2", "SUP-1"]
    assert releases.add_notification(rid, "SUP-2", "build:PTM:4.13:SUP-2", AT)
    assert not releases.add_notification(rid, "SUP-2", "build:PTM:4.13:SUP-2", AT)
    releases.tracker_done(rid, "SUP-2")
    assert releases.notified(rid) == {"SUP-2": True}
    waiting = releases.waiting("SUP-2")
    assert waiting is not None and waiting.release_id == rid
    releases.mark_published(rid, AT)
    published = releases.release("PTM", "4.13")
    assert published is not None and published.status == "published"


def test_a_repeated_licence_check_replaces_the_stored_one(store: StateStore) -> None:
    store.insert_request(request("SUP-1"))
    first = LicenseCheck(
        LicenseVerdict.INDETERMINATE, ("adapter_unavailable",), support_allowed=False,
        support_until=None, as_of=AT, source="licserver", rule="indeterminate", serial="PTM-1",
    )  # fmt: skip
    save_check(store, "SUP-1", "indeterminate", first)
    again = LicenseCheck(
        LicenseVerdict.VALID, (), support_allowed=True, support_until=AT.date(), as_of=AT,
        source="registry", rule="valid", serial="PTM-1", product="PTM", dongle="D-1",
    )  # fmt: skip
    save_check(store, "SUP-1", "valid", again)
    view = license_view(store, "SUP-1")
    assert view is not None
    assert (view["verdict"], view["outcome"], view["support_allowed"]) == ("valid", "valid", True)
    assert view["support_until"] == AT.date().isoformat() and view["dongle"] == "D-1"
    assert license_view(store, "SUP-2") is None


def test_the_backlog_probe_reads_through_its_own_connection(store: StateStore) -> None:
    probe = StoreBacklogProbe(store)
    assert probe.backlog().waiting == 0
    a = store.accept("mb", "a", b"x", AT)
    store.accept("mb", "b", b"x", AT + timedelta(minutes=1))
    store.update_message(a, state="done", outcome="new_request")
    store.enqueue(
        message_id="<1@pix>", cause="c", request_key=None, purpose="acknowledgement",
        recipient="x@y", raw=b"m", at=AT,
    )  # fmt: skip
    with store.db.transaction():  # an open transaction of the orchestrator does not block it
        store.log("busy", at=AT)
        backlog = probe.backlog()
    assert backlog.waiting == 1
    assert backlog.oldest_waiting_at == AT + timedelta(minutes=1)
    assert backlog.newest_received_at == AT + timedelta(minutes=1)
    assert (backlog.outbox_depth, backlog.oldest_outbox_at) == (1, AT)
    assert backlog.outcomes == {"new_request": 1}
