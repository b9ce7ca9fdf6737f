"""Settings of the ``exchange`` mail source and the ``exchange-sender`` mail sender.

Nothing is discovered: the EWS endpoint, the server version and the authentication method are
all written down, so exchangelib sends no autodiscover, version-guessing or auth-sniffing
requests. Every key has a default so that an installed but unused plugin does not break
start-up; :meth:`ExchangeSettings.missing` says which keys a configured mailbox still needs,
and the adapters refuse to open (``pixbridge doctor`` says why) until they are set.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from pixbridge.adapters import AdapterSettings
from pixbridge.observability.credentials import CredentialExpiry, ExpiryDate

__all__ = ["SERVER_VERSIONS", "ExchangeSettings", "SenderSettings", "SourceSettings"]

SERVER_VERSIONS: dict[str, tuple[int, int, int]] = {
    "Exchange2010": (14, 0, 0),
    "Exchange2010_SP1": (14, 1, 0),
    "Exchange2010_SP2": (14, 2, 0),
    "Exchange2013": (15, 0, 0),
    "Exchange2013_SP1": (15, 0, 847),
    "Exchange2016": (15, 1, 0),
    "Exchange2019": (15, 2, 0),
}
"""Server version name -> (major, minor, build) of the earliest build of that version."""


class ExchangeSettings(AdapterSettings):
    """Where the Exchange server is and how pixbridge signs in; shared by source and sender."""

    service_endpoint: str = ""
    """The EWS URL, e.g. ``https://mail.example.com/EWS/Exchange.asmx``."""
    server_version: str = "Exchange2016"
    """The server's version: one of :data:`SERVER_VERSIONS` (Exchange 2019 speaks Exchange2016)."""
    server_build: str | None = None
    """The exact build (``15.1.2507.6``) if known; else the version's first build is assumed."""
    auth: Literal["ntlm", "basic", "oauth2"] = "ntlm"
    """``ntlm`` (on-premises default), ``basic`` (over TLS only) or ``oauth2`` (client credentials)."""
    username: str = ""
    """For ``ntlm`` (``DOMAIN\\user`` or ``user@domain``) and ``basic``."""
    password: SecretStr | None = None
    """For ``ntlm`` and ``basic``, by reference: ``{ "$env" = "EWS_PASSWORD" }``."""
    oauth2_client_id: str = ""
    """For ``oauth2``: the application (client) id."""
    oauth2_tenant_id: str = ""
    """For ``oauth2``: the tenant id."""
    oauth2_client_secret: SecretStr | None = None
    """For ``oauth2``: the client secret, by reference."""
    oauth2_client_secret_expires: ExpiryDate | None = None
    """For ``oauth2``: when the client secret expires (``2026-03-31``), as the app registration
    shows it under Certificates & secrets; pixbridge warns ahead (``[observability]
    credential_warning_days``). Written by hand: the app cannot read its own secrets' expiry
    without a further permission."""
    mailbox: str = ""
    """The mailbox's primary SMTP address, e.g. ``support@example.com``."""
    timeout: float = Field(default=60.0, gt=0, le=600)
    """Seconds to wait for one EWS response."""
    max_attempts: int = Field(default=5, ge=1, le=20)
    """Attempts per EWS call on ``ErrorServerBusy`` or a transport error before giving up."""
    backoff: float = Field(default=1.0, gt=0, le=600)
    """First wait (seconds) after a transport error; doubles, with jitter."""
    server_busy_wait: float = Field(default=10.0, gt=0, le=3600)
    """Wait (seconds) after ``ErrorServerBusy`` when the server names no BackOffMilliseconds."""
    max_wait: float = Field(default=300.0, gt=0, le=3600)
    """Longest single wait; a server asking for more makes the call fail as transient."""

    @field_validator("service_endpoint")
    @classmethod
    def _endpoint_is_url(cls, value: str) -> str:
        value = value.strip()
        if value and not value.startswith(("https://", "http://")):
            raise ValueError(
                f"{value!r} is not a URL; write it like https://mail.example.com/EWS/Exchange.asmx"
            )
        return value

    @field_validator("server_version")
    @classmethod
    def _known_version(cls, value: str) -> str:
        if value not in SERVER_VERSIONS:
            raise ValueError(
                f"unknown server_version {value!r}; use one of {list(SERVER_VERSIONS)}"
            )
        return value

    @field_validator("server_build")
    @classmethod
    def _build_numbers(cls, value: str | None) -> str | None:
        if value is not None:
            parts = value.split(".")
            if not 2 <= len(parts) <= 4 or not all(p.isdigit() for p in parts):
                raise ValueError(f"server_build {value!r} is not like 15.1.2507.6")
        return value

    @model_validator(mode="after")
    def _expiry_needs_oauth2(self) -> ExchangeSettings:
        if self.oauth2_client_secret_expires is not None and self.auth != "oauth2":
            raise ValueError(
                f'oauth2_client_secret_expires is for auth = "oauth2", not "{self.auth}": remove it'
            )
        return self

    def credential_expiries(self, table: str) -> list[CredentialExpiry]:
        """The OAuth2 client secret's expiry, if set (``[adapters.<table>]``)."""
        expires = self.oauth2_client_secret_expires
        if self.auth != "oauth2" or expires is None:
            return []
        t = f"adapters.{table}"
        renew = (
            "add a new client secret to the app registration (Certificates & secrets), then set "
            f"{t}.oauth2_client_secret and its expiry date in {t}.oauth2_client_secret_expires"
        )
        return [CredentialExpiry(table, "oauth2_client_secret", expires, "settings", renew)]

    def build(self) -> tuple[int, int, int, int]:
        """The server build as four numbers, from ``server_build`` or ``server_version``."""
        if self.server_build is not None:
            numbers = [int(p) for p in self.server_build.split(".")]
            numbers += [0] * (4 - len(numbers))
            return (numbers[0], numbers[1], numbers[2], numbers[3])
        major, minor, build = SERVER_VERSIONS[self.server_version]
        return (major, minor, build, 0)

    def missing(self) -> list[str]:
        """What must still be set before the mailbox can be used (empty when complete)."""
        problems = []
        if not self.service_endpoint:
            problems.append(
                'service_endpoint is not set (e.g. "https://mail.example.com/EWS/Exchange.asmx")'
            )
        if not self.mailbox:
            problems.append('mailbox is not set (the primary SMTP address, "support@example.com")')
        if self.auth in ("ntlm", "basic"):
            if not self.username:
                problems.append(f'auth = "{self.auth}" needs username')
            if self.password is None:
                problems.append(f'auth = "{self.auth}" needs password = {{ "$env" = "VARIABLE" }}')
        else:
            for key in ("oauth2_client_id", "oauth2_tenant_id"):
                if not getattr(self, key):
                    problems.append(f'auth = "oauth2" needs {key}')
            if self.oauth2_client_secret is None:
                problems.append(
                    'auth = "oauth2" needs oauth2_client_secret = { "$env" = "VARIABLE" }'
                )
        return problems


class SourceSettings(ExchangeSettings):
    """``[adapters.exchange]``: the mailbox customers write to."""

    folder: str = "inbox"
    """The folder mail is taken from: ``inbox``, or a path below the mailbox's top folder
    (``Support/Incoming``); a path starting with ``inbox/`` is below the Inbox, whatever its
    display language."""
    processed: str = "Processed"
    """Where handled messages are moved (same path rules; created if missing)."""
    quarantine: str = "Quarantine"
    """Where rejected messages are moved, marked with a category naming the reason."""
    create_folders: bool = True
    """Create ``processed`` and ``quarantine`` when they are missing."""
    notifications: Literal["pull", "poll"] = "pull"
    """``pull``: a pull subscription on the folder wakes ``wait()``; ``poll``: list the folder."""
    poll_interval: float = Field(default=5.0, gt=0, le=3600)
    """Seconds between looks at the subscription (or the folder) while waiting."""
    subscription_timeout: int = Field(default=10, ge=1, le=1440)
    """Minutes the server keeps a pull subscription alive without being asked for events."""
    page_size: int = Field(default=100, ge=1, le=1000)
    """Item ids per FindItem page."""

    @model_validator(mode="after")
    def _three_folders(self) -> SourceSettings:
        folders = {"folder": self.folder, "processed": self.processed}
        folders["quarantine"] = self.quarantine
        if len({f.strip("/").lower() for f in folders.values()}) != 3:
            raise ValueError(f"folder, processed and quarantine must be three folders: {folders}")
        if any(not f.strip("/") for f in folders.values()):
            raise ValueError(f"a folder path is empty: {folders}")
        return self


class SenderSettings(ExchangeSettings):
    """``[adapters.exchange-sender]``: the mailbox our mail is sent from (kept in Sent Items)."""

    dedupe: bool = True
    """Before sending, look in Sent Items for the Message-ID, so a resend after a crash is a no-op."""
