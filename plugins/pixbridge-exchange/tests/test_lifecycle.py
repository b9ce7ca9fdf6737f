"""The support lifecycle end to end with the mailbox on the fake Exchange server."""

from __future__ import annotations

from collections.abc import Iterator
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pixbridge_exchange
import pytest
from lifecycle_helpers import SAMPLES, TEMPLATES
from pixbridge_exchange.testing import FakeEws

from pixbridge.testing.harness import Harness
from pixbridge.testing.plugin import FakeClock


@pytest.fixture
def harness(tmp_path: Path, ews_settings: dict[str, Any]) -> Iterator[Harness]:
    settings = ews_settings
    h = Harness(
        tmp_path,
        templates_dir=TEMPLATES,
        clock=FakeClock(),
        pipeline={
            "mail_source": "exchange",
            "mail_sender": "exchange-sender",
            "tracker": "local",
            "license_validators": [],
            "publishers": [],
        },
        adapters={"exchange": {**settings, "poll_interval": 0.01}, "exchange-sender": settings},
        extra_plugins=[("exchange", pixbridge_exchange)],
    )
    yield h
    h.close()


def test_request_is_registered_acknowledged_through_exchange_and_moved(
    harness: Harness, ews: FakeEws
) -> None:
    raw = (SAMPLES / "01-en-request.eml").read_bytes()
    ews.deliver(raw)
    result = harness.run()
    assert (result.accepted, result.processed, result.sent) == (1, 1, 1)
    assert harness.keys() == ["SUP-1"]
    assert harness.request("SUP-1")["attachments"] == ["pixtm-export.log"]
    # The acknowledgement went out through Exchange, threaded onto the customer's message.
    (sent,) = ews.store.sent
    ack = BytesParser(policy=policy.default).parsebytes(sent)
    assert ack["To"] == "john.smith@customer.example"
    assert ack["Subject"].startswith("[SUP-1] ")
    assert ack["In-Reply-To"] == "<20260112091405.4411@mail.customer.example>"
    assert "<20260112091405.4411@mail.customer.example>" in ack["References"]
    assert [i.message_id for i in ews.folder_items("Sent Items")] == [ack["Message-ID"]]
    # The customer's message left the Inbox for Processed, bytes unchanged.
    assert ews.folder_items("inbox") == []
    (processed,) = ews.folder_items("Processed")
    assert processed.mime == raw
    # A second pass finds nothing new and sends nothing again.
    again = harness.run()
    assert (again.accepted, again.sent) == (0, 0)
    assert len(ews.store.sent) == 1


def test_push_wakes_the_orchestrator_wait(harness: Harness, ews: FakeEws) -> None:
    harness.run()
    assert harness.app.source.wait(0.02) is False
    ews.deliver((SAMPLES / "01-en-request.eml").read_bytes())
    assert harness.app.source.wait(5) is True
    assert harness.run().accepted == 1
