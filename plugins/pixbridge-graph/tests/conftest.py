"""Fixtures: a fake Graph over HTTPS on loopback, and adapters pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from pixbridge_graph import GraphSender, GraphSource
from pixbridge_graph.testing import FakeGraph, TlsFiles, adapter_settings, make_tls

from pixbridge.adapters import Adapter, AdapterContext

A = TypeVar("A", bound=Adapter)


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A CA and a loopback server certificate, made once per test session."""
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def fake(tls: TlsFiles) -> Iterator[FakeGraph]:
    """A fresh fake Graph with one empty mailbox, support@example.com."""
    server = FakeGraph(tls).start()
    yield server
    server.stop()


@pytest.fixture
def make_source(
    fake: FakeGraph, adapter_context: AdapterContext
) -> Iterator[Callable[..., GraphSource]]:
    """Build and open a GraphSource on the fake; closed at the end of the test."""
    made: list[Adapter] = []

    def factory(**extra: Any) -> GraphSource:
        source = GraphSource(
            GraphSource.Settings.model_validate(adapter_settings(fake, **extra)), adapter_context
        )
        source.open()
        made.append(source)
        return source

    yield factory
    for adapter in made:
        adapter.close()


@pytest.fixture
def make_sender(
    fake: FakeGraph, adapter_context: AdapterContext
) -> Iterator[Callable[..., GraphSender]]:
    """Build and open a GraphSender on the fake; closed at the end of the test."""
    made: list[Adapter] = []

    def factory(**extra: Any) -> GraphSender:
        sender = GraphSender(
            GraphSender.Settings.model_validate(adapter_settings(fake, **extra)), adapter_context
        )
        sender.open()
        made.append(sender)
        return sender

    yield factory
    for adapter in made:
        adapter.close()


@pytest.fixture
def source(make_source: Callable[..., GraphSource]) -> GraphSource:
    """A GraphSource with the default settings."""
    return make_source()


@pytest.fixture
def sender(make_sender: Callable[..., GraphSender]) -> GraphSender:
    """A GraphSender with the default settings."""
    return make_sender()


@pytest.fixture
def data_path(tmp_path: Path) -> Path:
    """A scratch directory."""
    return tmp_path
