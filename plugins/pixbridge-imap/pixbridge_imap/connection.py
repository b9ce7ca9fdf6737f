"""One logged-in IMAP connection, and the translation of its failures into adapter errors.

imapclient raises ``imaplib`` errors, ``socket``/``ssl`` errors and its own; pixbridge wants
three outcomes: try again later (:class:`TransientAdapterError`: the server is down, the
connection dropped, a timeout), an operator must act on credentials (:class:`NeedsCredentials`)
or the call itself is wrong (:class:`PermanentAdapterError`).
"""

from __future__ import annotations

import contextlib
import imaplib
import ssl
import subprocess
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pixbridge.errors import NeedsCredentials, PermanentAdapterError, TransientAdapterError
from pixbridge_imap.settings import ImapSettings, Security, tls_context

# imapclient is imported by connect() and _login(), not here: the package is imported by every
# pixbridge command at start-up, most of which never connect to IMAP.
if TYPE_CHECKING:
    from imapclient import IMAPClient

__all__ = ["CONNECTION_ERRORS", "connect", "oauth2_token", "translate"]

T = TypeVar("T")

CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # includes socket.timeout, ConnectionResetError, ssl.SSLError
    imaplib.IMAP4.abort,
    EOFError,
)
"""Failures after which the connection is unusable; the next call reconnects."""


def _where(settings: ImapSettings) -> str:
    return f"IMAP server {settings.host}:{settings.port or _default_port(settings)}"


def _default_port(settings: ImapSettings) -> int:
    return 993 if settings.security is Security.TLS else 143


def oauth2_token(settings: ImapSettings) -> str:
    """The access token: from the secret reference, or printed by ``oauth2_token_command``."""
    if settings.oauth2_token is not None:
        return settings.oauth2_token.get_secret_value()
    command = settings.oauth2_token_command or []
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NeedsCredentials(
            f"[adapters.imap] oauth2_token_command {command[0]!r} could not run: {exc}"
        ) from exc
    token = done.stdout.strip()
    if done.returncode != 0 or not token:
        detail = done.stderr.strip()[:300] or f"exit status {done.returncode}, no token printed"
        raise NeedsCredentials(
            f"[adapters.imap] oauth2_token_command {command[0]!r} gave no token: {detail}"
        )
    return token


def connect(settings: ImapSettings) -> IMAPClient:
    """Connect, protect the connection as configured and log in.

    :raises TransientAdapterError: the server cannot be reached or dropped the connection.
    :raises NeedsCredentials: the login was refused.
    :raises PermanentAdapterError: the server cannot do what the settings ask (no STARTTLS).
    """
    from imapclient import IMAPClient

    where = _where(settings)
    port = settings.port or _default_port(settings)
    context = tls_context(settings.tls_ca_file) if settings.security is not Security.PLAIN else None
    try:
        client = IMAPClient(
            settings.host,
            port=port,
            ssl=settings.security is Security.TLS,
            ssl_context=context,
            timeout=settings.timeout,
        )
    except ssl.SSLCertVerificationError as exc:
        raise PermanentAdapterError(
            f"{where}: its TLS certificate is not trusted ({exc.verify_message}); "
            "set [adapters.imap] tls_ca_file to the CA that signed it"
        ) from exc
    except (OSError, EOFError, imaplib.IMAP4.error) as exc:
        raise TransientAdapterError(f"{where}: cannot connect: {exc}") from exc
    try:
        if settings.security is Security.STARTTLS:
            if not client.has_capability("STARTTLS"):
                raise PermanentAdapterError(
                    f'{where} does not offer STARTTLS; use security = "tls" and its TLS port'
                )
            client.starttls(context)
        _login(client, settings)
    except BaseException:
        _quietly_close(client)
        raise
    return client


def _login(client: IMAPClient, settings: ImapSettings) -> None:
    from imapclient.exceptions import LoginError

    where = _where(settings)
    try:
        if settings.auth == "oauth2":
            if not client.has_capability("AUTH=XOAUTH2"):
                raise PermanentAdapterError(f"{where} does not offer AUTH=XOAUTH2")
            client.oauth2_login(settings.username, oauth2_token(settings))
        else:
            assert settings.password is not None  # the settings model checked it
            client.login(settings.username, settings.password.get_secret_value())
    except ssl.SSLCertVerificationError as exc:
        raise PermanentAdapterError(
            f"{where}: its TLS certificate is not trusted ({exc.verify_message}); "
            "set [adapters.imap] tls_ca_file to the CA that signed it"
        ) from exc
    except LoginError as exc:
        raise NeedsCredentials(
            f"{where} refused the login of {settings.username!r} ({settings.auth}): {exc}; "
            "check [adapters.imap] username and the password or token it refers to"
        ) from exc
    except CONNECTION_ERRORS as exc:
        raise TransientAdapterError(f"{where}: connection lost while logging in: {exc}") from exc
    except imaplib.IMAP4.error as exc:
        # imapclient raises plain errors for a failed AUTHENTICATE exchange too.
        raise NeedsCredentials(
            f"{where} refused the login of {settings.username!r} ({settings.auth}): {exc}"
        ) from exc


def translate(settings: ImapSettings, doing: str, call: Callable[[], T]) -> T:
    """Run *call*, turning IMAP failures into adapter errors that say what was being done.

    Connection failures become :class:`TransientAdapterError` (the caller drops the connection);
    a NO/BAD answer becomes :class:`PermanentAdapterError`.
    """
    where = _where(settings)
    try:
        return call()
    except (PermanentAdapterError, TransientAdapterError, NeedsCredentials):
        raise
    except CONNECTION_ERRORS as exc:
        raise TransientAdapterError(f"{where}: connection lost while {doing}: {exc}") from exc
    except imaplib.IMAP4.error as exc:
        raise PermanentAdapterError(f"{where} refused {doing}: {exc}") from exc


def _quietly_close(client: Any) -> None:
    """Close *client*'s socket without waiting for the server (it may be gone)."""
    try:
        client.shutdown()
    except Exception:
        with contextlib.suppress(Exception):
            client.socket().close()


def close(client: Any) -> None:
    """Log out politely if the server answers quickly; otherwise just close the socket."""
    try:
        client.socket().settimeout(2.0)
        client.logout()
    except Exception:
        _quietly_close(client)
