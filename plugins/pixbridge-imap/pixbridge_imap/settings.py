"""Settings of the ``imap`` mail source and the ``smtp`` mail sender.

Both talk TLS by default. ``security = "plain"`` (no encryption at all) is accepted only for a
loopback host, where nothing crosses a network: it exists for tests against a local server.
"""

from __future__ import annotations

import ipaddress
import ssl
from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr, model_validator

from pixbridge.adapters import AdapterSettings

__all__ = ["ImapSettings", "Security", "SmtpSettings", "is_loopback", "tls_context"]


class Security(StrEnum):
    """How the connection is protected."""

    TLS = "tls"
    """Implicit TLS from the first byte (IMAP port 993, SMTP submission port 465)."""
    STARTTLS = "starttls"
    """A plain connection upgraded with STARTTLS before logging in (IMAP 143, SMTP 587)."""
    PLAIN = "plain"
    """No encryption; refused unless the host is a loopback address (tests)."""


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and addresses in 127.0.0.0/8 or ``::1``."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """A verifying TLS client context; *ca_file* adds a private CA (a self-signed server)."""
    context = ssl.create_default_context()
    if ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    return context


class _ServerSettings(AdapterSettings):
    host: str = Field(min_length=1)
    """The server's host name (checked against its TLS certificate)."""
    port: int | None = Field(default=None, ge=1, le=65535)
    """The port; by default the usual one for ``security``."""
    security: Security = Security.TLS
    """``tls`` (implicit TLS), ``starttls`` or ``plain`` (loopback only)."""
    tls_ca_file: Path | None = None
    """A CA certificate file to trust besides the system's (for a private or self-signed CA)."""
    timeout: float = Field(default=30.0, gt=0, le=600)
    """Seconds to wait for the server before a call fails as transient."""

    @model_validator(mode="after")
    def _plain_only_on_loopback(self) -> _ServerSettings:
        if self.security is Security.PLAIN and not is_loopback(self.host):
            raise ValueError(
                f'security = "plain" sends the password unencrypted; it is allowed only for a '
                f'loopback host, not {self.host!r}. Use security = "tls" or "starttls"'
            )
        return self


class ImapSettings(_ServerSettings):
    """``[adapters.imap]``: the IMAP mailbox customers write to."""

    username: str = Field(min_length=1)
    """The login name (for XOAUTH2, the mailbox address the token is for)."""
    auth: str = Field(default="password", pattern="^(password|oauth2)$")
    """``password`` (IMAP LOGIN) or ``oauth2`` (SASL XOAUTH2 with a bearer token)."""
    password: SecretStr | None = None
    """For ``auth = "password"``; a reference: ``{ "$env" = "IMAP_PASSWORD" }``."""
    oauth2_token: SecretStr | None = None
    """For ``auth = "oauth2"``: the access token, by reference (``$env``/``$file``)."""
    oauth2_token_command: list[str] | None = None
    """For ``auth = "oauth2"``: a command printing a fresh access token, run at each login."""
    inbox: str = "INBOX"
    """The folder customer mail arrives in."""
    processed: str = "Processed"
    """Where handled messages are moved (created if missing)."""
    quarantine: str = "Quarantine"
    """Where rejected messages are moved, each followed by a short note with the reason."""
    create_folders: bool = True
    """Create ``processed`` and ``quarantine`` when they are missing."""
    move: str = Field(default="auto", pattern="^(auto|copy)$")
    """``auto``: UID MOVE when the server offers MOVE; ``copy``: always COPY + STORE + UID EXPUNGE."""
    idle: bool = True
    """Use IDLE (push) when the server offers it; otherwise ``wait()`` polls."""
    poll_interval: float = Field(default=15.0, gt=0, le=3600)
    """Seconds between looks at the inbox while waiting without IDLE."""
    idle_renew: float = Field(default=120.0, ge=1, le=1740)
    """Longest IDLE round before the inbox is looked at again (RFC 2177: under 29 minutes)."""

    @model_validator(mode="after")
    def _credentials_match_auth(self) -> ImapSettings:
        if self.auth == "password" and self.password is None:
            raise ValueError(
                'auth = "password" needs password = { "$env" = "VARIABLE" } (or "$file")'
            )
        if self.auth == "oauth2" and (self.oauth2_token is None) == (
            self.oauth2_token_command is None
        ):
            raise ValueError(
                'auth = "oauth2" needs exactly one of oauth2_token = { "$env" = "VARIABLE" } '
                'or oauth2_token_command = ["program", "arg"]'
            )
        if self.oauth2_token_command is not None and not self.oauth2_token_command:
            raise ValueError("oauth2_token_command is empty; give the program and its arguments")
        folders = {"inbox": self.inbox, "processed": self.processed, "quarantine": self.quarantine}
        if len(set(folders.values())) != 3:
            raise ValueError(f"inbox, processed and quarantine must be three folders: {folders}")
        return self


class SmtpSettings(_ServerSettings):
    """``[adapters.smtp]``: the SMTP server our mail is submitted to."""

    username: str | None = None
    """Login for SMTP AUTH; none: send without authenticating."""
    password: SecretStr | None = None
    """The password, by reference: ``{ "$env" = "SMTP_PASSWORD" }``."""
    envelope_sender: str | None = None
    """The envelope sender (MAIL FROM, where bounces go); by default the mail's sender."""
    local_hostname: str | None = None
    """The name we give in EHLO; by default this machine's fully qualified name."""

    @model_validator(mode="after")
    def _password_with_username(self) -> SmtpSettings:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together (or neither, for no SMTP AUTH)")
        return self
