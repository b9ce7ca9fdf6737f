"""GraphSender beyond the contract: MIME on the wire, threading headers, errors, Bcc, resends."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
from pixbridge_graph import GraphSender
from pixbridge_graph.testing import FakeGraph

from pixbridge.errors import NeedsCredentials, PermanentAdapterError, TransientAdapterError
from pixbridge.models import OutgoingMail
from pixbridge.testing.contracts.mail import sample_message

REPLY = (
    b"From: support@example.com\r\nTo: customer@example.com\r\nSubject: [SUP-7] Re: crash\r\n"
    b"Message-ID: <ack-7@pix.example>\r\nIn-Reply-To: <q-7@customer.example>\r\n"
    b"References: <q-6@customer.example> <q-7@customer.example>\r\n"
    b"Auto-Submitted: auto-replied\r\n\r\nRegistered as SUP-7.\r\n"
)


def _mail(raw: bytes = REPLY, *recipients: str) -> OutgoingMail:
    return OutgoingMail(
        "<ack-7@pix.example>", "support@example.com", recipients or ("customer@example.com",), raw
    )


def _send_calls(fake: FakeGraph) -> list[bytes]:
    return [r.body for r in fake.graph_requests() if r.path.endswith("/sendMail")]


def test_mime_goes_out_as_base64_text_with_threading_headers(
    fake: FakeGraph, sender: GraphSender
) -> None:
    sender.send(_mail())
    [request] = [r for r in fake.graph_requests() if r.path.endswith("/sendMail")]
    assert request.headers["content-type"] == "text/plain"
    assert base64.b64decode(request.body) == REPLY
    assert fake.sent == [REPLY]
    [copy] = fake.mailbox.in_folder("sentitems")
    assert copy.internet_message_id == "<ack-7@pix.example>"


def test_an_envelope_only_recipient_travels_as_bcc(fake: FakeGraph, sender: GraphSender) -> None:
    sender.send(_mail(REPLY, "customer@example.com", "archive@pix.example"))
    received = base64.b64decode(_send_calls(fake)[0])
    assert received.startswith(b"Bcc: archive@pix.example\r\n")
    assert fake.sent == [REPLY]  # recipients do not see the Bcc


def test_a_header_recipient_not_among_the_recipients_is_refused(
    fake: FakeGraph, sender: GraphSender
) -> None:
    raw = REPLY.replace(b"To: customer@example.com", b"To: customer@example.com, boss@example.com")
    with pytest.raises(PermanentAdapterError, match=r"boss@example\.com"):
        sender.send(_mail(raw))
    assert _send_calls(fake) == []


def test_resend_is_skipped_only_with_the_sent_items_check(
    fake: FakeGraph, make_sender: Callable[..., GraphSender]
) -> None:
    make_sender().send(_mail())
    make_sender().send(_mail())
    assert len(fake.sent) == 1
    make_sender(check_sent_items=False).send(_mail())
    assert len(fake.sent) == 2


def test_graph_refusal_carries_its_code(fake: FakeGraph, sender: GraphSender) -> None:
    raw = REPLY.replace(b"From: support@example.com", b"From: ceo@example.com")
    with pytest.raises(NeedsCredentials, match="ErrorSendAsDenied"):
        sender.send(_mail(raw))


def test_a_4xx_is_permanent_with_graphs_message(fake: FakeGraph, sender: GraphSender) -> None:
    fake.fail(400, match="/sendMail")
    with pytest.raises(PermanentAdapterError, match="HTTP 400"):
        sender.send(_mail())
    assert len(_send_calls(fake)) == 1


@pytest.mark.parametrize("status", [503, 504])
def test_a_5xx_on_send_is_transient_and_not_repeated(
    fake: FakeGraph, sender: GraphSender, status: int
) -> None:
    """Graph may have sent it: the outbox retries later, after looking in Sent Items."""
    fake.fail(status, retry_after=7, match="/sendMail")
    with pytest.raises(TransientAdapterError) as excinfo:
        sender.send(_mail())
    assert len(_send_calls(fake)) == 1
    assert excinfo.value.retry_after == 7
    assert fake.sent == []


def test_throttled_send_is_retried(fake: FakeGraph, sender: GraphSender) -> None:
    fake.fail(429, retry_after=0, match="/sendMail")
    sender.send(_mail())
    assert len(_send_calls(fake)) == 2 and fake.sent == [REPLY]


def test_denied_mailbox_needs_credentials(fake: FakeGraph, sender: GraphSender) -> None:
    fake.denied.add(fake.mailbox.address)
    with pytest.raises(NeedsCredentials, match="application access policy"):
        sender.send(_mail())
    assert sender.check() and "ErrorAccessDenied" in sender.check()[0]


def test_check_passes_on_a_working_mailbox(sender: GraphSender) -> None:
    assert sender.check() == []


def test_contract_message_passes(fake: FakeGraph, sender: GraphSender) -> None:
    raw = sample_message("<c-1@pix.example>", sender="support@example.com")
    sender.send(
        OutgoingMail("<c-1@pix.example>", "support@example.com", ("support@example.com",), raw)
    )
    assert fake.sent == [raw]
