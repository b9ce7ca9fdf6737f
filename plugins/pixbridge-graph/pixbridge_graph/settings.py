"""Settings of the ``graph`` mail source and the ``graph-sender`` mail sender.

Both tables carry the same connection keys (tenant, app, credentials, mailbox). Every key has a
default so that an installed but unused plugin never breaks start-up; the adapter refuses to
open, and ``pixbridge doctor`` names the key to set, while the tenant, app, credentials or
mailbox are missing.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from pixbridge.adapters import AdapterSettings
from pixbridge.observability.credentials import ExpiryDate

__all__ = ["GraphConnectionSettings", "GraphSenderSettings", "GraphSourceSettings"]

WELL_KNOWN_FOLDERS = frozenset(
    {"inbox", "archive", "drafts", "sentitems", "deleteditems", "junkemail", "msgfolderroot"}
)
"""Graph's well-known folder names that pixbridge accepts as the first segment of a folder path."""


def _https_url(value: str, key: str) -> str:
    value = value.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(f"{key} must be an https URL such as the default, not {value!r}")
    return value


class GraphConnectionSettings(AdapterSettings):
    """Where Exchange Online is, which app signs in, and which mailbox it works on."""

    tenant_id: str = ""
    """The Entra ID (Azure AD) tenant: its GUID or a domain such as ``pix.onmicrosoft.com``."""
    client_id: str = ""
    """The application (client) id of the app registration."""
    client_secret: SecretStr | None = None
    """The app's client secret, by reference: ``client_secret = { "$env" = "GRAPH_SECRET" }``."""
    client_secret_expires: ExpiryDate | None = None
    """When ``client_secret`` expires (``2026-03-31``), as the app registration shows it under
    Certificates & secrets; pixbridge warns ahead (``[observability] credential_warning_days``).
    Written by hand because an app signing in with client credentials cannot read its own
    secrets' expiry without a further Graph permission (Application.Read.All)."""
    certificate_file: Path | None = None
    """Instead of a secret: a PEM file holding the app's certificate and its private key.

    Its expiry (the certificate's notAfter) is read from the file and warned of ahead."""
    certificate_password: SecretStr | None = None
    """The password of the private key in ``certificate_file``, by reference, if it has one."""
    mailbox: str = ""
    """The support mailbox: its user principal name (``support@pix.example``) or user id."""
    authority_host: str = "https://login.microsoftonline.com"
    """Where tokens come from (national clouds: ``https://login.microsoftonline.us``...)."""
    graph_url: str = "https://graph.microsoft.com/v1.0"
    """Microsoft Graph's base URL with the API version."""
    tls_ca_file: Path | None = None
    """A CA bundle to verify TLS against instead of the system's (a TLS-inspecting proxy)."""
    connect_timeout: float = Field(default=10.0, gt=0, le=120)
    read_timeout: float = Field(default=60.0, gt=0, le=600)
    max_concurrency: int = Field(default=4, ge=1, le=4)
    """Requests in flight at once to the mailbox; Graph allows 4 per app and mailbox."""
    max_attempts: int = Field(default=5, ge=1, le=20)
    """Attempts per call on 429 and 5xx before the call fails as transient."""
    backoff: float = Field(default=1.0, ge=0, le=60)
    """First wait after a 5xx or a lost connection (seconds); doubles, with jitter."""
    max_wait: float = Field(default=300.0, gt=0, le=3600)
    """Longest wait inside one call; a longer ``Retry-After`` fails the call as transient."""

    @field_validator("authority_host")
    @classmethod
    def _authority_is_https(cls, value: str) -> str:
        return _https_url(value, "authority_host")

    @field_validator("graph_url")
    @classmethod
    def _graph_is_https(cls, value: str) -> str:
        return _https_url(value, "graph_url")

    @field_validator("tenant_id", "client_id", "mailbox")
    @classmethod
    def _no_blanks(cls, value: str) -> str:
        value = value.strip()
        if any(c.isspace() or c in "/?#" for c in value):
            raise ValueError(f"{value!r} contains white space or one of / ? #")
        return value

    @model_validator(mode="after")
    def _one_credential(self) -> GraphConnectionSettings:
        if self.client_secret is not None and self.certificate_file is not None:
            raise ValueError("set client_secret or certificate_file, not both")
        if self.client_secret_expires is not None and self.certificate_file is not None:
            raise ValueError(
                "client_secret_expires is the expiry of client_secret; with certificate_file "
                "the expiry is read from the certificate: remove client_secret_expires"
            )
        return self

    @property
    def scope(self) -> str:
        """The client-credentials scope: every application permission granted on Graph."""
        parts = urlsplit(self.graph_url)
        return f"{parts.scheme}://{parts.netloc}/.default"

    def setup_problems(self, table: str) -> list[str]:
        """What must still be set before the adapter can connect, one line each."""
        problems = []
        if not self.tenant_id:
            problems.append(f"adapters.{table}.tenant_id is not set: the Entra ID tenant id")
        if not self.client_id:
            problems.append(f"adapters.{table}.client_id is not set: the app's client id")
        if self.client_secret is None and self.certificate_file is None:
            problems.append(
                f'adapters.{table}.client_secret is not set: client_secret = {{ "$env" = '
                '"GRAPH_CLIENT_SECRET" }, or certificate_file = "/path/app.pem"'
            )
        if self.certificate_file is not None and not self.certificate_file.is_file():
            problems.append(
                f"adapters.{table}.certificate_file: {self.certificate_file} is missing"
            )
        if not self.mailbox:
            problems.append(f"adapters.{table}.mailbox is not set: e.g. support@pix.example")
        return problems


class GraphSourceSettings(GraphConnectionSettings):
    """``[adapters.graph]``: the Exchange Online mailbox customers write to."""

    folder: str = "inbox"
    """The folder customer mail arrives in: a well-known name or a path like ``Inbox/Support``."""
    processed_folder: str = "Processed"
    """Where handled messages are moved: a top-level folder, or a path like ``Inbox/Done``."""
    quarantine_folder: str = "Quarantine"
    """Where rejected messages are moved, tagged with a category and the reason."""
    create_folders: bool = True
    """Create the processed and quarantine folders when they are missing."""
    quarantine_category: str = "pixbridge: quarantined"
    """Outlook category put on a quarantined message, so people see why it is there."""
    poll_interval: float = Field(default=30.0, gt=0, le=3600)
    """Seconds ``wait()`` sleeps between delta queries (Graph has no push without a webhook)."""
    page_size: int = Field(default=50, ge=1, le=1000)
    """Messages per delta page (``Prefer: odata.maxpagesize``)."""

    @field_validator("folder", "processed_folder", "quarantine_folder")
    @classmethod
    def _folder_path(cls, value: str) -> str:
        segments = [s.strip() for s in value.strip().strip("/").split("/")]
        if not all(segments):
            raise ValueError(f"{value!r} is not a folder path; write it like Inbox/Processed")
        return "/".join(segments)

    @model_validator(mode="after")
    def _three_folders(self) -> GraphSourceSettings:
        names = [self.folder.casefold(), self.processed_folder.casefold()]
        names.append(self.quarantine_folder.casefold())
        if len(set(names)) != 3:
            raise ValueError(
                "folder, processed_folder and quarantine_folder must be three different folders"
            )
        return self


class GraphSenderSettings(GraphConnectionSettings):
    """``[adapters.graph-sender]``: sending our mail as the support mailbox."""

    check_sent_items: bool = True
    """Before sending, look for the Message-ID in Sent Items and skip a message already sent."""
