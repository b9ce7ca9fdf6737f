"""Client-credentials tokens for Graph from msal, cached until shortly before they expire.

msal keeps the token in its in-memory cache and asks the token endpoint again only when the
cached one is about to expire, so :meth:`TokenProvider.token` is cheap to call per request.
A token Graph refuses (revoked, the app's permissions changed) is dropped with
:meth:`TokenProvider.invalidate`; the next call fetches a fresh one.

Only :mod:`pixbridge_graph.client` imports this module (msal costs start-up time); when the
credential behind the tokens expires is told by :mod:`pixbridge_graph.credentials`.
"""

from __future__ import annotations

import threading
from typing import Any

import msal  # type: ignore[import-untyped]
import requests

from pixbridge.errors import NeedsCredentials, TransientAdapterError
from pixbridge_graph.credentials import CERTIFICATE
from pixbridge_graph.settings import GraphConnectionSettings

__all__ = ["TokenProvider"]


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
        certificate = CERTIFICATE.search(pem)
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


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "no details"
