"""The mail-source and mail-sender contract suites, run against the fake Graph."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import ClassVar

import pytest
from pixbridge_graph import GraphSender, GraphSource
from pixbridge_graph.testing import FakeGraph

from pixbridge.adapters import MailSender, MailSource
from pixbridge.testing.contracts.mail import MailSenderContract, MailSourceContract


class TestGraphSource(MailSourceContract):
    """GraphSource keeps the mail-source contract."""

    # Exchange stores messages as MAPI items and rebuilds MIME for /$value: equivalent, not
    # byte-identical (the fake returns the bytes unchanged; test_source checks that we do too).
    preserves_bytes: ClassVar[bool] = False
    exact_sizes: ClassVar[bool] = False

    @pytest.fixture
    def adapter(self, make_source: Callable[..., GraphSource]) -> Iterator[GraphSource]:
        yield make_source()

    def deliver(self, adapter: MailSource, raw: bytes) -> None:
        self.fake.mailbox.deliver(raw)

    @pytest.fixture(autouse=True)
    def _fake(self, fake: FakeGraph) -> None:
        self.fake = fake


class TestGraphSender(MailSenderContract):
    """GraphSender keeps the mail-sender contract."""

    # Exchange adds its own headers (Received, X-MS-Exchange-*) to what it delivers.
    preserves_bytes: ClassVar[bool] = False
    # The resend check looks in Sent Items (see sender.py for the window it leaves).
    dedupes_by_message_id: ClassVar[bool] = True

    @pytest.fixture
    def adapter(self, make_sender: Callable[..., GraphSender]) -> Iterator[GraphSender]:
        yield make_sender()

    def sent_messages(self, adapter: MailSender) -> list[bytes]:
        return list(self.fake.sent)

    @pytest.fixture(autouse=True)
    def _fake(self, fake: FakeGraph) -> None:
        self.fake = fake
