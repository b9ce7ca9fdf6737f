"""The mail-source and mail-sender contract suites against a real Dovecot and a real SMTP server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pixbridge_imap import ImapSource, SmtpSender
from pixbridge_imap.testing import Dovecot, SmtpServer

from pixbridge.adapters import AdapterContext, MailSender, MailSource
from pixbridge.testing.contracts.mail import MailSenderContract, MailSourceContract

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


class TestImapSource(MailSourceContract):
    """UID MOVE (Dovecot offers MOVE)."""

    move = "auto"

    @pytest.fixture
    def adapter(
        self, dovecot: Dovecot, mailbox: tuple[str, str], adapter_context: AdapterContext
    ) -> Iterator[ImapSource]:
        self.dovecot = dovecot
        self.user = mailbox
        settings = ImapSource.Settings(**dovecot.settings(*mailbox, move=self.move))
        source = ImapSource(settings, adapter_context)
        source.open()
        yield source
        source.close()

    def deliver(self, adapter: MailSource, raw: bytes) -> None:
        """APPEND over a connection of its own, as a delivery agent would."""
        client = self.dovecot.admin(*self.user)
        try:
            client.append("INBOX", raw)
        finally:
            client.logout()


class TestImapSourceCopyFallback(TestImapSource):
    """UID COPY + UID STORE \\Deleted + UID EXPUNGE, as for a server without MOVE."""

    move = "copy"


class TestSmtpSender(MailSenderContract):
    """smtplib against aiosmtpd with AUTH."""

    dedupes_by_message_id = False  # SMTP cannot tell that it has seen a message before

    @pytest.fixture
    def adapter(self, smtp_server: SmtpServer, adapter_context: AdapterContext) -> Iterator[Any]:
        self.server = smtp_server
        sender = SmtpSender(SmtpSender.Settings(**smtp_server.settings()), adapter_context)
        sender.open()
        yield sender
        sender.close()

    def sent_messages(self, adapter: MailSender) -> list[bytes]:
        """What aiosmtpd accepted."""
        return self.server.recorder.messages()
