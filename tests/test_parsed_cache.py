"""The accept-time parse cache: it serves this instance's processing and is emptied after it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from lifecycle_helpers import mail

from pixbridge.lifecycle import inbound
from pixbridge.store.rows import ts
from pixbridge.testing.harness import Harness


def test_messages_another_instance_took_are_not_kept_after_processing(harness: Harness) -> None:
    for n in range(3):
        harness.deliver(mail(sender=f"c{n}@customer.example", subject=f"Case {n}"))
    orchestrator, store = harness.orchestrator, harness.app.store
    assert orchestrator.mailbox.accept() == 3
    cache = orchestrator.inbound.parsed
    assert len(cache) == 3
    # Another instance claimed the second message before this one got to it.
    until = ts(harness.app.clock.now() + timedelta(minutes=5))
    store.db.execute(
        "UPDATE messages SET claimed_by = 'other-1', claim_until = ? WHERE id = ("
        "SELECT id FROM messages ORDER BY id LIMIT 1 OFFSET 1)",
        (until,),
    )
    assert orchestrator.inbound.process_pending() == 2
    # Kept, it would fill the budget over a long `pixbridge run` and never be used.
    assert len(cache) == 0
    assert cache._bytes == 0


def test_the_cache_serves_this_instances_processing(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Processing right after accepting parses nothing again."""
    for n in range(2):
        harness.deliver(mail(sender=f"c{n}@customer.example", subject=f"Case {n}"))
    parses: list[bytes] = []
    real = inbound.parse_message

    def counted(raw: bytes, **kwargs: Any) -> Any:
        parses.append(raw)
        return real(raw, **kwargs)

    monkeypatch.setattr(inbound, "parse_message", counted)
    result = harness.run()
    assert (result.accepted, result.processed) == (2, 2)
    assert parses == []
