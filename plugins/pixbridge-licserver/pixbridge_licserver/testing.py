"""A fake Keygen-style licensing server (standard library only) for the licserver tests.

It refuses what Keygen refuses: another method than POST (405), another path (404), a body that
is not JSON (400), a media type other than JSON:API/JSON (415... Keygen answers 400) and a missing
``meta.key`` (400 with a JSON:API error pointing at ``/meta/key``). Faults are switched on by
setting :attr:`FakeLicServer.fault`.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class License:
    key: str
    expiry: datetime | None
    status: str = "ACTIVE"  # ACTIVE | BANNED | SUSPENDED
    product: str = "prod-ptm"
    fingerprints: tuple[str, ...] = ()
    require_fingerprint: bool = False
    id: str = field(default="")


class FakeLicServer:
    """Serves ``POST /v1/accounts/<account>/licenses/actions/validate-key``."""

    def __init__(self, account: str = "pix-vendor", now: datetime | None = None) -> None:
        self.account = account
        self.now = now or datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
        self.licenses: dict[str, License] = {}
        self.fault: str | None = None  # "500", "503", "429", "slow", "garbage", "close"
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                raw = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/vnd.api+json")
                self.send_header("Content-Length", str(len(raw)))
                self.send_header("X-Request-Id", f"req-{len(fake.requests)}")
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(raw)

            def _error(self, status: int, title: str, detail: str, pointer: str = "") -> None:
                error: dict[str, Any] = {"title": title, "detail": detail}
                if pointer:
                    error["source"] = {"pointer": pointer}
                self._send(status, {"errors": [error]})

            def do_GET(self) -> None:
                self._error(405, "Method not allowed", "use POST")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                fake.requests.append({"path": self.path, "headers": dict(self.headers), "raw": raw})
                if fake.fault == "close":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if fake.fault == "slow":
                    time.sleep(1.0)
                if fake.fault in ("500", "503"):
                    self._error(int(fake.fault), "Internal server error", "try again later")
                    return
                if fake.fault == "429":
                    self._error(429, "Too many requests", "slow down", "")
                    return
                if fake.fault == "garbage":
                    self._send(200, b"<html>proxy error</html>")
                    return
                expected = f"/v1/accounts/{fake.account}/licenses/actions/validate-key"
                if self.path != expected:
                    self._error(404, "Not found", f"no route {self.path}")
                    return
                media = (self.headers.get("Content-Type") or "").split(";")[0].strip()
                if media not in ("application/vnd.api+json", "application/json"):
                    self._error(400, "Bad request", "unsupported media type")
                    return
                try:
                    body = json.loads(raw)
                    key = body["meta"]["key"]
                except (ValueError, KeyError, TypeError):
                    self._error(400, "Bad request", "is missing", "/meta/key")
                    return
                if not isinstance(key, str) or not key:
                    self._error(400, "Bad request", "must be a string", "/meta/key")
                    return
                scope = body["meta"].get("scope") or {}
                self._send(200, fake.validate(key, scope))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def validate(self, key: str, scope: dict[str, Any]) -> dict[str, Any]:
        """Keygen's check order (abridged): found, banned, scopes, fingerprint, expiry."""
        lic = self.licenses.get(key)

        def answer(valid: bool, code: str, detail: str) -> dict[str, Any]:
            meta = {"valid": valid, "code": code, "detail": detail, "ts": self.now.isoformat()}
            if lic is None:
                return {"meta": meta, "data": None}
            data = {
                "id": lic.id or f"lic-{lic.key}",
                "type": "licenses",
                "attributes": {
                    "key": lic.key,
                    "status": lic.status,
                    "expiry": lic.expiry.isoformat().replace("+00:00", "Z") if lic.expiry else None,
                },
            }
            return {"meta": meta, "data": data}

        if lic is None:
            return answer(False, "NOT_FOUND", "license does not exist")
        if lic.status in ("BANNED", "SUSPENDED"):
            return answer(False, lic.status, f"license is {lic.status.lower()}")
        if "product" in scope and scope["product"] != lic.product:
            return answer(False, "PRODUCT_SCOPE_MISMATCH", "product scope does not match")
        fingerprint = scope.get("fingerprint")
        if lic.require_fingerprint and not fingerprint:
            return answer(False, "FINGERPRINT_SCOPE_REQUIRED", "fingerprint scope is required")
        if fingerprint:
            if not lic.fingerprints:
                return answer(False, "NO_MACHINE", "license has no machines")
            if fingerprint not in lic.fingerprints:
                return answer(False, "FINGERPRINT_SCOPE_MISMATCH", "fingerprint is not activated")
        if lic.expiry is not None and lic.expiry < self.now:
            # MAINTAIN_ACCESS policy: still valid, but the support timer ran out.
            return answer(True, "EXPIRED", "is expired")
        return answer(True, "VALID", "is valid")

    def __enter__(self) -> FakeLicServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
