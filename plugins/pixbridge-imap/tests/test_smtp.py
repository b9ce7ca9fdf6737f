"""The smtp sender against aiosmtpd: reply codes, authentication, envelope, TLS."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pixbridge_imap import SmtpSender
from pixbridge_imap.testing import Certificate, SmtpServer, start_smtp
from pydantic import ValidationError

from pixbridge.adapters import AdapterContext
from pixbridge.errors import NeedsCredentials, PermanentAdapterError, TransientAdapterError
from pixbridge.models import OutgoingMail
from pixbridge.testing.contracts.mail import MailSenderContract
from pixbridge.testing.net import free_port

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
outgoing = MailSenderContract.outgoing


@pytest.fixture
def make(smtp_server: SmtpServer, adapter_context: AdapterContext) -> Iterator[Any]:
    opened: list[SmtpSender] = []

    def factory(**extra: Any) -> SmtpSender:
        sender = SmtpSender(SmtpSender.Settings(**smtp_server.settings(**extra)), adapter_context)
        sender.open()
        opened.append(sender)
        return sender

    yield factory
    for sender in opened:
        sender.close()


def test_envelope_sender_is_the_bounce_address(make: Any, smtp_server: SmtpServer) -> None:
    make(envelope_sender="bounces@pix.example").send(outgoing())
    make().send(outgoing())
    envelopes = [(frm, to) for frm, to, _ in smtp_server.recorder.received]
    assert envelopes == [
        ("bounces@pix.example", ["customer@example.com"]),
        ("support@example.com", ["customer@example.com"]),
    ]


def test_temporary_refusal_is_transient_and_sends_nothing(
    make: Any, smtp_server: SmtpServer
) -> None:
    sender = make()
    with pytest.raises(TransientAdapterError, match="450"):
        sender.send(outgoing(recipients=("a@example.com", "b@greylist.example")))
    assert smtp_server.recorder.messages() == []  # all or nothing: a@ did not get it either
    sender.send(outgoing())  # the connection is still usable
    assert len(smtp_server.recorder.messages()) == 1


def test_permanent_refusals_are_permanent(make: Any, smtp_server: SmtpServer) -> None:
    sender = make()
    with pytest.raises(PermanentAdapterError, match="550"):
        sender.send(outgoing(recipients=("x@nowhere.example",)))
    mail = outgoing()
    rejected = mail.raw.replace(b"MIME-Version", b"X-Test-Reject: 554\r\nMIME-Version")
    with pytest.raises(PermanentAdapterError, match="554"):
        sender.send(OutgoingMail(mail.message_id, mail.sender, mail.recipients, rejected))
    assert smtp_server.recorder.messages() == []


def test_wrong_password_needs_credentials(make: Any) -> None:
    with pytest.raises(NeedsCredentials, match="refused the login"):
        make(password="wrong").send(outgoing())


def test_unreachable_server_is_transient(make: Any) -> None:
    sender = make(port=free_port())
    with pytest.raises(TransientAdapterError, match="cannot connect"):
        sender.send(outgoing())
    assert "cannot connect" in sender.check()[0]


def test_check_logs_in(make: Any) -> None:
    assert make().check() == []
    assert "refused the login" in make(password="wrong").check()[0]


def test_plain_is_refused_for_a_remote_host() -> None:
    with pytest.raises(ValidationError, match="loopback"):
        SmtpSender.Settings(host="smtp.example.com", security="plain")


def test_password_without_username_is_an_error() -> None:
    with pytest.raises(ValidationError, match="go together"):
        SmtpSender.Settings(host="smtp.example.com", password="p")


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_tls(security: str, certificate: Certificate, adapter_context: AdapterContext) -> None:
    context = certificate.server_context()
    kwargs = {"tls_context": context} if security == "starttls" else {"ssl_context": context}
    controller, server = start_smtp(**kwargs)
    try:
        settings = server.settings(
            host="localhost", security=security, tls_ca_file=certificate.cert
        )
        sender = SmtpSender(SmtpSender.Settings(**settings), adapter_context)
        mail = outgoing()
        sender.send(mail)
        sender.close()
        assert server.recorder.messages() == [mail.raw]
        untrusted = SmtpSender(
            SmtpSender.Settings(**server.settings(host="localhost", security=security)),
            adapter_context,
        )
        with pytest.raises(PermanentAdapterError, match="tls_ca_file"):
            untrusted.send(outgoing())
    finally:
        controller.stop()
