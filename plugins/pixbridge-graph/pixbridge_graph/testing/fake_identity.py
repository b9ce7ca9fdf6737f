"""The fake Entra ID (Azure AD) token service: OpenID metadata and client-credentials tokens.

It refuses what the real one refuses: an unknown tenant (AADSTS90002), an unknown client
(AADSTS700016), a wrong secret or a client assertion not signed by the registered certificate
(AADSTS7000215 / AADSTS700027), a scope other than ``<graph>/.default`` (AADSTS1002012).
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography import x509

__all__ = ["FakeIdentity", "TokenError"]

_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class TokenError(Exception):
    """An OAuth error answer (RFC 6749 section 5.2)."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description

    def body(self) -> dict[str, Any]:
        """The JSON body Entra ID answers with."""
        return {"error": self.error, "error_description": self.description, "error_codes": []}


@dataclass
class FakeIdentity:
    """Tenants, one app registration, and the tokens issued."""

    tenant: str
    client_id: str
    client_secret: str | None
    certificate_pem: bytes | None = None
    token_lifetime: int = 3599
    issued: dict[str, float] = field(default_factory=dict)
    """Access token -> expiry (``time.time()``)."""
    token_requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def openid_configuration(self, base: str, tenant: str) -> dict[str, Any]:
        """The tenant's ``/v2.0/.well-known/openid-configuration``."""
        self._known_tenant(tenant)
        return {
            "issuer": f"{base}/{self.tenant}/v2.0",
            "authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/{tenant}/oauth2/v2.0/token",
            "device_authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/devicecode",
            "jwks_uri": f"{base}/{tenant}/discovery/v2.0/keys",
            "response_types_supported": ["code", "id_token", "token id_token"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
        }

    def token(self, tenant: str, form: dict[str, str], endpoint: str, scope: str) -> dict[str, Any]:
        """Answer a token request, or raise :class:`TokenError`."""
        with self.lock:
            self.token_requests += 1
        self._known_tenant(tenant)
        if form.get("grant_type") != "client_credentials":
            raise TokenError(400, "unsupported_grant_type", "AADSTS70003: grant type not supported")
        if form.get("client_id") != self.client_id:
            raise TokenError(
                400,
                "unauthorized_client",
                f"AADSTS700016: Application with identifier '{form.get('client_id')}' was not "
                "found in the directory.",
            )
        self._authenticate(form, endpoint)
        if form.get("scope", "").split() != [scope]:
            raise TokenError(
                400,
                "invalid_scope",
                f"AADSTS1002012: The provided value for scope {form.get('scope')} is not valid. "
                "Client credential flows must have a scope value with /.default suffixed.",
            )
        token = secrets.token_urlsafe(32)
        with self.lock:
            self.issued[token] = time.time() + self.token_lifetime
        return {
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
            "ext_expires_in": self.token_lifetime,
            "access_token": token,
        }

    def valid(self, token: str) -> bool:
        """Whether *token* was issued here and has neither expired nor been revoked."""
        with self.lock:
            expiry = self.issued.get(token)
        return expiry is not None and expiry > time.time()

    def revoke_all(self) -> None:
        """Invalidate every token issued so far (a changed permission, a revoked session)."""
        with self.lock:
            self.issued.clear()

    def _known_tenant(self, tenant: str) -> None:
        if tenant != self.tenant:
            raise TokenError(
                400,
                "invalid_tenant",
                f"AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have the "
                "correct tenant ID and are signing into the correct cloud.",
            )

    def _authenticate(self, form: dict[str, str], endpoint: str) -> None:
        if "client_assertion" in form:
            self._check_assertion(form, endpoint)
            return
        if self.client_secret is None or form.get("client_secret") != self.client_secret:
            raise TokenError(
                401,
                "invalid_client",
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in "
                "the request is the client secret value, not the client secret ID.",
            )

    def _check_assertion(self, form: dict[str, str], endpoint: str) -> None:
        refused = TokenError(
            401,
            "invalid_client",
            "AADSTS700027: The certificate with identifier used to sign the client assertion "
            "is not registered on application.",
        )
        if form.get("client_assertion_type") != _ASSERTION_TYPE or self.certificate_pem is None:
            raise refused
        key = x509.load_pem_x509_certificate(self.certificate_pem).public_key()
        try:
            claims = jwt.decode(
                form["client_assertion"],
                key,  # type: ignore[arg-type]
                algorithms=["RS256", "PS256"],
                audience=endpoint,
                issuer=self.client_id,
                options={"require": ["exp", "aud", "iss", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise refused from exc
        if claims.get("sub") != self.client_id:
            raise refused
