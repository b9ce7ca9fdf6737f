"""``[adapters.jira]``: where Jira is, how pixbridge signs in and how its lifecycle maps to Jira.

Every key has a default so that an installed but unused plugin does not break start-up; the
adapter itself refuses to open (and ``pixbridge doctor`` says which key to set) while ``url``,
``project`` or the credentials are missing.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from pixbridge.adapters import AdapterSettings
from pixbridge.models import RequestStatus
from pixbridge.observability.credentials import CredentialExpiry, ExpiryDate

__all__ = [
    "DEFAULT_PRIORITIES",
    "DEFAULT_STATUSES",
    "DEFAULT_TRANSITIONS",
    "JiraConnection",
    "JiraSettings",
    "WebhookSettings",
    "build_template_sample",
]

DEFAULT_STATUSES: dict[str, str] = {
    RequestStatus.REGISTERED.value: "Open",
    RequestStatus.IN_PROGRESS.value: "In Progress",
    RequestStatus.WAITING_FOR_CUSTOMER.value: "Waiting for customer",
    RequestStatus.COMPLETED.value: "Done",
}
DEFAULT_TRANSITIONS: dict[str, str] = {
    RequestStatus.REGISTERED.value: "Reopen",
    RequestStatus.IN_PROGRESS.value: "Start progress",
    RequestStatus.WAITING_FOR_CUSTOMER.value: "Wait for customer",
    RequestStatus.COMPLETED.value: "Resolve",
}
DEFAULT_PRIORITIES: dict[str, str] = {
    "blocker": "Highest",
    "critical": "Highest",
    "high": "High",
    "normal": "Medium",
    "low": "Low",
}

# pixbridge's names for the facts it may put into custom fields (RequestDraft.fields keys).
FIELD_NAMES = ("serial", "dongle", "os_version", "license", "support_until", "missing")


def build_template_sample(key: str, template: str) -> str:
    """*template* filled with a sample build (``PIX``, ``4.13``), to be checked further.

    :raises ValueError: it names a placeholder other than ``{product}`` and ``{version}``, or
        its braces are unbalanced; the message names *key*.
    """
    try:
        return template.format(product="PIX", version="4.13")
    except (AttributeError, KeyError, IndexError, ValueError) as exc:
        raise ValueError(
            f"{key} {template!r} may use only {{product}} and {{version}} ({exc})"
        ) from None


class JiraConnection(AdapterSettings):
    """Where Jira is and how pixbridge signs in: shared by every adapter of the plugin."""

    table: ClassVar[str] = "jira"
    """The settings table (``[adapters.<table>]``) named in error messages."""

    url: str = ""
    """Base URL of the Jira site, e.g. ``https://pix.atlassian.net`` or ``https://jira.pix.example``."""
    deployment: Literal["cloud", "datacenter"] = "datacenter"
    """``cloud`` (ADF bodies, ``/search/jql``) or ``datacenter`` (Server/DC: wiki markup, ``/search``)."""
    auth: Literal["pat", "api_token", "basic"] = "pat"
    """``pat``: personal access token (DC); ``api_token``: e-mail + API token (Cloud); ``basic``."""
    email: str = ""
    """The account's e-mail (``api_token``) or user name (``basic``)."""
    token: SecretStr | None = None
    """The PAT or API token, by reference: ``token = { "$env" = "JIRA_TOKEN" }``."""
    token_expires: ExpiryDate | None = None
    """When ``token`` expires (``2026-03-31``), so pixbridge warns ahead (``[observability]
    credential_warning_days``): the date shown when the Cloud API token (a year at most) or the
    Data Center personal access token was created, or in the list of tokens."""
    password: SecretStr | None = None
    """The password for ``basic``, by reference."""
    project: str = ""
    """Key of the project requests are created in, e.g. ``SUP``."""
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_attempts: int = 5
    """Attempts per call on 429/5xx before the call fails as transient."""
    backoff: float = 1.0
    """First wait after a 5xx or a connection failure (seconds); doubles, with jitter."""
    max_wait: float = 900.0
    """Longest single wait between attempts (seconds); a longer Retry-After fails the call."""
    issue_write_interval: float = 1.0
    """Least seconds between two writes to one issue (Jira's per-issue write limit)."""
    version_name: str = "{version}"
    """Name of the Jira version of a build: ``{version}`` (``4.13``) or e.g. ``{product} {version}``."""

    @field_validator("url")
    @classmethod
    def _strip_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not a URL; write it like https://jira.example.com")
        return value

    @field_validator("version_name")
    @classmethod
    def _version_pattern(cls, value: str) -> str:
        sample = build_template_sample("version_name", value)
        if "{version}" not in value or sample != sample.strip():
            raise ValueError(
                f"version_name {value!r} must contain {{version}} and not start or end with a space"
            )
        return value

    @model_validator(mode="after")
    def _expiry_needs_token(self) -> JiraConnection:
        if self.token_expires is not None and self.auth == "basic":
            raise ValueError(
                'token_expires is the expiry of token, which auth = "basic" does not use: remove it'
            )
        return self

    def credential_expiries(self) -> list[CredentialExpiry]:
        """The token's expiry (``token_expires``), if set."""
        if self.auth == "basic" or self.token_expires is None:
            return []
        t = f"adapters.{self.table}"
        where = (
            "an API token at https://id.atlassian.com/manage-profile/security/api-tokens"
            if self.auth == "api_token"
            else "a personal access token in Jira (your profile, Personal Access Tokens)"
        )
        renew = f"create {where}, then set {t}.token and its expiry date in {t}.token_expires"
        return [CredentialExpiry(self.table, "token", self.token_expires, "settings", renew)]

    def version_for(self, product: str, version: str) -> str:
        """The Jira version name of build *version* of *product*."""
        return self.version_name.format(product=product, version=version)

    def setup_problems(self) -> list[str]:
        """What must still be set before the adapter can connect, one line each."""
        t = f"adapters.{self.table}"
        problems = []
        if not self.url:
            problems.append(f"{t}.url is not set: the Jira base URL")
        if not self.project:
            problems.append(f"{t}.project is not set: the project key, e.g. SUP")
        if self.auth in ("pat", "api_token") and self.token is None:
            problems.append(f'{t}.token is not set (auth = "{self.auth}")')
        if self.auth == "api_token" and not self.email:
            problems.append(f'{t}.email is not set (auth = "api_token")')
        if self.auth == "basic" and (not self.email or self.password is None):
            problems.append(f'{t}.email and password must be set (auth = "basic")')
        return problems


class WebhookSettings(BaseModel):
    """``[adapters.jira.webhook]``: the optional receiver of Jira's webhooks (see the README).

    An event only says "look at this issue now"; what to mail is still read from Jira, and
    the JQL sync finds everything even if no webhook ever arrives.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    listen: str = "127.0.0.1:8765"
    """``host:port`` to listen on (plain HTTP: put a TLS reverse proxy in front for Jira Cloud)."""
    path: str = "/jira/webhook"
    """URL path Jira posts to; anything else is answered 404."""
    secret: SecretStr | None = None
    """The webhook's secret, by reference: ``secret = { "$env" = "JIRA_WEBHOOK_SECRET" }``."""
    url_secret: bool = True
    """Also accept the secret as ``?secret=`` in the URL (Jira versions that do not sign)."""
    public_url: str = ""
    """The URL Jira posts to (through the proxy), as registered in Jira; used by doctor."""
    max_body: int = Field(default=1024 * 1024, gt=0)
    """Largest event body accepted (bytes); a larger one is answered 413."""

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, _, port = value.strip().rpartition(":")
        if not host or not port.isdigit() or int(port) > 65535:
            raise ValueError(f"{value!r} is not host:port, e.g. 127.0.0.1:8765 or [::1]:8765")
        return value.strip()

    @field_validator("path")
    @classmethod
    def _absolute_path(cls, value: str) -> str:
        if not value.startswith("/") or "?" in value or "#" in value:
            raise ValueError(f"{value!r} is not a URL path; write it like /jira/webhook")
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        value = value.strip()
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(
                f"{value!r} is not a URL; write it like https://pixbridge.example/jira/webhook"
            )
        return value

    @property
    def address(self) -> tuple[str, int]:
        """``listen`` as (host, port); the brackets of an IPv6 host removed."""
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


class JiraSettings(JiraConnection):
    """The settings of the Jira tracker; see the plugin's README for a worked example."""

    issue_type: str = "Task"
    """Name of the issue type of a new request (``Service Request`` on JSM)."""
    fields: dict[str, str] = Field(default_factory=dict)
    """pixbridge fact -> Jira field (id like ``customfield_10050`` or the field's name).

    Facts: ``customer``, ``serial``, ``dongle``, ``os_version``, ``license``, ``support_until``,
    ``missing``. Facts without a field are listed at the top of the description."""
    statuses: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_STATUSES))
    """pixbridge status -> Jira status name."""
    transitions: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_TRANSITIONS))
    """pixbridge status -> name of the Jira transition that reaches it."""
    priorities: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_PRIORITIES))
    """pixbridge priority level -> Jira priority name."""
    resolution: str | None = "Done"
    """Resolution set by the completing transition (``None``: the transition sets none)."""
    internal_comments: Literal["role", "group", "jsm"] = "role"
    """How an internal comment is hidden: a role or group visibility, or JSM's internal flag."""
    internal_visibility: str = "Developers"
    """The role or group that may see internal comments (``role``/``group``)."""
    follows_link_type: str = "Relates"
    """Issue link type from a new request to the completed one it follows."""
    account: str = ""
    """The account pixbridge writes as (DC user name, Cloud account id); empty: asked at start."""
    reconcile_patience: float = 300.0
    """Seconds to look for a request by its marker after an unknown outcome (search lags)."""
    sync_overlap: float = 300.0
    """Seconds the update search reaches back before the watermark (search lag, clock skew)."""
    initial_lookback: float = 86400.0
    """Seconds of history the first sync (no watermark yet) looks at."""
    page_size: int = 50
    """Issues per search page."""
    concurrency: int = 1
    """Requests registered at once by :meth:`JiraTracker.create_requests` (bulk path, bench)."""
    components: list[str] = Field(default_factory=list)
    """Names of the project components every new request is filed under (may be empty)."""
    webhook: WebhookSettings | None = None
    """The webhook receiver (``[adapters.jira.webhook]``); none: changes are found by polling."""

    @field_validator("statuses", "transitions")
    @classmethod
    def _known_statuses(cls, value: dict[str, str]) -> dict[str, str]:
        known = {s.value for s in RequestStatus}
        wrong = sorted(set(value) - known)
        if wrong:
            raise ValueError(f"unknown pixbridge status {wrong}; use {sorted(known)}")
        return value

    @field_validator("fields")
    @classmethod
    def _known_facts(cls, value: dict[str, str]) -> dict[str, str]:
        known = {"customer", *FIELD_NAMES}
        wrong = sorted(set(value) - known)
        if wrong:
            raise ValueError(f"unknown fact {wrong}; use {sorted(known)}")
        return value

    @field_validator("components")
    @classmethod
    def _component_names(cls, value: list[str]) -> list[str]:
        names = [v.strip() for v in value]
        if not all(names):
            raise ValueError("a component name is empty")
        return list(dict.fromkeys(names))

    def setup_problems(self) -> list[str]:
        """What must still be set before the adapter can connect, one line each."""
        problems = super().setup_problems()
        if self.webhook is not None and self.webhook.secret is None:
            problems.append(
                f"adapters.{self.table}.webhook.secret is not set: the secret entered for the "
                'webhook in Jira, by reference: secret = { "$env" = "JIRA_WEBHOOK_SECRET" }'
            )
        return problems

    @model_validator(mode="after")
    def _every_status_mapped(self) -> JiraSettings:
        missing = sorted({s.value for s in RequestStatus} - set(self.statuses))
        if missing:
            raise ValueError(f"statuses has no Jira status for {missing}")
        return self
