"""The ``smtp`` mail sender: submits ``mail.raw`` unchanged to an SMTP server (stdlib smtplib).

One transaction per message, all or nothing: every recipient is offered with ``RCPT TO`` before
``DATA``, and if the server refuses any of them the transaction is reset, so a retry never
reaches a recipient twice. Replies map to adapter errors the RFC 5321 way: 4xx is transient,
5xx permanent, a refused login needs credentials, a lost connection is transient.

SMTP cannot take back a message or tell whether it already has one: when the connection drops
after the final ``.`` the outcome is unknown, and the retry may deliver a second copy.
"""

from __future__ import annotations

import smtplib
import ssl
from email import policy
from email.parser import BytesHeaderParser
from typing import ClassVar

from pixbridge.adapters import AdapterContext, MailSender
from pixbridge.builtins.maildir import is_addr_spec
from pixbridge.errors import NeedsCredentials, PermanentAdapterError, TransientAdapterError
from pixbridge.models import OutgoingMail
from pixbridge_imap.settings import Security, SmtpSettings, tls_context

__all__ = ["SmtpSender", "check_outgoing"]


def _normalise_id(value: str) -> str:
    compact = "".join(value.split())
    return compact[1:-1] if compact.startswith("<") and compact.endswith(">") else compact


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply


def check_outgoing(mail: OutgoingMail) -> None:
    """Refuse what an SMTP server would refuse, or what would make a resend ambiguous.

    :raises PermanentAdapterError: no recipients, a recipient that is not a bare address, an
        empty message, or a Message-ID header missing or different from ``mail.message_id``.
    """
    if not mail.recipients:
        raise PermanentAdapterError(f"outgoing message {mail.message_id!r} has no recipients")
    for address in (*mail.recipients, mail.sender):
        if not is_addr_spec(address):
            raise PermanentAdapterError(
                f"outgoing message {mail.message_id!r}: {address!r} is not an e-mail address "
                "(expected a bare addr-spec such as customer@example.com)"
            )
    if not mail.raw.strip():
        raise PermanentAdapterError(f"outgoing message {mail.message_id!r} is empty")
    headers = BytesHeaderParser(policy=policy.compat32).parsebytes(mail.raw)
    found = [str(v) for v in headers.get_all("Message-ID", [])]
    if len(found) != 1 or _normalise_id(found[0]) != _normalise_id(mail.message_id):
        raise PermanentAdapterError(
            f"outgoing message {mail.message_id!r}: its Message-ID header(s) {found!r} must be "
            "exactly one, equal to message_id"
        )


class SmtpSender(MailSender):
    """Submits our mail to an SMTP server with STARTTLS or implicit TLS and SMTP AUTH."""

    name: ClassVar[str] = "smtp"
    Settings: ClassVar[type[SmtpSettings]] = SmtpSettings
    secret_fields: ClassVar[tuple[str, ...]] = ("password",)

    def __init__(self, settings: SmtpSettings, context: AdapterContext) -> None:
        super().__init__(settings, context)
        self.settings: SmtpSettings = settings
        self._smtp: smtplib.SMTP | None = None

    @property
    def _where(self) -> str:
        return f"SMTP server {self.settings.host}:{self._port}"

    @property
    def _port(self) -> int:
        if self.settings.port is not None:
            return self.settings.port
        return {Security.TLS: 465, Security.STARTTLS: 587}.get(self.settings.security, 25)

    # ------------------------------------------------------------ connection

    def open(self) -> None:
        """Nothing: the connection is made by the first :meth:`send` (and kept)."""

    def close(self) -> None:
        """Say QUIT if the connection is still there. Safe to call more than once."""
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()

    def check(self) -> list[str]:
        """Connect, protect and log in, on a connection of its own."""
        try:
            smtp = self._connect()
        except (TransientAdapterError, PermanentAdapterError, NeedsCredentials) as exc:
            return [f"[adapters.smtp] {exc}"]
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()
        return []

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        context = (
            tls_context(settings.tls_ca_file) if settings.security is not Security.PLAIN else None
        )
        try:
            smtp: smtplib.SMTP
            if settings.security is Security.TLS:
                smtp = smtplib.SMTP_SSL(
                    settings.host,
                    self._port,
                    local_hostname=settings.local_hostname,
                    timeout=settings.timeout,
                    context=context,
                )
            else:
                smtp = smtplib.SMTP(
                    settings.host,
                    self._port,
                    local_hostname=settings.local_hostname,
                    timeout=settings.timeout,
                )
        except ssl.SSLCertVerificationError as exc:
            raise self._untrusted(exc) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise TransientAdapterError(f"{self._where}: cannot connect: {exc}") from exc
        try:
            smtp.ehlo()
            if settings.security is Security.STARTTLS:
                if not smtp.has_extn("starttls"):
                    raise PermanentAdapterError(
                        f'{self._where} does not offer STARTTLS; use security = "tls" and its port'
                    )
                smtp.starttls(context=context)
                smtp.ehlo()
            if settings.username is not None and settings.password is not None:
                smtp.login(settings.username, settings.password.get_secret_value())
        except ssl.SSLCertVerificationError as exc:
            smtp.close()
            raise self._untrusted(exc) from exc
        except smtplib.SMTPAuthenticationError as exc:
            smtp.close()
            raise NeedsCredentials(
                f"{self._where} refused the login of {settings.username!r}: {exc.smtp_code} "
                f"{_text(exc.smtp_error)}; check [adapters.smtp] username/password"
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            smtp.close()
            raise PermanentAdapterError(
                f"{self._where} does not offer SMTP AUTH; remove [adapters.smtp] username and "
                f"password or use the submission port: {exc}"
            ) from exc
        except (PermanentAdapterError, NeedsCredentials):
            smtp.close()
            raise
        except smtplib.SMTPResponseException as exc:
            smtp.close()
            raise self._reply_error("greeting the server", exc) from exc
        except (OSError, smtplib.SMTPException) as exc:
            smtp.close()
            raise TransientAdapterError(f"{self._where}: connection lost: {exc}") from exc
        return smtp

    def _untrusted(self, exc: ssl.SSLCertVerificationError) -> PermanentAdapterError:
        return PermanentAdapterError(
            f"{self._where}: its TLS certificate is not trusted ({exc.verify_message}); "
            "set [adapters.smtp] tls_ca_file to the CA that signed it"
        )

    def _reply_error(
        self, doing: str, exc: smtplib.SMTPResponseException
    ) -> TransientAdapterError | PermanentAdapterError:
        text = _text(exc.smtp_error)
        message = f"{self._where} answered {exc.smtp_code} {text} while {doing}"
        if 400 <= exc.smtp_code < 500:
            return TransientAdapterError(message)
        return PermanentAdapterError(message)

    # ------------------------------------------------------------ sending

    def send(self, mail: OutgoingMail) -> None:
        """Submit *mail* to its recipients in one SMTP transaction.

        :raises PermanentAdapterError: the message is malformed or the server refused it (5xx).
        :raises TransientAdapterError: a 4xx reply or a lost connection; try again later.
        :raises NeedsCredentials: the server refused the login.
        """
        check_outgoing(mail)
        envelope = self.settings.envelope_sender or mail.sender
        fresh = self._smtp is None
        smtp = self._smtp or self._connect()
        self._smtp = smtp
        try:
            if not fresh:
                try:
                    smtp.rset()
                except (OSError, smtplib.SMTPException):
                    # The kept connection went stale (server timeout): nothing was sent yet.
                    smtp.close()
                    smtp = self._smtp = self._connect()
            self._transaction(smtp, envelope, mail)
        except smtplib.SMTPRecipientsRefused as exc:
            self._reset(smtp)
            raise self._refused(mail, exc.recipients) from exc
        except smtplib.SMTPResponseException as exc:
            self._reset(smtp)
            raise self._reply_error(f"sending {mail.message_id}", exc) from exc
        except (OSError, smtplib.SMTPException) as exc:
            self._abandon()
            raise TransientAdapterError(
                f"{self._where}: connection lost while sending {mail.message_id} "
                f"(it may or may not have been delivered): {exc}"
            ) from exc

    def _transaction(self, smtp: smtplib.SMTP, envelope: str, mail: OutgoingMail) -> None:
        options: list[str] = []
        if any(byte > 127 for byte in mail.raw) and smtp.has_extn("8bitmime"):
            options.append("BODY=8BITMIME")
        if not all(a.isascii() for a in (envelope, *mail.recipients)):
            if not smtp.has_extn("smtputf8"):
                raise PermanentAdapterError(
                    f"{self._where} does not offer SMTPUTF8, needed for the addresses of "
                    f"{mail.message_id}"
                )
            options.append("SMTPUTF8")
        code, reply = smtp.mail(envelope, options)
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, reply, envelope)
        for recipient in mail.recipients:
            code, reply = smtp.rcpt(recipient)
            if code not in (250, 251):
                raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
        code, reply = smtp.data(mail.raw)
        if code != 250:
            raise smtplib.SMTPDataError(code, reply)
        self.context.logger.debug("smtp: %s accepted by %s", mail.message_id, self._where)

    def _refused(
        self, mail: OutgoingMail, refused: dict[str, tuple[int, bytes]]
    ) -> TransientAdapterError | PermanentAdapterError:
        detail = "; ".join(
            f"{rcpt}: {code} {reply.decode(errors='replace')}"
            for rcpt, (code, reply) in refused.items()
        )
        message = (
            f"{self._where} refused recipients of {mail.message_id} ({detail}); nothing was sent"
        )
        if any(code >= 500 for code, _ in refused.values()):
            return PermanentAdapterError(message)
        return TransientAdapterError(message)

    def _reset(self, smtp: smtplib.SMTP) -> None:
        try:
            smtp.rset()
        except (OSError, smtplib.SMTPException):
            self._abandon()

    def _abandon(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()
