"""The default licence check: a TOML registry file of product kits kept by the vendor.

Each ``[[kit]]`` table describes one kit sold: its serial number, product, customer, the
customer's contact addresses and mail domains, the hardware key (dongle) id and the support
certificate's window. See ``settings/licenses.toml`` for a commented example.

Rules, in the order the codes are reported (most severe first):

``serial_not_found``
    No kit has the serial (or, without a serial, none matches the customer's address).
``revoked``
    The kit is marked ``revoked = true`` (refund, stolen kit).
``product_mismatch``
    The query names a product and the kit is for another one.
``key_required``
    Only with ``require_dongle = true``: the kit has a dongle but the query gives no dongle id.
    Off by default, because over e-mail a dongle id is a claim customers rarely quote.
``key_mismatch``
    The query gives a dongle id and the kit has a different one. A kit without a registered
    dongle cannot be contradicted, so it never mismatches.
``support_not_started`` / ``support_expired``
    The date of ``query.at`` in the configured time zone is before ``support_from`` or after
    ``support_until``; both days are inclusive.

Serials and dongle ids are compared normalised: surrounding blanks, inner spaces and dashes are
ignored and letters are upper-cased, so ``ptm 2024-0017`` finds ``PTM-2024-0017``. Without a
serial the kit is looked up by the customer's address in ``contacts``, then by its domain in
``domains`` (exact domain, not subdomains); when several kits match the result is
``indeterminate`` with ``serial_ambiguous`` and the candidates in the evidence, so an agent asks.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import parseaddr
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import field_validator

from pixbridge.adapters import AdapterSettings, LicenseValidator
from pixbridge.errors import PermanentAdapterError
from pixbridge.markers import hookimpl
from pixbridge.models import LicenseQuery, LicenseResult, LicenseVerdict
from pixbridge.registry import AdapterRegistry

__all__ = ["Kit", "RegistryLicenseValidator", "load_registry", "normalise_serial"]

_KIT_KEYS = frozenset(
    {"serial", "product", "customer", "contacts", "domains", "dongle", "support_from",
     "support_until", "level", "revoked"}
)  # fmt: skip
_IGNORED = re.compile(r"[\s\-\u2010-\u2015]+")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def normalise_serial(value: str) -> str:
    """*value* without blanks or dashes, upper-cased: how serials and dongle ids are compared."""
    return _IGNORED.sub("", value).upper()


def _clean(value: str, limit: int = 80) -> str:
    """Customer-supplied text made safe for evidence: no control characters, bounded length."""
    return _UNPRINTABLE.sub("", value)[:limit]


@dataclass(frozen=True)
class Kit:
    """One product kit of the registry."""

    serial: str
    product: str
    customer: str
    contacts: frozenset[str]
    domains: frozenset[str]
    dongle: str | None
    support_from: date | None
    support_until: date
    level: str
    revoked: bool


def _date(raw: dict[str, Any], key: str, problems: list[str], where: str) -> date | None:
    value = raw.get(key)
    # TOML datetimes are `date` subclasses; a time of day would make the window ambiguous.
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    problems.append(f"{where}: {key} = {value!r} is not a date; write it as YYYY-MM-DD")
    return None


def _strings(raw: dict[str, Any], key: str, problems: list[str], where: str) -> list[str]:
    value = raw.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(f"{where}: {key} must be a list of strings")
        return []
    return [v.strip().lower() for v in value if v.strip()]


def _parse_kit(raw: dict[str, Any], where: str, problems: list[str]) -> Kit | None:
    start = len(problems)
    unknown = sorted(set(raw) - _KIT_KEYS)
    if unknown:
        problems.append(f"{where}: unknown key(s) {', '.join(unknown)}")
    for key in ("serial", "product", "customer", "dongle", "level"):
        if key in raw and not isinstance(raw[key], str):
            problems.append(f"{where}: {key} must be a string")
    serial = raw.get("serial")
    if not isinstance(serial, str) or not normalise_serial(serial):
        problems.append(f"{where}: serial is missing; every kit needs its serial number")
    if not isinstance(raw.get("revoked", False), bool):
        problems.append(f"{where}: revoked must be true or false")
    contacts = _strings(raw, "contacts", problems, where)
    problems.extend(
        f"{where}: contact {c!r} is not an e-mail address" for c in contacts if "@" not in c
    )
    domains = [d.lstrip("@") for d in _strings(raw, "domains", problems, where)]
    support_from = _date(raw, "support_from", problems, where)
    support_until = _date(raw, "support_until", problems, where)
    if support_until is None and "support_until" not in raw:
        problems.append(f"{where}: support_until is missing; give the certificate's last day")
    if support_from and support_until and support_from > support_until:
        problems.append(
            f"{where}: support_from {support_from} is after support_until {support_until}"
        )
    if len(problems) > start or serial is None or support_until is None:
        return None
    dongle = raw.get("dongle") or None
    return Kit(
        serial=serial.strip(),
        product=raw.get("product", "").strip(),
        customer=raw.get("customer", "").strip(),
        contacts=frozenset(contacts),
        domains=frozenset(domains),
        dongle=dongle.strip() if dongle else None,
        support_from=support_from,
        support_until=support_until,
        level=raw.get("level", "standard").strip(),
        revoked=raw.get("revoked", False),
    )


def load_registry(path: Path) -> tuple[dict[str, Kit], list[str]]:
    """Read the registry at *path*: the kits by normalised serial, and every problem found."""
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        return {}, [f"{path}: licence registry not found; set [adapters.registry] path"]
    except (OSError, tomllib.TOMLDecodeError) as exc:
        return {}, [f"{path}: cannot read the licence registry: {exc}"]
    problems = [
        f"{path}: unknown top-level key {k!r}; kits go in [[kit]] tables"
        for k in data
        if k != "kit"
    ]
    raw_kits = data.get("kit", [])
    if not isinstance(raw_kits, list):
        return {}, [*problems, f"{path}: `kit` must be an array of tables, written [[kit]]"]
    kits: dict[str, Kit] = {}
    first_seen: dict[str, int] = {}
    for number, raw in enumerate(raw_kits, start=1):
        if not isinstance(raw, dict):
            problems.append(f"{path}: [[kit]] #{number} is not a table")
            continue
        label = f" (serial {raw['serial']!r})" if isinstance(raw.get("serial"), str) else ""
        where = f"{path}: [[kit]] #{number}{label}"
        kit = _parse_kit(raw, where, problems)
        if kit is None:
            continue
        key = normalise_serial(kit.serial)
        if key in kits:
            problems.append(
                f"{where}: duplicate serial, already used by [[kit]] #{first_seen[key]}"
            )
            continue
        kits[key], first_seen[key] = kit, number
    return kits, problems


class RegistryLicenseValidator(LicenseValidator):
    """Checks serial, dongle and support window against the vendor's registry file."""

    name: ClassVar[str] = "registry"

    class Settings(AdapterSettings):
        """``[adapters.registry]`` settings."""

        path: Path = Path("settings/licenses.toml")
        """The registry file; a relative path is resolved against the current directory."""
        timezone: str = "UTC"
        """IANA zone the support dates are meant in (e.g. ``Europe/Moscow``)."""
        require_dongle: bool = False
        """Report ``key_required`` when a kit has a dongle and the query names none."""

        @field_validator("timezone")
        @classmethod
        def _known_zone(cls, value: str) -> str:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown time zone {value!r}; use an IANA name") from exc
            return value

    settings: RegistryLicenseValidator.Settings

    def open(self) -> None:
        """Load and validate the registry; every problem is reported in one error."""
        self._path = self.settings.path.absolute()
        self._zone = ZoneInfo(self.settings.timezone)
        kits, problems = load_registry(self._path)
        if problems:
            raise PermanentAdapterError("\n".join(problems))
        self._kits = kits

    def check(self) -> list[str]:
        """The problems of the registry file as it is on disk now."""
        return load_registry(self.settings.path.absolute())[1]

    def validate(self, query: LicenseQuery) -> LicenseResult:
        """Check *query* against the registry as of ``query.at`` (naive times are taken as UTC)."""
        if not hasattr(self, "_kits"):
            raise PermanentAdapterError("the registry licence validator was used before open()")
        at = query.at if query.at.tzinfo else query.at.replace(tzinfo=UTC)
        today = at.astimezone(self._zone).date()
        kits, matched_by = self._lookup(query)
        if len(kits) > 1:
            return LicenseResult(
                LicenseVerdict.INDETERMINATE,
                self.name,
                ("serial_ambiguous",),
                evidence={
                    "matched_by": matched_by,
                    "candidates": ", ".join(k.serial for k in kits),
                },
            )
        if not kits:
            evidence = {"matched_by": matched_by, "serial": _clean(query.serial or "")}
            return LicenseResult(
                LicenseVerdict.INVALID, self.name, ("serial_not_found",), evidence=evidence
            )
        kit = kits[0]
        codes = self._codes(kit, query, today)
        return LicenseResult(
            LicenseVerdict.INVALID if codes else LicenseVerdict.VALID,
            self.name,
            codes,
            support_allowed=not codes,
            support_until=kit.support_until,
            evidence={
                "serial": kit.serial,
                "product": kit.product,
                "customer": kit.customer,
                "dongle": kit.dongle or "",
                "level": kit.level,
                "support_from": kit.support_from.isoformat() if kit.support_from else "",
                "support_until": kit.support_until.isoformat(),
                "checked_on": f"{today.isoformat()} {self.settings.timezone}",
                "matched_by": matched_by,
            },
        )

    def _lookup(self, query: LicenseQuery) -> tuple[list[Kit], str]:
        if query.serial and normalise_serial(query.serial):
            kit = self._kits.get(normalise_serial(query.serial))
            return ([kit] if kit else []), "serial"
        address = parseaddr(query.customer or "")[1].strip().lower()
        if "@" not in address:
            return [], "none"
        by_contact = [k for k in self._kits.values() if address in k.contacts]
        if by_contact:
            return by_contact, "contact"
        domain = address.rpartition("@")[2]
        return [k for k in self._kits.values() if domain in k.domains], "domain"

    def _codes(self, kit: Kit, query: LicenseQuery, today: date) -> tuple[str, ...]:
        codes: list[str] = []
        if kit.revoked:
            codes.append("revoked")
        wanted = " ".join((query.product or "").split()).casefold()
        if wanted and kit.product and wanted != " ".join(kit.product.split()).casefold():
            codes.append("product_mismatch")
        claimed = normalise_serial(query.dongle or "")
        if kit.dongle and not claimed and self.settings.require_dongle:
            codes.append("key_required")
        if kit.dongle and claimed and claimed != normalise_serial(kit.dongle):
            codes.append("key_mismatch")
        if kit.support_from and today < kit.support_from:
            codes.append("support_not_started")
        if today > kit.support_until:
            codes.append("support_expired")
        return tuple(codes)


@hookimpl
def register_adapters(registry: AdapterRegistry) -> None:
    """Register the registry-file licence validator."""
    registry.add(RegistryLicenseValidator)
