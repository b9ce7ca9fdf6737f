"""The ``exchange-sender`` mail sender: our mail, sent through the Exchange mailbox over EWS.

The message goes as MIME (CreateItem with MimeContent, MessageDisposition SendAndSaveCopy), so
its headers, ``In-Reply-To`` and ``References`` included, and its attachments arrive as pixbridge
wrote them, and a copy is kept in Sent Items. Before each attempt Sent Items is searched for the
Message-ID: a resend after a crash (or after a lost response) finds the copy and sends nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from email import policy
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from typing import TYPE_CHECKING, ClassVar

from pixbridge.adapters import AdapterContext, MailSender
from pixbridge.builtins.maildir import is_addr_spec
from pixbridge.errors import AdapterError, PermanentAdapterError
from pixbridge.models import OutgoingMail
from pixbridge.observability.credentials import CredentialExpiry
from pixbridge_exchange.settings import SenderSettings

# exchangelib (and pixbridge_exchange.connection, which imports it) is imported only when the
# mailbox is first used: importing it costs every pixbridge command ~0.4 s at start-up.
if TYPE_CHECKING:
    from pixbridge_exchange.connection import Mailbox

__all__ = ["ExchangeSender", "check_outgoing"]


def _normalise_id(value: str) -> str:
    compact = "".join(value.split())
    return compact if compact.startswith("<") else f"<{compact}>"


def check_outgoing(mail: OutgoingMail) -> None:
    """Refuse what Exchange would refuse, or what would make a resend ambiguous.

    EWS takes the recipients of a MIME message from its To, Cc and Bcc headers, so every
    recipient of *mail* must be named there.

    :raises PermanentAdapterError: no recipients, a recipient that is not a bare address or is
        not in the headers, an empty message, or a Message-ID header missing or different from
        ``mail.message_id``.
    """
    where = f"outgoing message {mail.message_id!r}"
    if not mail.recipients:
        raise PermanentAdapterError(f"{where} has no recipients")
    for address in (*mail.recipients, mail.sender):
        if not is_addr_spec(address):
            raise PermanentAdapterError(
                f"{where}: {address!r} is not an e-mail address "
                "(expected a bare addr-spec such as customer@example.com)"
            )
    if not mail.raw.strip():
        raise PermanentAdapterError(f"{where} is empty")
    headers = BytesHeaderParser(policy=policy.compat32).parsebytes(mail.raw)
    found = [str(v) for v in headers.get_all("Message-ID", [])]
    if len(found) != 1 or _normalise_id(found[0]) != _normalise_id(mail.message_id):
        raise PermanentAdapterError(
            f"{where}: its Message-ID header(s) {found!r} must be exactly one, equal to message_id"
        )
    named = {
        address.lower()
        for _, address in getaddresses(
            [str(v) for key in ("To", "Cc", "Bcc") for v in headers.get_all(key, [])]
        )
    }
    missing = [r for r in mail.recipients if r.lower() not in named]
    if missing:
        raise PermanentAdapterError(
            f"{where}: recipient(s) {missing} are not in its To, Cc or Bcc header; Exchange "
            "sends a MIME message to the addresses in those headers only"
        )


class ExchangeSender(MailSender):
    """Sends our mail as MIME through an Exchange mailbox, keeping a copy in Sent Items."""

    name: ClassVar[str] = "exchange-sender"
    Settings: ClassVar[type[SenderSettings]] = SenderSettings
    secret_fields: ClassVar[tuple[str, ...]] = ("password", "oauth2_client_secret")
    dedupes_by_message_id: ClassVar[bool] = True
    """A resend of one Message-ID finds the Sent Items copy and sends nothing."""

    def __init__(
        self,
        settings: SenderSettings,
        context: AdapterContext,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(settings, context)
        self.settings: SenderSettings = settings
        self._sleep = sleep
        self._mailbox: Mailbox | None = None

    @property
    def mailbox(self) -> Mailbox:
        """The connection (created on first use)."""
        if self._mailbox is None:
            from pixbridge_exchange.connection import Mailbox

            self._mailbox = Mailbox(self.settings, sleep=self._sleep)
        return self._mailbox

    def open(self) -> None:
        """Prepare the connection; refuses an incomplete configuration. No I/O yet."""
        _ = self.mailbox

    def credential_expiries(self) -> list[CredentialExpiry]:
        """The OAuth2 client secret's expiry (``oauth2_client_secret_expires``), if set."""
        return self.settings.credential_expiries(self.name)

    def close(self) -> None:
        """Close the HTTP sessions; safe to repeat."""
        mailbox, self._mailbox = self._mailbox, None
        if mailbox is not None:
            mailbox.close()

    def send(self, mail: OutgoingMail) -> None:
        """Send *mail* unless Sent Items already holds its Message-ID.

        :raises PermanentAdapterError: the message is malformed or Exchange refused it.
        :raises TransientAdapterError: Exchange stayed busy or unreachable; safe to repeat.
        """
        check_outgoing(mail)
        message_id = _normalise_id(mail.message_id)

        def attempt() -> None:
            from exchangelib import Message

            # Inside the retried call: a retry after a lost response must look again first.
            if self._already_sent(message_id):
                self.context.logger.info(
                    "exchange: %s is already in Sent Items; not sending again", message_id
                )
                return
            account = self.mailbox.account
            sent = account.sent
            Message(account=account, folder=sent, mime_content=mail.raw).send(
                save_copy=True, copy_to_folder=sent
            )

        self.mailbox.call(f"sending {message_id} from {self.settings.mailbox}", attempt)

    def _already_sent(self, message_id: str) -> bool:
        query = self.mailbox.account.sent.filter(message_id=message_id).only("id")
        return bool(query.exists())

    def check(self) -> list[str]:
        """Connect, sign in and open Sent Items; the problems found, if any."""
        problems = self.settings.missing()
        if problems:
            return [f"[adapters.{self.name}] {p}" for p in problems]
        try:
            self.mailbox.call("opening Sent Items", lambda: self.mailbox.account.sent)
        except AdapterError as exc:
            return [f"[adapters.{self.name}] {exc}"]
        return []
