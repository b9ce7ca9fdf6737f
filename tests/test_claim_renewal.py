"""A batch that outlives its claims: what another instance took meanwhile is left to it.

Claims last ``[lifecycle] claim_ttl``. If working through a claimed batch takes longer (a slow
mail server, a tracker asking to wait), another instance takes the rest over; the first must
then skip those rows rather than do them a second time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lifecycle_helpers import TEMPLATES, mail

from pixbridge.testing.harness import Harness
from pixbridge.testing.plugin import FakeClock

OTHER = "another-instance"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def h(tmp_path: Path, clock: FakeClock) -> Iterator[Harness]:
    harness = Harness(tmp_path, templates_dir=TEMPLATES, clock=clock)
    for n in range(3):
        harness.deliver(mail(sender=f"c{n}@customer.example", subject=f"Case {n}"))
    harness.orchestrator.mailbox.accept()
    yield harness
    harness.close()


def _rows(h: Harness, table: str) -> list[tuple[Any, ...]]:
    return [
        (r["state"], r["claimed_by"])
        for r in h.app.store.db.execute(f"SELECT state, claimed_by FROM {table} ORDER BY id")
    ]


def test_mail_another_instance_took_over_is_not_sent_twice(
    h: Harness, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    orchestrator = h.orchestrator
    assert orchestrator.inbound.process_pending() == 3
    ttl = orchestrator.claims.ttl
    sent: list[str] = []
    real_send = h.app.sender.send

    def slow_send(outgoing: Any) -> None:
        sent.append(outgoing.message_id)
        real_send(outgoing)
        if len(sent) == 1:  # the first mail took longer than a claim lasts
            clock.advance(seconds=ttl.total_seconds() + 1)
            h.app.store.claim_outbox(OTHER, clock.now(), ttl, 20)

    monkeypatch.setattr(h.app.sender, "send", slow_send)
    assert orchestrator.delivery.deliver() == 1
    assert len(sent) == 1
    assert _rows(h, "outbox")[1:] == [("pending", OTHER), ("pending", OTHER)]


def test_messages_another_instance_took_over_are_not_processed_twice(
    h: Harness, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    orchestrator = h.orchestrator
    ttl = orchestrator.claims.ttl
    created: list[str] = []
    real_create = h.app.tracker.create_request

    def slow_create(draft: Any) -> str:
        key = real_create(draft)
        created.append(key)
        if len(created) == 1:  # the tracker kept us waiting longer than a claim lasts
            clock.advance(seconds=ttl.total_seconds() + 1)
            h.app.store.claim_work(OTHER, clock.now(), ttl, 20)
        return key

    monkeypatch.setattr(h.app.tracker, "create_request", slow_create)
    assert orchestrator.inbound.process_pending() == 1
    assert created == ["SUP-1"]
    assert _rows(h, "messages")[1:] == [("accepted", OTHER), ("accepted", OTHER)]


def test_a_long_batch_keeps_its_claims_when_nobody_else_came(
    h: Harness, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    orchestrator = h.orchestrator
    ttl = orchestrator.claims.ttl
    real_create = h.app.tracker.create_request
    taken_by_other: list[int] = []

    def slow_create(draft: Any) -> str:
        clock.advance(seconds=ttl.total_seconds() * 0.6)
        taken_by_other.extend(m.id for m in h.app.store.claim_work(OTHER, clock.now(), ttl, 20))
        return str(real_create(draft))

    monkeypatch.setattr(h.app.tracker, "create_request", slow_create)
    # Renewed on the way, so no claim ran out although the batch took 1.8 lifetimes, and the
    # other instance, looking all along, found nothing to take.
    assert orchestrator.inbound.process_pending() == 3
    assert taken_by_other == []
    assert h.keys() == ["SUP-1", "SUP-2", "SUP-3"]
