"""ExchangeSender beyond the contract: threading headers, attachments, Sent Items, refusals."""

from __future__ import annotations

from collections.abc import Callable
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest
from pixbridge_exchange import ExchangeSender
from pixbridge_exchange.testing import FakeEws

from pixbridge.errors import PermanentAdapterError
from pixbridge.models import OutgoingMail


def _reply_with_attachment() -> OutgoingMail:
    msg = EmailMessage()
    msg["From"] = "PIX Support <support@example.com>"
    msg["To"] = "customer@example.com"
    msg["Subject"] = "Re: [SUP-7] Licence error"
    msg["Message-ID"] = "<sup-7.1@pixbridge.example.com>"
    msg["In-Reply-To"] = "<original@customer.example.com>"
    msg["References"] = "<first@customer.example.com> <original@customer.example.com>"
    msg.set_content("Please find the log attached.")
    msg.add_attachment(
        b"\x00\x01binary", maintype="application", subtype="octet-stream", filename="licence.bin"
    )
    raw = msg.as_bytes(policy=policy.SMTP)
    return OutgoingMail(msg["Message-ID"], "support@example.com", ("customer@example.com",), raw)


def test_threading_headers_and_attachments_are_sent_and_kept_in_sent_items(
    ews: FakeEws, make_sender: Callable[..., ExchangeSender]
) -> None:
    mail = _reply_with_attachment()
    make_sender().send(mail)
    (sent,) = ews.store.sent
    parsed = BytesParser(policy=policy.default).parsebytes(sent)
    assert parsed["In-Reply-To"] == "<original@customer.example.com>"
    assert parsed["References"] == "<first@customer.example.com> <original@customer.example.com>"
    (attachment,) = parsed.iter_attachments()
    assert attachment.get_filename() == "licence.bin"
    assert attachment.get_content() == b"\x00\x01binary"
    (copy,) = ews.folder_items("Sent Items")
    assert copy.message_id == mail.message_id and copy.mime == mail.raw


def test_recipient_missing_from_the_headers_is_refused(
    ews: FakeEws, make_sender: Callable[..., ExchangeSender]
) -> None:
    mail = _reply_with_attachment()
    hidden = OutgoingMail(mail.message_id, mail.sender, ("someone@example.org",), mail.raw)
    with pytest.raises(PermanentAdapterError, match="To, Cc or Bcc"):
        make_sender().send(hidden)
    assert ews.store.sent == [] and ews.requests == []


def test_check_opens_sent_items(make_sender: Callable[..., ExchangeSender]) -> None:
    assert make_sender().check() == []
    assert "credentials" in make_sender(password="wrong").check()[0]
