"""Keys and certificates for the licensing tests."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pixbridge.licensing.certificate import build_payload, public_key_hex, sign_certificate

ISSUED = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)


class Vendor:
    """A vendor's signing keys by key id."""

    def __init__(self, *kids: str) -> None:
        self.keys = {kid: Ed25519PrivateKey.generate() for kid in kids}

    def trusted(self, *kids: str) -> dict[str, str]:
        """The trust-store entries for *kids* (all keys when none are named)."""
        return {k: public_key_hex(self.keys[k]) for k in (kids or tuple(self.keys))}

    def issue(
        self,
        kid: str,
        *,
        serial: str = "PTM-2024-0017",
        product: str = "PIX Task Mining",
        start: date = date(2025, 1, 1),
        until: date = date(2026, 12, 31),
        timezone: str = "UTC",
        dongle: str | None = "guardant:0x1A2B3C4D",
        emails: tuple[str, ...] = ("it@northwind.example.com",),
        license_until: date | None = None,
        cert_id: str | None = None,
        issued_at: datetime = ISSUED,
    ) -> bytes:
        """A signed certificate."""
        payload = build_payload(
            serial=serial,
            product=product,
            customer="Northwind Logistics Ltd",
            start=start,
            until=until,
            issued_at=issued_at,
            timezone=timezone,
            dongle=dongle,
            emails=emails,
            domains=("northwind.example.com",),
            license_until=license_until,
            cert_id=cert_id,
        )
        return sign_certificate(payload, self.keys[kid], kid)


def envelope(cert: bytes) -> dict[str, object]:
    """The decoded envelope of an armored certificate."""
    body = b"".join(cert.splitlines()[1:-1])
    return dict(json.loads(base64.b64decode(body)))


def rearmor(env: dict[str, object]) -> bytes:
    """An armored certificate around *env* (no signing: for tampering tests)."""
    body = base64.b64encode(json.dumps(env).encode()).decode()
    return (
        "-----BEGIN PIXBRIDGE SUPPORT CERTIFICATE-----\n"
        + body
        + "\n-----END PIXBRIDGE SUPPORT CERTIFICATE-----\n"
    ).encode()


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
