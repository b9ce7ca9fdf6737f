"""Delivery with a sender that makes mail durable a batch at a time (the Maildir sender)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lifecycle_helpers import REPO, mail

from pixbridge.errors import NeedsCredentials, TransientAdapterError
from pixbridge.store.rows import OutboxRow
from pixbridge.testing.harness import Harness
from pixbridge.testing.plugin import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def h(tmp_path: Path, clock: FakeClock) -> Any:
    made = Harness(tmp_path, templates_dir=REPO / "settings" / "templates", clock=clock)
    yield made
    made.close()


def _record(h: Harness, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the sender is asked to do and what delivery records, in order."""
    events: list[str] = []
    sender, store = h.app.sender, h.app.store
    real_send, real_flush, real_sent = sender.send, sender.flush, store.outbox_sent

    def send(outgoing: Any) -> None:
        events.append("send")
        real_send(outgoing)

    def flush() -> None:
        events.append("flush")
        real_flush()

    def outbox_sent(row_id: int, at: Any) -> None:
        events.append("mark")
        real_sent(row_id, at)

    monkeypatch.setattr(sender, "send", send)
    monkeypatch.setattr(sender, "flush", flush)
    monkeypatch.setattr(store, "outbox_sent", outbox_sent)
    return events


def _outbox(h: Harness) -> list[OutboxRow]:
    store = h.app.store
    return [row for request in store.requests() for row in store.outbox_for(request.key)]


def _deliver(h: Harness, count: int) -> None:
    for n in range(count):
        h.deliver(mail(sender=f"c{n}@customer.example", subject=f"Case {n}"))


def test_a_batch_is_recorded_as_sent_after_one_flush(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert h.app.sender.batches_durability  # the Maildir sender declares it
    events = _record(h, monkeypatch)
    _deliver(h, 3)
    assert h.run().sent == 3
    assert events == ["send"] * 3 + ["flush"] + ["mark"] * 3
    assert len(h.sent()) == 3


def test_a_sender_durable_per_mail_is_recorded_after_each_send_and_never_flushed(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SMTP: a second send is a second copy, so each mail is marked as soon as it is handed over.
    monkeypatch.setattr(h.app.sender, "batches_durability", False)
    events = _record(h, monkeypatch)
    _deliver(h, 3)
    assert h.run().sent == 3
    assert events == ["send", "mark"] * 3


def test_a_failed_flush_leaves_the_batch_pending_and_a_later_pass_sends_it_once(
    h: Harness, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    sender = h.app.sender
    real_flush = sender.flush
    failures = [TransientAdapterError("cannot sync sent/new to disk")]

    def flush() -> None:
        if failures:
            raise failures.pop()
        real_flush()

    monkeypatch.setattr(sender, "flush", flush)
    _deliver(h, 2)
    result = h.run()
    assert (result.sent, result.errors) == (0, 1)
    rows = _outbox(h)
    assert [(r.state, r.attempts) for r in rows] == [("pending", 1), ("pending", 1)]
    assert h.run().sent == 0  # not due before the retry delay
    clock.advance(hours=1)
    assert h.run().sent == 2
    rows = _outbox(h)
    assert [r.state for r in rows] == ["sent", "sent"]
    assert len(h.sent_files()) == 2  # the files written before the failure were found again


def test_mail_sent_before_an_outage_is_flushed_and_recorded(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = _record(h, monkeypatch)
    sender = h.app.sender
    recording_send = sender.send
    calls = [0]

    def send(outgoing: Any) -> None:
        calls[0] += 1
        if calls[0] == 3:
            raise TransientAdapterError("disk full")
        recording_send(outgoing)

    monkeypatch.setattr(sender, "send", send)
    _deliver(h, 3)
    result = h.run()
    assert (result.sent, result.errors) == (2, 1)
    assert events == ["send", "send", "flush", "mark", "mark"]
    states = sorted(r.state for r in _outbox(h))
    assert states == ["pending", "sent", "sent"]


def test_a_refused_login_defers_the_mail_with_backoff(
    h: Harness, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An SMTP login refused (a password changed): the mail waits for the operator, with the
    # retry delay, rather than being tried again on every pass; nothing is lost.
    sender = h.app.sender
    real_send = sender.send
    refusals = [NeedsCredentials("535 5.7.8 authentication failed")]

    def send(outgoing: Any) -> None:
        if refusals:
            raise refusals.pop()
        real_send(outgoing)

    monkeypatch.setattr(sender, "send", send)
    _deliver(h, 1)
    assert h.run().errors == 1
    [row] = _outbox(h)
    assert (row.state, row.attempts) == ("pending", 1)
    assert h.run().sent == 0  # not due before the retry delay
    clock.advance(hours=1)
    assert h.run().sent == 1
    assert [r.state for r in _outbox(h)] == ["sent"] and len(h.sent_files()) == 1
