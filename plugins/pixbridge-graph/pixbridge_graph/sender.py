"""``graph-sender``: our mail sent as the support mailbox through Microsoft Graph.

The message goes out as MIME (``POST /users/{id}/sendMail`` with ``Content-Type: text/plain``
and the base64 message), the only Graph way that keeps our own headers: Message-ID,
In-Reply-To, References, Auto-Submitted. Graph keeps a copy in Sent Items.

Graph sends to the To/Cc/Bcc addresses in the message, not to a separate envelope: a
recipient missing from those headers is added as Bcc, and a message naming someone who is not
among the recipients is refused rather than sent to them.

A resend after a crash: with ``check_sent_items`` (the default) the Message-ID is looked up in
Sent Items first and a message found there is not sent again. Graph files that copy a moment
after accepting the message, so a resend within seconds of the first send may still go out
twice; the window is small and the duplicate harmless (same Message-ID, threads together).
"""

from __future__ import annotations

import base64
from email import policy
from email.parser import BytesParser
from email.utils import getaddresses
from typing import TYPE_CHECKING, ClassVar

from pixbridge.adapters import AdapterContext, MailSender
from pixbridge.builtins.maildir import is_addr_spec
from pixbridge.errors import AdapterError, NeedsCredentials, PermanentAdapterError
from pixbridge.models import OutgoingMail
from pixbridge.observability.credentials import CredentialExpiry
from pixbridge_graph.credentials import credential_expiries
from pixbridge_graph.errors import GraphRefused
from pixbridge_graph.settings import GraphSenderSettings

# The client (requests, tenacity, msal) is imported when an adapter connects, not with the
# package: importing it costs every pixbridge command ~0.2 s at start-up.
if TYPE_CHECKING:
    from pixbridge_graph.client import GraphClient

__all__ = ["MAX_REQUEST_BYTES", "GraphSender"]

MAX_REQUEST_BYTES = 4 * 1024 * 1024
"""Graph's limit on a sendMail request body; larger mail needs an upload session (not done)."""


class GraphSender(MailSender):
    """Sends through Graph's sendMail as the support mailbox."""

    name: ClassVar[str] = "graph-sender"
    Settings: ClassVar[type[GraphSenderSettings]] = GraphSenderSettings
    secret_fields: ClassVar[tuple[str, ...]] = ("client_secret", "certificate_password")
    settings: GraphSenderSettings

    def __init__(self, settings: GraphSenderSettings, context: AdapterContext) -> None:
        super().__init__(settings, context)
        self.client: GraphClient | None = None

    def open(self) -> None:
        """Check that the settings are complete (no network yet: the first send signs in)."""
        problems = self.settings.setup_problems(self.name)
        if problems:
            raise NeedsCredentials("; ".join(problems))
        self.client = self._connect()

    def credential_expiries(self) -> list[CredentialExpiry]:
        """The client secret's (``client_secret_expires``) or the certificate's expiry."""
        return credential_expiries(self.settings, self.name)

    def close(self) -> None:
        """Close the HTTP connections."""
        if self.client is not None:
            self.client.close()

    def check(self) -> list[str]:
        """Token and mailbox (its Sent Items), as ``pixbridge doctor`` shows them."""
        problems = self.settings.setup_problems(self.name)
        if problems:
            return problems
        client = self.client or self._connect()
        try:
            client.tokens.token()
            client.get_json("/mailFolders/sentitems", params={"$select": "id"})
        except GraphRefused as exc:
            return [f"adapters.{self.name}.mailbox: {self.settings.mailbox!r}: {exc}"]
        except AdapterError as exc:
            return [str(exc)]
        return []

    def send(self, mail: OutgoingMail) -> None:
        """Send *mail* as MIME; skipped when its Message-ID is already in Sent Items."""
        raw = self._prepared(mail)
        body = base64.b64encode(raw)
        if len(body) > MAX_REQUEST_BYTES:
            raise PermanentAdapterError(
                f"{mail.message_id} is {len(raw)} bytes; Graph sends at most about 3 MB of MIME "
                "in one request. Send large files as a download link instead"
            )
        client = self._client()
        if self.settings.check_sent_items and self._already_sent(mail.message_id):
            self.context.logger.info("%s is already in Sent Items; not sent again", mail.message_id)
            return
        client.request(
            "POST",
            "/sendMail",
            data=body,
            headers={"Content-Type": "text/plain"},
            what=f"send {mail.message_id}",
            repeatable=False,
        )

    def _connect(self) -> GraphClient:
        """A new client for the mailbox (no network yet)."""
        from pixbridge_graph.client import GraphClient

        return GraphClient(self.settings, self.name)

    def _client(self) -> GraphClient:
        if self.client is None:
            raise RuntimeError("GraphSender used before open()")
        return self.client

    def _already_sent(self, message_id: str) -> bool:
        quoted = message_id.replace("'", "''")
        found = self._client().get_json(
            "/mailFolders/sentitems/messages",
            params={"$filter": f"internetMessageId eq '{quoted}'", "$select": "id", "$top": "1"},
        )
        return bool(found.get("value"))

    @staticmethod
    def _prepared(mail: OutgoingMail) -> bytes:
        """The MIME to send: checked, with envelope-only recipients added as Bcc."""
        if not mail.recipients:
            raise PermanentAdapterError(f"{mail.message_id} has no recipients")
        for recipient in mail.recipients:
            if not is_addr_spec(recipient) or recipient != recipient.strip():
                raise PermanentAdapterError(
                    f"{mail.message_id}: recipient {recipient!r} is not a bare address "
                    "like customer@example.com"
                )
        recipients = list(mail.recipients)
        head = BytesParser(policy=policy.compat32).parsebytes(mail.raw, headersonly=True)
        header_id = "".join(str(head.get("Message-ID", "")).split())
        if not header_id:
            raise PermanentAdapterError(f"{mail.message_id}: the message has no Message-ID header")
        if header_id != "".join(mail.message_id.split()):
            raise PermanentAdapterError(
                f"{mail.message_id}: the Message-ID header says {header_id}; they must agree"
            )
        named = {
            address.casefold()
            for _, address in getaddresses(
                [str(v) for k in ("To", "Cc", "Bcc") for v in head.get_all(k, [])]
            )
            if address
        }
        wanted = {r.casefold() for r in recipients}
        strangers = sorted(named - wanted)
        if strangers:
            raise PermanentAdapterError(
                f"{mail.message_id} names {', '.join(strangers)} in To/Cc/Bcc, who are not among "
                "its recipients; Graph would send to them too"
            )
        extra = [r for r in recipients if r.casefold() not in named]
        if not extra:
            return mail.raw
        # Graph has no envelope: recipients not named in the headers travel as Bcc (stripped
        # from what they receive), ahead of the existing headers.
        eol = b"\r\n" if b"\r\n" in mail.raw[:4096] else b"\n"
        return b"Bcc: " + ", ".join(extra).encode() + eol + mail.raw
