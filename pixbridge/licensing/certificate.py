"""The signed support certificate: format, signing and verification (Ed25519).

A certificate is a text file (extension ``.pixcert``) a vendor issues per kit::

    -----BEGIN PIXBRIDGE SUPPORT CERTIFICATE-----
    base64( {"v":1,"alg":"ed25519","kid":"vendor-2025a",
             "payload":"<base64url(payload JSON bytes)>","sig":"<base64url(signature)>"} )
    -----END PIXBRIDGE SUPPORT CERTIFICATE-----

The signature is Ed25519 over ``b"pixbridge/support-cert/v1\\n" + payload`` where *payload* is the
exact byte string carried in the envelope: it is verified before it is parsed and never
re-serialised, so any change of a signed byte is a bad signature. The prefix keeps signatures
for other purposes (release checksums) from being replayed as certificates.

The payload is a JSON object::

    {"cert_id": "<uuid>", "product": "...", "serial": "...", "dongle": "guardant:0x1A2B3C4D"|null,
     "customer": {"name": "...", "emails": [...], "domains": [...]},
     "license": {"type": "perpetual", "not_after": null | RFC 3339},
     "support": {"not_before": RFC 3339, "not_after": RFC 3339, "timezone": "Europe/Moscow",
                 "level": "standard"},
     "generations": [5], "issued_at": RFC 3339, "issuer": "..."}

``support.not_after`` is the last second of the last day of support in ``support.timezone``
(inclusive); times are compared to the second. Trusted public keys are raw 32-byte keys written
as 64 hex digits, looked up by ``kid`` so keys can be rotated: keep the old key id trusted until
every certificate it signed has run out, then remove it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from pixbridge.licensing.codes import Code

__all__ = [
    "ARMOR_BEGIN",
    "ARMOR_END",
    "CONTENT_TYPE",
    "EXTENSION",
    "MAX_BYTES",
    "SIGNING_PREFIX",
    "CertificateError",
    "SupportCertificate",
    "build_payload",
    "looks_like_certificate",
    "parse_public_key",
    "public_key_hex",
    "read_certificate",
    "sign_certificate",
]

ARMOR_BEGIN = "-----BEGIN PIXBRIDGE SUPPORT CERTIFICATE-----"
ARMOR_END = "-----END PIXBRIDGE SUPPORT CERTIFICATE-----"
SIGNING_PREFIX = b"pixbridge/support-cert/v1\n"
EXTENSION = ".pixcert"
CONTENT_TYPE = "application/x-pixbridge-support-certificate"
MAX_BYTES = 64 * 1024
"""Certificates are small; anything larger is refused before it is decoded."""

_ARMOR = re.compile(
    re.escape(ARMOR_BEGIN).encode() + rb"(.*?)" + re.escape(ARMOR_END).encode(), re.DOTALL
)
_KID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_B64URL = re.compile(r"^[A-Za-z0-9_-]*={0,2}$")


class CertificateError(Exception):
    """A certificate failed a check; :attr:`code` is the licence code to report."""

    def __init__(self, code: Code, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class SupportCertificate:
    """A verified certificate's payload."""

    cert_id: str
    kid: str
    product: str
    serial: str
    dongle: str | None
    customer: str
    emails: tuple[str, ...]
    domains: tuple[str, ...]
    license_type: str
    license_not_after: datetime | None
    support_not_before: datetime
    support_not_after: datetime
    timezone: str
    level: str
    generations: tuple[int, ...]
    issued_at: datetime
    issuer: str

    @property
    def support_until(self) -> date:
        """The last day of support, in the certificate's time zone."""
        return self.support_not_after.astimezone(ZoneInfo(self.timezone)).date()

    @property
    def support_from(self) -> date:
        """The first day of support, in the certificate's time zone."""
        return self.support_not_before.astimezone(ZoneInfo(self.timezone)).date()


def looks_like_certificate(data: bytes) -> bool:
    """Whether *data* carries the certificate armor (a cheap test for mail attachments)."""
    return len(data) <= MAX_BYTES and ARMOR_BEGIN.encode() in data


def _b64url(text: object, what: str) -> bytes:
    if not isinstance(text, str) or not _B64URL.match(text):
        raise CertificateError(Code.CERT_MALFORMED, f"{what} is not base64url text")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise CertificateError(Code.CERT_MALFORMED, f"{what} is not base64url: {exc}") from None


def _envelope(data: bytes) -> tuple[str, bytes, bytes]:
    """(kid, payload bytes, signature) of an armored certificate; nothing is verified yet."""
    if len(data) > MAX_BYTES:
        raise CertificateError(Code.CERT_MALFORMED, f"larger than {MAX_BYTES} bytes")
    found = _ARMOR.search(data)
    if found is None:
        raise CertificateError(Code.CERT_MALFORMED, "no PIXBRIDGE SUPPORT CERTIFICATE block")
    body = b"".join(found.group(1).split())
    try:
        envelope = json.loads(base64.b64decode(body, validate=True))
    except (binascii.Error, ValueError) as exc:
        raise CertificateError(Code.CERT_MALFORMED, f"envelope unreadable: {exc}") from None
    if not isinstance(envelope, dict):
        raise CertificateError(Code.CERT_MALFORMED, "envelope is not a JSON object")
    if envelope.get("v") != 1 or envelope.get("alg") != "ed25519":
        raise CertificateError(
            Code.CERT_MALFORMED,
            f"unknown version/algorithm v={envelope.get('v')!r} alg={envelope.get('alg')!r}",
        )
    kid = envelope.get("kid")
    if not isinstance(kid, str) or not _KID.match(kid):
        raise CertificateError(Code.CERT_MALFORMED, "key id (kid) missing or malformed")
    payload = _b64url(envelope.get("payload"), "payload")
    signature = _b64url(envelope.get("sig"), "signature")
    if len(signature) != 64:
        raise CertificateError(Code.CERT_MALFORMED, "an Ed25519 signature has 64 bytes")
    return kid, payload, signature


def _instant(raw: object, what: str) -> datetime:
    if not isinstance(raw, str):
        raise CertificateError(Code.CERT_MALFORMED, f"{what} is not an RFC 3339 time")
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise CertificateError(Code.CERT_MALFORMED, f"{what} {raw!r} is not RFC 3339") from None
    if value.tzinfo is None:
        raise CertificateError(Code.CERT_MALFORMED, f"{what} {raw!r} has no time zone")
    return value.astimezone(UTC)


def _text(obj: Mapping[str, Any], key: str, *, optional: bool = False) -> str:
    value = obj.get(key)
    if value is None and optional:
        return ""
    if not isinstance(value, str) or (not optional and not value.strip()):
        raise CertificateError(Code.CERT_MALFORMED, f"payload field {key!r} must be text")
    return value.strip()


def _texts(obj: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = obj.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CertificateError(Code.CERT_MALFORMED, f"payload field {key!r} must be a list")
    return tuple(v.strip().lower() for v in value if v.strip())


def _section(obj: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = obj.get(key)
    if not isinstance(value, dict):
        raise CertificateError(Code.CERT_MALFORMED, f"payload field {key!r} must be an object")
    return value


def _payload(kid: str, raw: bytes) -> SupportCertificate:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CertificateError(Code.CERT_MALFORMED, f"payload is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise CertificateError(Code.CERT_MALFORMED, "payload is not a JSON object")
    customer, licence, support = (_section(data, k) for k in ("customer", "license", "support"))
    zone = _text(support, "timezone", optional=True) or "UTC"
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise CertificateError(Code.CERT_MALFORMED, f"unknown time zone {zone!r}") from None
    generations = data.get("generations", [])
    if not isinstance(generations, list) or not all(
        isinstance(g, int) and not isinstance(g, bool) for g in generations
    ):
        raise CertificateError(Code.CERT_MALFORMED, "generations must be a list of numbers")
    not_before = _instant(support.get("not_before"), "support.not_before")
    not_after = _instant(support.get("not_after"), "support.not_after")
    if not_after < not_before:
        raise CertificateError(Code.CERT_MALFORMED, "support ends before it starts")
    licence_end = licence.get("not_after")
    dongle = data.get("dongle")
    if dongle is not None and not isinstance(dongle, str):
        raise CertificateError(Code.CERT_MALFORMED, "dongle must be text or null")
    return SupportCertificate(
        cert_id=_text(data, "cert_id"),
        kid=kid,
        product=_text(data, "product"),
        serial=_text(data, "serial"),
        dongle=dongle.strip() or None if dongle else None,
        customer=_text(customer, "name", optional=True),
        emails=_texts(customer, "emails"),
        domains=_texts(customer, "domains"),
        license_type=_text(licence, "type", optional=True) or "perpetual",
        license_not_after=None
        if licence_end is None
        else _instant(licence_end, "license.not_after"),
        support_not_before=not_before,
        support_not_after=not_after,
        timezone=zone,
        level=_text(support, "level", optional=True),
        generations=tuple(generations),
        issued_at=_instant(data.get("issued_at"), "issued_at"),
        issuer=_text(data, "issuer", optional=True),
    )


def read_certificate(data: bytes, trusted: Mapping[str, Ed25519PublicKey]) -> SupportCertificate:
    """Verify *data* and return its payload; raise :class:`CertificateError` with the code.

    Steps, in order: armor and envelope (``cert_malformed``), key id in *trusted*
    (``cert_untrusted_key``), signature over the exact payload bytes (``cert_bad_signature``),
    then the payload itself (``cert_malformed``). Revocation and time are the caller's checks.
    """
    kid, payload, signature = _envelope(data)
    key = trusted.get(kid)
    if key is None:
        raise CertificateError(Code.CERT_UNTRUSTED_KEY, f"key id {kid!r} is not trusted")
    try:
        key.verify(signature, SIGNING_PREFIX + payload)
    except InvalidSignature:
        raise CertificateError(
            Code.CERT_BAD_SIGNATURE, f"signature by {kid!r} does not match"
        ) from None
    return _payload(kid, payload)


def parse_public_key(text: str) -> Ed25519PublicKey:
    """A public key from 64 hex digits (its raw 32 bytes); ``ValueError`` says what is wrong."""
    cleaned = text.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", cleaned):
        raise ValueError("an Ed25519 public key is 64 hex digits (32 bytes)")
    return Ed25519PublicKey.from_public_bytes(bytes.fromhex(cleaned))


def public_key_hex(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The raw public key as 64 hex digits (what the trust store holds)."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return raw.hex()


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def build_payload(
    *,
    serial: str,
    product: str,
    customer: str,
    until: date,
    start: date,
    issued_at: datetime,
    timezone: str = "UTC",
    dongle: str | None = None,
    emails: Sequence[str] = (),
    domains: Sequence[str] = (),
    level: str = "standard",
    generations: Sequence[int] = (),
    license_until: date | None = None,
    issuer: str = "",
    cert_id: str | None = None,
) -> bytes:
    """The payload bytes of a certificate covering *start* .. *until* (inclusive days in *timezone*)."""
    zone = ZoneInfo(timezone)
    if until < start:
        raise ValueError(f"support ends ({until}) before it starts ({start})")

    def last_second(day: date) -> datetime:
        return datetime.combine(day + timedelta(days=1), time(), zone) - timedelta(seconds=1)

    payload = {
        "cert_id": cert_id or str(uuid.uuid4()),
        "product": product,
        "serial": serial,
        "dongle": dongle,
        "customer": {"name": customer, "emails": list(emails), "domains": list(domains)},
        "license": {
            "type": "term" if license_until else "perpetual",
            "not_after": _rfc3339(last_second(license_until)) if license_until else None,
        },
        "support": {
            "not_before": _rfc3339(datetime.combine(start, time(), zone)),
            "not_after": _rfc3339(last_second(until)),
            "timezone": timezone,
            "level": level,
        },
        "generations": list(generations),
        "issued_at": _rfc3339(issued_at),
        "issuer": issuer,
    }
    return json.dumps(payload, ensure_ascii=False, indent=1).encode("utf-8")


def sign_certificate(payload: bytes, key: Ed25519PrivateKey, kid: str) -> bytes:
    """The armored certificate carrying *payload* signed by *key* under key id *kid*."""
    if not _KID.match(kid):
        raise ValueError("a key id is 1-64 letters, digits, '.', '_' or '-'")
    signature = key.sign(SIGNING_PREFIX + payload)

    def url(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    envelope = json.dumps(
        {"v": 1, "alg": "ed25519", "kid": kid, "payload": url(payload), "sig": url(signature)},
        separators=(",", ":"),
    ).encode("ascii")
    body = base64.b64encode(envelope).decode("ascii")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join([ARMOR_BEGIN, *lines, ARMOR_END, ""]).encode("ascii")
