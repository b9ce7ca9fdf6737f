"""Client-credentials tokens for Graph from msal, cached until shortly before they expire.

msal keeps the token in its in-memory cache and asks the token endpoint again only when the
cached one is about to expire, so :meth:`TokenProvider.token` is cheap to call per request.
A token Graph refuses (revoked, the app's permissions changed) is dropped with
:meth:`TokenProvider.invalidate`; the next call fetches a fresh one.

The credential behind the tokens expires too: :func:`credential_expiries` tells when (the
certificate's notAfter, or ``client_secret_expires`` as copied from the portal).
"""

from __future__ import annotations

import re
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import msal  # type: ignore[import-untyped]
import requests
from cryptography import x509

from pixbridge.errors import NeedsCredentials, TransientAdapterError
from pixbridge.observability.credentials import CredentialExpiry
from pixbridge_graph.settings import GraphConnectionSettings

__all__ = ["TokenProvider", "certificate_not_after", "credential_expiries"]

_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)


class TokenProvider:
    """Access tokens for one app registration, from msal's ``ConfidentialClientApplication``."""

    def __init__(
        self, settings: GraphConnectionSettings, session: requests.Session, table: str
    ) -> None:
        self.settings = settings
        self.session = session
        self.table = table
        self._app: msal.ConfidentialClientApplication | None = None
        self._lock = threading.Lock()

    def token(self) -> str:
        """A valid access token for Graph (from msal's cache when it has one)."""
        with self._lock:
            try:
                app = self._app or self._build()
                self._app = app
                result: dict[str, Any] = app.acquire_token_for_client(scopes=[self.settings.scope])
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise TransientAdapterError(
                    f"cannot reach {self.settings.authority_host} for a token: {exc}"
                ) from exc
            except requests.HTTPError as exc:  # 5xx during authority discovery
                raise TransientAdapterError(f"the token service failed: {exc}") from exc
        if "access_token" not in result:
            raise self._refused(result)
        return str(result["access_token"])

    def invalidate(self) -> None:
        """Forget the cached token (Graph refused it); the next :meth:`token` fetches anew."""
        with self._lock:
            self._app = None

    def _build(self) -> msal.ConfidentialClientApplication:
        s = self.settings
        try:
            return msal.ConfidentialClientApplication(
                s.client_id,
                client_credential=self._credential(),
                authority=f"{s.authority_host}/{s.tenant_id}",
                http_client=self.session,
                timeout=(s.connect_timeout, s.read_timeout),
                # Instance discovery asks login.microsoftonline.com whether the authority
                # host is Microsoft's; the configured host is trusted as it is.
                instance_discovery=False,
            )
        except ValueError as exc:  # tenant discovery refused: an unknown tenant
            raise NeedsCredentials(
                f"adapters.{self.table}.tenant_id: {s.authority_host} does not know tenant "
                f"{s.tenant_id!r} ({_first_line(str(exc))})"
            ) from exc

    def _credential(self) -> str | dict[str, str]:
        s = self.settings
        if s.client_secret is not None:
            return s.client_secret.get_secret_value()
        if s.certificate_file is None:
            raise NeedsCredentials(
                f"adapters.{self.table}: set client_secret or certificate_file to sign in"
            )
        try:
            pem = s.certificate_file.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise NeedsCredentials(
                f"adapters.{self.table}.certificate_file: cannot read {s.certificate_file}: {exc}"
            ) from exc
        certificate = _CERTIFICATE.search(pem)
        if certificate is None or "PRIVATE KEY-----" not in pem:
            raise NeedsCredentials(
                f"adapters.{self.table}.certificate_file: {s.certificate_file} must hold the "
                "certificate and its private key, both PEM"
            )
        credential = {"private_key": pem, "public_certificate": certificate.group(0)}
        if s.certificate_password is not None:
            credential["passphrase"] = s.certificate_password.get_secret_value()
        return credential

    def _refused(self, result: dict[str, Any]) -> Exception:
        error = str(result.get("error", "unknown_error"))
        description = _first_line(str(result.get("error_description", "")))
        message = f"the token service refused the app ({error}: {description})"
        if error in ("temporarily_unavailable", "server_error"):
            return TransientAdapterError(message)
        return NeedsCredentials(
            f"{message}; check adapters.{self.table}.tenant_id, client_id and the client "
            "secret or certificate in the app registration"
        )


def certificate_not_after(path: Path) -> datetime | None:
    """When the (first) certificate in the PEM file *path* expires; ``None`` if the file
    cannot be read or holds no certificate (the sign-in and ``pixbridge doctor`` say why)."""
    try:
        found = _CERTIFICATE.search(path.read_text(encoding="ascii"))
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


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "no details"
