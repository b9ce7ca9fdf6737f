"""pixbridge's mail contract suites against the adapters and the fake EWS endpoint."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from pixbridge_exchange import ExchangeSender, ExchangeSource
from pixbridge_exchange.testing import FakeEws

from pixbridge.adapters import MailSender, MailSource
from pixbridge.testing.contracts.mail import MailSenderContract, MailSourceContract


class TestExchangeSource(MailSourceContract):
    @pytest.fixture
    def adapter(
        self, ews: FakeEws, make_source: Callable[..., ExchangeSource]
    ) -> Iterator[ExchangeSource]:
        self.ews = ews
        yield make_source(poll_interval=0.02)

    def deliver(self, adapter: MailSource, raw: bytes) -> None:
        self.ews.deliver(raw)


class TestExchangeSender(MailSenderContract):
    # Sent Items is searched for the Message-ID before each send.
    dedupes_by_message_id = ExchangeSender.dedupes_by_message_id

    @pytest.fixture
    def adapter(
        self, ews: FakeEws, make_sender: Callable[..., ExchangeSender]
    ) -> Iterator[ExchangeSender]:
        self.ews = ews
        yield make_sender()

    def sent_messages(self, adapter: MailSender) -> list[bytes]:
        return list(self.ews.store.sent)
