"""Licence check by signed support certificates (see :mod:`pixbridge.licensing.certificate`).

Certificates come from two places: attached to the customer's mail (``LicenseQuery.certificates``)
and a directory of stored certificates the vendor keeps (``[adapters.certificate] directory``,
files ``*.pixcert``), found by serial or, without one, by the customer's address or domain.

Each certificate is checked in this order, the first failing step giving its code:
``cert_malformed`` → ``cert_untrusted_key`` (``kid`` not in ``trusted_keys``) →
``cert_bad_signature`` → ``cert_revoked`` (``cert_id`` on the revocation list) →
``product_mismatch`` → ``key_mismatch`` (the dongle the customer names is not the certificate's)
→ ``cert_not_yet_valid`` (issued, or support starting, after the message arrived; issue times
get ``clock_skew_seconds`` of slack) → ``license_expired`` → ``support_expired``.

An attached certificate for another serial than the one the customer quotes is ignored (noted in
the evidence). When several certificates apply (a renewal beside the old one) the valid one wins,
else the one whose support ends last. Without any applicable certificate the answer is
``serial_not_found``, together with the codes of attached certificates that failed to verify.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import ClassVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import Field, field_validator

from pixbridge.adapters import AdapterSettings, LicenseValidator
from pixbridge.builtins.registry_license import normalise_serial
from pixbridge.errors import PermanentAdapterError
from pixbridge.licensing.certificate import (
    EXTENSION,
    CertificateError,
    SupportCertificate,
    parse_public_key,
    read_certificate,
)
from pixbridge.licensing.codes import Code, ordered
from pixbridge.markers import hookimpl
from pixbridge.models import LicenseQuery, LicenseResult, LicenseVerdict
from pixbridge.registry import AdapterRegistry

__all__ = ["CertificateLicenseValidator", "load_revocations"]

log = logging.getLogger("pixbridge.adapter.certificate")


def load_revocations(path: Path) -> frozenset[str]:
    """Certificate ids in the revocation list at *path*: one per line, ``#`` starts a comment."""
    ids = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = line.split("#", 1)[0].strip().lower()
        if entry:
            ids.add(entry)
    return frozenset(ids)


class CertificateLicenseValidator(LicenseValidator):
    """Checks Ed25519-signed support certificates, attached to mail or stored by the vendor."""

    name: ClassVar[str] = "certificate"

    class Settings(AdapterSettings):
        """``[adapters.certificate]`` settings."""

        trusted_keys: dict[str, str] = Field(default_factory=dict)
        """Key id to public key (64 hex digits). Remove a key id to distrust what it signed."""
        revocation_list: Path | None = None
        """File of revoked certificate ids, one per line (``#`` comments)."""
        directory: Path | None = None
        """Folder of stored certificates (``*.pixcert``), looked up by serial or contact."""
        clock_skew_seconds: int = Field(default=300, ge=0)
        """How far in the future a certificate's ``issued_at`` may be (clocks differ)."""

        @field_validator("trusted_keys")
        @classmethod
        def _keys(cls, value: dict[str, str]) -> dict[str, str]:
            for kid, key in value.items():
                try:
                    parse_public_key(key)
                except ValueError as exc:
                    raise ValueError(f"trusted_keys.{kid}: {exc}") from None
            return value

    settings: CertificateLicenseValidator.Settings

    def open(self) -> None:
        """Load the trust store, the revocation list and the stored certificates."""
        self._trusted: dict[str, Ed25519PublicKey] = {
            kid: parse_public_key(key) for kid, key in self.settings.trusted_keys.items()
        }
        self._revoked: frozenset[str] = frozenset()
        path = self.settings.revocation_list
        if path is not None:
            try:
                self._revoked = load_revocations(path.absolute())
            except OSError as exc:
                raise PermanentAdapterError(
                    f"{path}: cannot read the certificate revocation list ({exc}); "
                    "fix [adapters.certificate] revocation_list"
                ) from None
        self._stored, self._problems = self._load_directory()

    def _load_directory(self) -> tuple[list[tuple[str, bytes, SupportCertificate]], list[str]]:
        folder = self.settings.directory
        if folder is None:
            return [], []
        if not folder.is_dir():
            return [], [f"{folder}: certificate directory not found; fix [adapters.certificate]"]
        stored, problems = [], []
        for path in sorted(folder.glob(f"*{EXTENSION}")):
            data = path.read_bytes()
            try:
                stored.append((path.name, data, read_certificate(data, self._trusted)))
            except CertificateError as exc:
                problems.append(f"{path}: {exc.code.value}: {exc}")
        for problem in problems:
            log.warning("stored certificate skipped: %s", problem)
        return stored, problems

    def check(self) -> list[str]:
        """Stored certificates that do not verify, and an unreadable directory."""
        if not hasattr(self, "_trusted"):
            self.open()
        return list(self._problems)

    def validate(self, query: LicenseQuery) -> LicenseResult:
        """Check the certificates that apply to *query* as of ``query.at``."""
        if not hasattr(self, "_trusted"):
            raise PermanentAdapterError("the certificate validator was used before open()")
        at = (query.at if query.at.tzinfo else query.at.replace(tzinfo=UTC)).astimezone(UTC)
        wanted = normalise_serial(query.serial or "")
        failures: list[LicenseResult] = []
        candidates: list[tuple[str, SupportCertificate]] = []
        ignored = 0
        for number, data in enumerate(query.certificates, start=1):
            try:
                cert = read_certificate(data, self._trusted)
            except CertificateError as exc:
                failures.append(self._failure(exc, f"attachment {number}"))
                continue
            if wanted and normalise_serial(cert.serial) != wanted:
                ignored += 1
                continue
            candidates.append((f"attachment {number}", cert))
        stored = self._lookup(wanted, query.customer or "", {c.cert_id for _, c in candidates})
        if isinstance(stored, LicenseResult):
            return stored
        candidates += stored
        results = [self._judge(cert, origin, query, at) for origin, cert in candidates]
        if results:
            best = max(results, key=_preference)
            if ignored:
                best = _with_evidence(best, ignored_attachments=str(ignored))
            return best
        codes = ordered([Code.SERIAL_NOT_FOUND, *(c for f in failures for c in f.codes)])
        evidence = dict(failures[0].evidence) if failures else {}
        evidence["serial"] = _clean(query.serial or "")
        if ignored:
            evidence["ignored_attachments"] = str(ignored)
        return LicenseResult(LicenseVerdict.INVALID, self.name, codes, evidence=evidence)

    def _lookup(
        self, wanted: str, customer: str, seen: set[str]
    ) -> list[tuple[str, SupportCertificate]] | LicenseResult:
        if wanted:
            found = [(n, c) for n, _, c in self._stored if normalise_serial(c.serial) == wanted]
        else:
            address = parseaddr(customer)[1].strip().lower()
            if "@" not in address:
                return []
            domain = address.rpartition("@")[2]
            found = [(n, c) for n, _, c in self._stored if address in c.emails]
            found = found or [(n, c) for n, _, c in self._stored if domain in c.domains]
            serials = sorted({c.serial for _, c in found})
            if len(serials) > 1:
                return LicenseResult(
                    LicenseVerdict.INDETERMINATE,
                    self.name,
                    (Code.SERIAL_AMBIGUOUS.value,),
                    evidence={"candidates": ", ".join(serials)},
                )
        return [(f"stored {name}", c) for name, c in found if c.cert_id not in seen]

    def _failure(self, exc: CertificateError, origin: str) -> LicenseResult:
        return LicenseResult(
            LicenseVerdict.INVALID,
            self.name,
            (exc.code.value,),
            evidence={"origin": origin, "problem": str(exc)[:200]},
        )

    def _judge(
        self, cert: SupportCertificate, origin: str, query: LicenseQuery, at: datetime
    ) -> LicenseResult:
        codes: list[str] = []
        if cert.cert_id.lower() in self._revoked:
            codes.append(Code.CERT_REVOKED)
        wanted = " ".join((query.product or "").split()).casefold()
        if wanted and wanted != " ".join(cert.product.split()).casefold():
            codes.append(Code.PRODUCT_MISMATCH)
        claimed = normalise_serial(query.dongle or "")
        if cert.dongle and claimed and claimed != normalise_serial(cert.dongle):
            codes.append(Code.KEY_MISMATCH)
        second = at.replace(microsecond=0)
        skew = timedelta(seconds=self.settings.clock_skew_seconds)
        if second < cert.support_not_before or cert.issued_at - skew > second:
            codes.append(Code.CERT_NOT_YET_VALID)
        if cert.license_not_after is not None and second > cert.license_not_after:
            codes.append(Code.LICENSE_EXPIRED)
        if second > cert.support_not_after:
            codes.append(Code.SUPPORT_EXPIRED)
        return LicenseResult(
            LicenseVerdict.INVALID if codes else LicenseVerdict.VALID,
            self.name,
            ordered(codes),
            support_allowed=not codes,
            support_until=cert.support_until,
            evidence={
                "cert_id": cert.cert_id,
                "kid": cert.kid,
                "origin": origin,
                "serial": cert.serial,
                "product": cert.product,
                "customer": cert.customer,
                "dongle": cert.dongle or "",
                "level": cert.level,
                "support_from": cert.support_from.isoformat(),
                "support_until": cert.support_until.isoformat(),
                "timezone": cert.timezone,
                "issued_at": cert.issued_at.isoformat(),
                "issuer": cert.issuer,
            },
        )


def _preference(result: LicenseResult) -> tuple[bool, bool, int, str]:
    # Valid first; then revocations (an older sibling must not hide them); then the certificate
    # whose support runs longest; the certificate id only makes the choice deterministic.
    until = result.support_until.toordinal() if result.support_until else 0
    return (
        result.verdict is LicenseVerdict.VALID,
        Code.CERT_REVOKED in result.codes,
        until,
        result.evidence.get("cert_id", ""),
    )


def _with_evidence(result: LicenseResult, **extra: str) -> LicenseResult:
    return LicenseResult(
        result.verdict,
        result.source,
        result.codes,
        result.support_allowed,
        result.support_until,
        {**result.evidence, **extra},
    )


def _clean(value: str, limit: int = 80) -> str:
    return "".join(ch for ch in value if ch.isprintable())[:limit]


@hookimpl
def register_adapters(registry: AdapterRegistry) -> None:
    """Register the support-certificate licence validator."""
    registry.add(CertificateLicenseValidator)
