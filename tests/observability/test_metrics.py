"""Metric values after real passes over the embedded default."""

from __future__ import annotations

from typing import Any

import pytest
from lifecycle_helpers import mail

from pixbridge.errors import PermanentAdapterError, TransientAdapterError
from pixbridge.lifecycle.orchestrator import PassResult
from pixbridge.models import Stage, StageEvent
from pixbridge.testing.plugin import FakeClock


def value(metrics: Any, name: str, **labels: str) -> float | None:
    result = metrics.registry.get_sample_value(name, labels)
    return None if result is None else float(result)


def test_counters_and_gauges_after_a_pass(observed: Any) -> None:
    h, m = observed()
    h.deliver(mail(subject="Export crashes"))
    h.deliver(mail(subject="Printing fails", sender="ann@customer.example"))
    result = h.run()
    assert result.accepted == 2
    assert value(m, "pixbridge_messages_accepted_total") == 2
    assert value(m, "pixbridge_messages_processed_total") == 2
    assert value(m, "pixbridge_mail_sent_total") == result.sent > 0
    assert value(m, "pixbridge_messages_handled_total", outcome="new_request") == 2
    assert value(m, "pixbridge_outbox_depth") == 0
    assert value(m, "pixbridge_messages_waiting") == 0
    assert value(m, "pixbridge_oldest_waiting_message_age_seconds") == 0
    assert value(m, "pixbridge_last_pass_age_seconds") == 0
    for stage in ("accept", "sync", "process", "mailbox_acknowledge", "deliver"):
        assert (value(m, "pixbridge_stage_seconds_count", stage=stage) or 0) >= 1, stage


def test_waiting_message_ages_with_the_clock(observed: Any, clock: FakeClock) -> None:
    h, m = observed()
    h.deliver(mail())
    assert h.orchestrator.mailbox.accept() == 1  # accepted, not yet processed
    clock.advance(seconds=90)
    assert value(m, "pixbridge_messages_waiting") == 1
    assert value(m, "pixbridge_oldest_waiting_message_age_seconds") == 90
    assert value(m, "pixbridge_last_message_age_seconds") == 90
    assert value(m, "pixbridge_last_pass_age_seconds") == 90  # none yet: since start
    h.run()
    assert value(m, "pixbridge_messages_waiting") == 0
    assert value(m, "pixbridge_intake_lag_seconds") == 0


def test_intake_lag_grows_while_accept_fails_but_not_without_the_mailbox_role(
    observed: Any, clock: FakeClock
) -> None:
    _, m = observed()
    down = TransientAdapterError("IMAP unreachable")
    for _ in range(4):  # the holder of the mailbox role, whose accept stage fails
        clock.advance(seconds=100)
        m.stage_done("accept", 0.01, 0, down)
        m.stage_done("process", 0.01, 0, None)
        m.pass_done(PassResult(errors=1))
    assert value(m, "pixbridge_intake_lag_seconds") == 400
    assert not m.health().ok
    for _ in range(4):  # another instance took the role: this one runs no accept stage
        clock.advance(seconds=100)
        m.stage_done("process", 0.01, 0, None)
        m.pass_done(PassResult())
    assert value(m, "pixbridge_intake_lag_seconds") == 0
    assert m.health().ok


def test_stage_failures_and_errors_are_counted(observed: Any) -> None:
    h, m = observed()
    m.stage_done("sync", 0.01, 0, TransientAdapterError("tracker 503"))
    m.stage_done("deliver", 0.01, 0, PermanentAdapterError("relay refused"))
    assert value(m, "pixbridge_stage_failures_total", stage="sync", adapter="local") == 1
    assert (
        value(m, "pixbridge_stage_failures_total", stage="deliver", adapter="maildir-outbox") == 1
    )
    assert value(m, "pixbridge_retries_total", stage="sync") == 1
    # Observers hear of per-message failures through the hook, registered like any plugin.
    event = StageEvent(Stage.REGISTER, message_id=1)
    h.app.hooks.on_stage_error(event=event, error=TransientAdapterError("x"), ctx=h.app.ctx)
    h.app.hooks.on_stage_error(event=event, error=ValueError("bug"), ctx=h.app.ctx)
    assert value(m, "pixbridge_adapter_errors_total", stage="register", kind="transient") == 1
    assert value(m, "pixbridge_adapter_errors_total", stage="register", kind="bug") == 1
    assert value(m, "pixbridge_retries_total", stage="register") == 1


def test_each_metrics_has_its_own_registry(observed: Any) -> None:
    (h1, m1), (_, m2) = observed(), observed()
    h1.deliver(mail())
    h1.run()
    assert value(m1, "pixbridge_messages_accepted_total") == 1
    assert value(m2, "pixbridge_messages_accepted_total") == 0


def test_an_outage_that_stops_a_stage_counts_as_its_failure(
    observed: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    h, m = observed()
    tracker, sender = h.app.tracker, h.app.sender
    create = tracker.create_request
    created: list[str] = []

    def create_then_fail(draft: Any) -> str:
        if created:
            raise TransientAdapterError("tracker 503")
        created.append(create(draft))
        return created[-1]

    def down(mail: Any) -> None:
        raise TransientAdapterError("relay unreachable")

    monkeypatch.setattr(tracker, "create_request", create_then_fail)
    monkeypatch.setattr(sender, "send", down)
    for n in range(3):
        h.deliver(mail(subject=f"request {n}"))
    result = h.run()
    # The first message was registered, the second met the outage and stopped the stage; the
    # acknowledgement could not be sent either. Both stages failed, what they did is counted.
    assert (result.processed, result.sent, result.errors) == (1, 0, 2)
    assert value(m, "pixbridge_messages_processed_total") == 1
    assert value(m, "pixbridge_stage_failures_total", stage="process", adapter="pipeline") == 1
    assert (
        value(m, "pixbridge_stage_failures_total", stage="deliver", adapter="maildir-outbox") == 1
    )
    assert value(m, "pixbridge_retries_total", stage="deliver") == 1
    assert value(m, "pixbridge_retries_total", stage="process") is None  # counted per message
    assert value(m, "pixbridge_retries_total", stage="parse") == 1  # the message's own event
