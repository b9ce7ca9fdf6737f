"""pixbridge licence validator ``licserver``: asks a remote licensing server over HTTP.

The protocol is Keygen's ``validate-key`` action (https://keygen.sh/docs/api/licenses/)::

    POST {url}/v1/accounts/{account}/licenses/actions/validate-key
    Content-Type: application/vnd.api+json
    {"meta": {"key": "<serial>", "scope": {"fingerprint": "<dongle>", "product": "<id>"}}}

An unknown or refused licence is still HTTP 200 with ``meta.valid = false`` and a ``meta.code``.
Codes map to pixbridge's (:mod:`pixbridge.licensing.codes`): ``NOT_FOUND`` → serial_not_found,
``BANNED``/``SUSPENDED`` → revoked, ``PRODUCT_SCOPE_MISMATCH`` → product_mismatch,
``FINGERPRINT_SCOPE_REQUIRED`` → key_required, ``FINGERPRINT_SCOPE_MISMATCH``/``NO_MACHINE(S)``
→ key_mismatch, ``EXPIRED`` → support_expired (or license_expired with
``expired_means = "license"``). Any other code is indeterminate (``remote_unrecognised``).

The server judges expiry by *its* clock; pixbridge judges it by the message's arrival time, so
for ``VALID`` and ``EXPIRED`` answers the licence's ``expiry`` attribute is compared with
``query.at`` instead.

A timeout, a connection error, HTTP 429, any 5xx or another unexpected answer is
``indeterminate`` with ``adapter_unavailable``: a person decides, it is never a refusal.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from zoneinfo import ZoneInfo

from pydantic import SecretStr

import pixbridge
from pixbridge.adapters import AdapterSettings, LicenseValidator
from pixbridge.models import LicenseQuery, LicenseResult, LicenseVerdict
from pixbridge.registry import AdapterRegistry

# requests is imported by open() and validate(), not here: every pixbridge command imports this
# package at start-up, and most never ask the licensing server.
if TYPE_CHECKING:
    import requests

__all__ = ["RemoteLicenseValidator", "register_adapters"]

_MEDIA = "application/vnd.api+json"
_REFUSALS = {
    "NOT_FOUND": "serial_not_found",
    "BANNED": "revoked",
    "SUSPENDED": "revoked",
    "PRODUCT_SCOPE_MISMATCH": "product_mismatch",
    "PRODUCT_SCOPE_REQUIRED": "product_mismatch",
    "FINGERPRINT_SCOPE_REQUIRED": "key_required",
    "FINGERPRINT_SCOPE_EMPTY": "key_required",
    "FINGERPRINT_SCOPE_MISMATCH": "key_mismatch",
    "NO_MACHINE": "key_mismatch",
    "NO_MACHINES": "key_mismatch",
}
_MAX_KEY = 512
"""Longer "serials" are not sent: no kit has one, and servers refuse huge keys."""


class RemoteLicenseValidator(LicenseValidator):
    """Keygen-style remote licence check; outages are indeterminate, never refusals."""

    name: ClassVar[str] = "licserver"
    secret_fields: ClassVar[tuple[str, ...]] = ("token",)

    class Settings(AdapterSettings):
        """``[adapters.licserver]`` settings."""

        url: str = "https://api.keygen.sh"
        """The server's base URL."""
        account: str = ""
        """The account id or slug in the URL."""
        token: SecretStr | None = None
        """Optional API token (``Authorization: Bearer``); a ``$env``/``$file`` reference."""
        product: str | None = None
        """Product id sent as the validation scope, if the server should check it."""
        timeout: float = 5.0
        """Seconds to wait for the server before the answer is indeterminate."""
        expired_means: Literal["support", "license"] = "support"
        """What the server's ``expiry`` is: the end of support (Keygen ``MAINTAIN_ACCESS``)
        or of the right to use."""
        timezone: str = "UTC"
        """Zone in which the expiry instant is shown as the last day of support."""

    settings: RemoteLicenseValidator.Settings
    _session: requests.Session

    def open(self) -> None:
        """Create the HTTP session (no request is made)."""
        import requests

        self._session = requests.Session()
        self._session.headers.update({"Accept": _MEDIA, "Content-Type": _MEDIA})
        if self.settings.token is not None:
            token = self.settings.token.get_secret_value()
            self._session.headers["Authorization"] = f"Bearer {token}"
        self._zone = ZoneInfo(self.settings.timezone)

    def close(self) -> None:
        """Close the HTTP session."""
        session = getattr(self, "_session", None)
        if session is not None:
            session.close()

    def check(self) -> list[str]:
        """Ask the server about a key that does not exist: anything but an answer is a problem."""
        if not self.settings.account:
            return ["[adapters.licserver] account is not set"]
        if not hasattr(self, "_session"):
            self.open()
        result = self.validate(LicenseQuery(at=datetime.now(UTC), serial="PIXBRIDGE-DOCTOR"))
        if result.verdict is LicenseVerdict.INDETERMINATE:
            return [f"licensing server {self.settings.url}: {dict(result.evidence)}"]
        return []

    @property
    def endpoint(self) -> str:
        """The validate-key URL."""
        base = self.settings.url.rstrip("/")
        return f"{base}/v1/accounts/{self.settings.account}/licenses/actions/validate-key"

    def _unavailable(self, **evidence: str) -> LicenseResult:
        return LicenseResult(
            LicenseVerdict.INDETERMINATE, self.name, ("adapter_unavailable",), evidence=evidence
        )

    def validate(self, query: LicenseQuery) -> LicenseResult:
        """Ask the server about ``query.serial`` and judge its expiry as of ``query.at``."""
        serial = (query.serial or "").strip()
        if not serial or len(serial) > _MAX_KEY:
            return LicenseResult(
                LicenseVerdict.INVALID,
                self.name,
                ("serial_not_found",),
                evidence={"reason": "no usable serial to ask the server about"},
            )
        scope: dict[str, str] = {}
        if query.dongle and query.dongle.strip():
            scope["fingerprint"] = query.dongle.strip()[:_MAX_KEY]
        if self.settings.product:
            scope["product"] = self.settings.product
        body = {"meta": {"key": serial, **({"scope": scope} if scope else {})}}
        import requests  # loaded by open() already

        try:
            response = self._session.post(
                self.endpoint, data=json.dumps(body), timeout=self.settings.timeout
            )
        except requests.Timeout:
            return self._unavailable(error="timeout", timeout=str(self.settings.timeout))
        except requests.RequestException as exc:
            return self._unavailable(error=f"{type(exc).__name__}"[:100])
        request_id = response.headers.get("X-Request-Id", "")
        if response.status_code != 200:
            evidence = {"status": str(response.status_code), "request_id": request_id}
            if "Retry-After" in response.headers:
                evidence["retry_after"] = response.headers["Retry-After"][:40]
            return self._unavailable(**evidence)
        try:
            answer = response.json()
            meta = answer["meta"]
            valid, code = meta["valid"], meta["code"]
            if not isinstance(valid, bool) or not isinstance(code, str):
                raise TypeError("meta.valid / meta.code of the wrong type")
        except (ValueError, KeyError, TypeError) as exc:
            return self._unavailable(error=f"unreadable answer: {exc}"[:200], request_id=request_id)
        return self._judge(query, valid, code, answer)

    def _judge(
        self, query: LicenseQuery, valid: bool, code: str, answer: dict[str, Any]
    ) -> LicenseResult:
        data = answer.get("data") if isinstance(answer.get("data"), dict) else {}
        attributes = data.get("attributes") if isinstance(data, dict) else None
        attributes = attributes if isinstance(attributes, dict) else {}
        expiry = _instant(attributes.get("expiry"))
        evidence = {
            "remote_code": code[:60],
            "detail": str(answer["meta"].get("detail", ""))[:200],
            "license_id": str(data.get("id", ""))[:80] if isinstance(data, dict) else "",
            "serial": str(attributes.get("key", query.serial or ""))[:80],
        }
        until = expiry.astimezone(self._zone).date() if expiry else None
        if code in ("VALID", "EXPIRED") and (valid or code == "EXPIRED"):
            at = query.at if query.at.tzinfo else query.at.replace(tzinfo=UTC)
            if expiry is not None and at.astimezone(UTC) > expiry:
                expired = (
                    "support_expired"
                    if self.settings.expired_means == "support"
                    else "license_expired"
                )
                return LicenseResult(
                    LicenseVerdict.INVALID, self.name, (expired,), False, until, evidence
                )
            return LicenseResult(LicenseVerdict.VALID, self.name, (), True, until, evidence)
        mapped = _REFUSALS.get(code)
        if mapped is None or valid:
            return LicenseResult(
                LicenseVerdict.INDETERMINATE,
                self.name,
                ("remote_unrecognised",),
                support_until=until,
                evidence=evidence,
            )
        return LicenseResult(LicenseVerdict.INVALID, self.name, (mapped,), False, until, evidence)


def _instant(raw: object) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


@pixbridge.hookimpl
def register_adapters(registry: AdapterRegistry) -> None:
    """Register the remote licensing-server validator."""
    registry.add(RemoteLicenseValidator)
