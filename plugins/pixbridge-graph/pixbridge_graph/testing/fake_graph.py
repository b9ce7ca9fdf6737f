"""A fake Microsoft Graph (and Entra ID token service) over HTTPS on loopback, for tests.

Start it with :meth:`FakeGraph.start`; point an adapter's ``authority_host`` at
:attr:`FakeGraph.base`, ``graph_url`` at :attr:`FakeGraph.graph_url` and ``tls_ca_file`` at the
CA it was made with. It records every request (:attr:`FakeGraph.requests`, with monotonic
times), answers the mail endpoints the adapters use like Graph does (see
:mod:`~pixbridge_graph.testing.graph_routes`), checks bearer tokens and the application access
policy, and fails on request (:meth:`FakeGraph.fail`: 429 with ``Retry-After``, 5xx).
"""

from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from pixbridge_graph.testing.fake_identity import FakeIdentity, TokenError
from pixbridge_graph.testing.fake_mailbox import FakeMailbox, GraphFault
from pixbridge_graph.testing.graph_routes import Reply, route
from pixbridge_graph.testing.tls import TlsFiles

__all__ = ["FakeGraph", "Recorded", "adapter_settings"]

_THROTTLE_CODES = {
    429: ("ApplicationThrottled", "Application is over its MailboxConcurrency limit."),
    500: ("UnknownError", "An internal server error occurred."),
    502: ("BadGateway", "Bad gateway."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable."),
    504: ("GatewayTimeout", "The gateway timed out."),
}


@dataclass
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    """Header names lower-cased."""
    body: bytes
    started: float
    """``time.monotonic()`` when the request had been read."""
    status: int = 0
    finished: float = 0.0
    """``time.monotonic()`` just before the answer was written."""

    @property
    def is_graph(self) -> bool:
        """True for a Graph call (not the token service)."""
        return self.path.startswith("/v1.0/")


@dataclass
class _Fault:
    status: int
    times: int
    retry_after: str | None
    match: str


@dataclass
class _Paging:
    """Result pages handed out through ``$skiptoken`` links."""

    pages: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class FakeGraph:
    """The fake service; one tenant, one app, one or more mailboxes."""

    def __init__(
        self,
        tls: TlsFiles,
        *,
        mailbox: str = "support@example.com",
        tenant: str = "contoso-tenant-id",
        client_id: str = "00000000-app0-0000-0000-000000000001",
        client_secret: str | None = "fake-client-secret",
        certificate_pem: bytes | None = None,
    ) -> None:
        self.tls = tls
        self.identity = FakeIdentity(tenant, client_id, client_secret, certificate_pem)
        self.mailboxes: dict[str, FakeMailbox] = {mailbox.casefold(): FakeMailbox(mailbox)}
        self.denied: set[str] = set()
        """Mailboxes the application access policy keeps the app out of."""
        self.requests: list[Recorded] = []
        self.sent: list[bytes] = []
        """What recipients received, one message per sendMail (Bcc removed)."""
        self.latency = 0.0
        """Seconds every Graph request takes (to make concurrency observable)."""
        self.in_flight = 0
        self.max_in_flight = 0
        self.paging = _Paging()
        self.delta_epoch = 0
        """Delta tokens from an earlier epoch are expired (410 SyncStateNotFound)."""
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # ------------------------------------------------------------------ control

    @property
    def mailbox(self) -> FakeMailbox:
        """The first (support) mailbox."""
        return next(iter(self.mailboxes.values()))

    @property
    def base(self) -> str:
        """``https://127.0.0.1:PORT``: the authority host."""
        return f"https://127.0.0.1:{self.port}"

    @property
    def graph_url(self) -> str:
        """The Graph base URL with its version."""
        return f"{self.base}/v1.0"

    def start(self) -> FakeGraph:
        """Listen on an ephemeral loopback port, in a daemon thread."""
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.tls.cert, self.tls.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        server.fake = self  # type: ignore[attr-defined]
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name="fake-graph", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def fail(
        self, status: int, *, times: int = 1, retry_after: float | None = None, match: str = ""
    ) -> None:
        """Answer the next *times* Graph requests whose path contains *match* with *status*."""
        value = None if retry_after is None else f"{retry_after:g}"
        with self._lock:
            self._faults.append(_Fault(status, times, value, match))

    def expire_delta_tokens(self) -> None:
        """Make every delta link handed out so far unusable, as Exchange does after a while."""
        self.delta_epoch += 1

    def graph_requests(self) -> list[Recorded]:
        """The Graph calls received so far (token requests left out)."""
        with self._lock:
            return [r for r in self.requests if r.is_graph]

    # ------------------------------------------------------------------ dispatch

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        """Answer one request."""
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        record = Recorded(
            method=handler.command,
            path=unquote(parts.path),
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=body,
            started=time.monotonic(),
        )
        with self._lock:
            self.requests.append(record)
        reply = self._answer(record, parts.path)
        record.status = reply.status
        record.finished = time.monotonic()
        handler.send_response(reply.status)
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(reply.body)))
        handler.end_headers()
        handler.wfile.write(reply.body)

    def _answer(self, record: Recorded, raw_path: str) -> Reply:
        segments = [unquote(s) for s in raw_path.split("/")[1:]]
        try:
            if segments[:1] == ["v1.0"]:
                return self._graph(record, segments[1:])
            return self._identity(record, segments)
        except TokenError as exc:
            return Reply.json(exc.status, exc.body())
        except GraphFault as exc:
            return Reply.error(exc.status, exc.code, exc.message)

    def _identity(self, record: Recorded, segments: list[str]) -> Reply:
        if len(segments) == 4 and segments[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            return Reply.json(200, self.identity.openid_configuration(self.base, segments[0]))
        if (
            record.method == "POST"
            and len(segments) == 4
            and segments[1:] == ["oauth2", "v2.0", "token"]
        ):
            form = {k: v[0] for k, v in parse_qs(record.body.decode()).items()}
            endpoint = f"{self.base}/{segments[0]}/oauth2/v2.0/token"
            scope = f"{self.base}/.default"
            return Reply.json(200, self.identity.token(segments[0], form, endpoint, scope))
        return Reply.json(404, {"error": "not_found", "error_description": "no such endpoint"})

    def _graph(self, record: Recorded, segments: list[str]) -> Reply:
        auth = record.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or not self.identity.valid(auth[7:]):
            reply = Reply.error(
                401,
                "InvalidAuthenticationToken",
                "Access token is empty." if not auth else "Access token validation failure.",
            )
            reply.headers["WWW-Authenticate"] = 'Bearer realm="", error="invalid_token"'
            return reply
        if len(segments) < 2 or segments[0] != "users":
            raise GraphFault(
                400,
                "BadRequest",
                f"Resource not found for the segment '{segments[0] if segments else ''}'.",
            )
        mailbox = self.mailboxes.get(segments[1].casefold())
        if mailbox is None:
            raise GraphFault(
                404, "ErrorInvalidUser", f"The requested user '{segments[1]}' is invalid."
            )
        if segments[1].casefold() in self.denied:
            raise GraphFault(
                403,
                "ErrorAccessDenied",
                "Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly "
                "AccessPolicy settings.",
            )
        fault = self._take_fault(record.path)
        if fault is not None:
            code, message = _THROTTLE_CODES.get(fault.status, ("Error", "Injected failure."))
            reply = Reply.error(fault.status, code, message)
            if fault.retry_after is not None:
                reply.headers["Retry-After"] = fault.retry_after
            return reply
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency:
                time.sleep(self.latency)
            return route(self, mailbox, record, segments[2:])
        finally:
            with self._lock:
                self.in_flight -= 1

    def _take_fault(self, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.match in path and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.server.fake.handle(self)  # type: ignore[attr-defined]

    do_POST = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the requests are recorded, not printed."""


def adapter_settings(fake: FakeGraph, **extra: Any) -> dict[str, Any]:
    """Settings values (``[adapters.graph]`` or ``graph-sender``) that point at *fake*.

    Retries back off for 10 ms instead of a second, to keep tests short.
    """
    values: dict[str, Any] = {
        "tenant_id": fake.identity.tenant,
        "client_id": fake.identity.client_id,
        "client_secret": fake.identity.client_secret,
        "mailbox": fake.mailbox.address,
        "authority_host": fake.base,
        "graph_url": fake.graph_url,
        "tls_ca_file": str(fake.tls.ca),
        "backoff": 0.01,
    }
    values.update(extra)
    return {k: v for k, v in values.items() if v is not None}
