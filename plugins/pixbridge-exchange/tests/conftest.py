"""Fixtures: a fake EWS endpoint per test and adapters pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import exchangelib
import pytest
from pixbridge_exchange import ExchangeSender, ExchangeSource, SenderSettings, SourceSettings
from pixbridge_exchange.testing import FakeEws

from pixbridge.adapters import AdapterContext


@pytest.fixture
def ews() -> Iterator[FakeEws]:
    with FakeEws() as fake:
        yield fake
    # exchangelib caches a Protocol (and its sessions) per endpoint; ports get reused.
    exchangelib.close_connections()


def connection(ews: FakeEws, **overrides: Any) -> dict[str, Any]:
    """Settings that reach *ews* with basic auth (a fake cannot do the NTLM handshake)."""
    values: dict[str, Any] = {
        "service_endpoint": ews.url,
        "server_version": "Exchange2016",
        "auth": "basic",
        "username": ews.username,
        "password": ews.password,
        "mailbox": ews.store.address,
        "backoff": 0.01,
        "max_attempts": 4,
    }
    values.update(overrides)
    return values


@pytest.fixture
def ews_settings(ews: FakeEws) -> dict[str, Any]:
    """Adapter settings reaching the fake (for ``[adapters.exchange]`` tables)."""
    return connection(ews)


@pytest.fixture
def sleeps() -> list[float]:
    """The waits of the retry policy, recorded instead of slept (where a test injects it)."""
    return []


@pytest.fixture
def make_source(
    ews: FakeEws, adapter_context: AdapterContext
) -> Iterator[Callable[..., ExchangeSource]]:
    made: list[ExchangeSource] = []

    def factory(sleep: Callable[[float], None] | None = None, **overrides: Any) -> ExchangeSource:
        settings = SourceSettings(**connection(ews, **overrides))
        kwargs = {} if sleep is None else {"sleep": sleep}
        source = ExchangeSource(settings, adapter_context, **kwargs)
        source.open()
        made.append(source)
        return source

    yield factory
    for source in made:
        source.close()


@pytest.fixture
def make_sender(
    ews: FakeEws, adapter_context: AdapterContext
) -> Iterator[Callable[..., ExchangeSender]]:
    made: list[ExchangeSender] = []

    def factory(sleep: Callable[[float], None] | None = None, **overrides: Any) -> ExchangeSender:
        settings = SenderSettings(**connection(ews, **overrides))
        kwargs = {} if sleep is None else {"sleep": sleep}
        sender = ExchangeSender(settings, adapter_context, **kwargs)
        sender.open()
        made.append(sender)
        return sender

    yield factory
    for sender in made:
        sender.close()
