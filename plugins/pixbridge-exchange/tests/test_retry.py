"""The retry policy: ErrorServerBusy honoured, transport errors backed off, bounded."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pixbridge_exchange import ExchangeSender, ExchangeSource
from pixbridge_exchange.testing import ErrorInjection, FakeEws

from pixbridge.errors import NeedsCredentials, TransientAdapterError
from pixbridge.models import OutgoingMail
from pixbridge.testing.contracts.mail import sample_message


def _reply(message_id: str = "<r1@pixbridge.example.com>") -> OutgoingMail:
    raw = sample_message(message_id, sender="support@example.com", to="customer@example.com")
    return OutgoingMail(message_id, "support@example.com", ("customer@example.com",), raw)


def test_server_busy_retry_waits_at_least_back_off(
    ews: FakeEws, make_source: Callable[..., ExchangeSource]
) -> None:
    """The retry of a throttled FindItem comes no sooner than BackOffMilliseconds later."""
    source = make_source()
    source.pending()  # resolve the folder first, so the next FindItem is the listing
    ews.deliver(sample_message())
    ews.inject(ErrorInjection(busy_ms=400, operation="FindItem"))
    assert len(list(source.pending())) == 1
    busy, retry = [r for r in ews.requests if r.operation == "FindItem"][-2:]
    assert busy.status == 500 and retry.status == 200
    assert retry.at - busy.at >= 0.4


def test_server_busy_without_back_off_waits_the_configured_default(
    ews: FakeEws, make_source: Callable[..., ExchangeSource], sleeps: list[float]
) -> None:
    source = make_source(sleep=sleeps.append, server_busy_wait=7.5)
    ews.inject(ErrorInjection(operation="FindItem"))
    assert list(source.pending()) == []
    assert sleeps == [7.5]


def test_http_500_is_retried_with_growing_back_off(
    ews: FakeEws, make_source: Callable[..., ExchangeSource], sleeps: list[float]
) -> None:
    source = make_source(sleep=sleeps.append, backoff=1.0)
    ews.inject(ErrorInjection(http_status=500, operation="FindItem", count=2))
    assert list(source.pending()) == []
    assert len(sleeps) == 2
    assert 1.0 <= sleeps[0] <= 2.0 and 2.0 <= sleeps[1] <= 3.0


def test_retries_are_bounded_then_transient(
    ews: FakeEws, make_source: Callable[..., ExchangeSource], sleeps: list[float]
) -> None:
    source = make_source(sleep=sleeps.append, max_attempts=3)
    source.pending()
    ews.inject(ErrorInjection(http_status=500, operation="FindItem", count=10))
    with pytest.raises(TransientAdapterError, match="unavailable"):
        source.pending()
    assert len(sleeps) == 2
    assert [r.status for r in ews.requests if r.operation == "FindItem"][1:] == [500] * 3


def test_back_off_longer_than_max_wait_fails_at_once_with_retry_after(
    ews: FakeEws, make_source: Callable[..., ExchangeSource], sleeps: list[float]
) -> None:
    source = make_source(sleep=sleeps.append, max_wait=60)
    source.pending()
    ews.inject(ErrorInjection(busy_ms=297_749, operation="FindItem"))
    with pytest.raises(TransientAdapterError) as excinfo:
        source.pending()
    assert excinfo.value.retry_after == pytest.approx(297.749)
    assert sleeps == []


def test_throttled_send_is_sent_once(
    ews: FakeEws, make_sender: Callable[..., ExchangeSender], sleeps: list[float]
) -> None:
    sender = make_sender(sleep=sleeps.append)
    ews.inject(ErrorInjection(busy_ms=250, operation="CreateItem"))
    sender.send(_reply())
    assert len(ews.store.sent) == 1
    assert sleeps == [0.25]


def test_lost_send_response_is_not_sent_twice(
    ews: FakeEws, make_sender: Callable[..., ExchangeSender], sleeps: list[float]
) -> None:
    """The server sent the mail but the answer was lost: the retry finds it in Sent Items."""
    sender = make_sender(sleep=sleeps.append)
    ews.inject(ErrorInjection(http_status=500, operation="CreateItem", after=True))
    sender.send(_reply())
    assert len(ews.store.sent) == 1
    assert ews.operations_seen().count("CreateItem") == 1
    assert len(sleeps) == 1


def test_wrong_password_needs_credentials(
    ews: FakeEws, make_source: Callable[..., ExchangeSource]
) -> None:
    source = make_source(password="wrong")
    with pytest.raises(NeedsCredentials, match="credentials"):
        source.pending()
