"""When the app's credential expires: the certificate's notAfter, or ``client_secret_expires``.

No network and no msal: ``pixbridge`` asks this of every configured adapter, so it is kept apart
from :mod:`pixbridge_graph.auth`, which signs in.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from pixbridge.observability.credentials import CredentialExpiry
from pixbridge_graph.settings import GraphConnectionSettings

__all__ = ["CERTIFICATE", "certificate_not_after", "credential_expiries"]

CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)
"""A PEM certificate block."""


def certificate_not_after(path: Path) -> datetime | None:
    """When the (first) certificate in the PEM file *path* expires; ``None`` if the file
    cannot be read or holds no certificate (the sign-in and ``pixbridge doctor`` say why)."""
    # Imported here: cryptography costs start-up time, and only a certificate_file needs it.
    from cryptography import x509

    try:
        found = CERTIFICATE.search(path.read_text(encoding="ascii"))
        if found is None:
            return None
        certificate = x509.load_pem_x509_certificate(found.group(0).encode("ascii"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return certificate.not_valid_after_utc


def credential_expiries(settings: GraphConnectionSettings, table: str) -> list[CredentialExpiry]:
    """When the app's credential in ``[adapters.<table>]`` expires, if known (no network)."""
    t = f"adapters.{table}"
    if settings.certificate_file is not None:
        not_after = certificate_not_after(settings.certificate_file)
        if not_after is None:
            return []
        renew = (
            "upload a new certificate to the app registration (Certificates & secrets) and "
            f"put it with its key in {settings.certificate_file} ({t}.certificate_file)"
        )
        return [CredentialExpiry(table, "certificate_file", not_after, "certificate", renew)]
    if settings.client_secret is not None and settings.client_secret_expires is not None:
        renew = (
            "add a new client secret to the app registration (Certificates & secrets), then "
            f"set {t}.client_secret and its expiry date in {t}.client_secret_expires"
        )
        expires = settings.client_secret_expires
        return [CredentialExpiry(table, "client_secret", expires, "settings", renew)]
    return []
