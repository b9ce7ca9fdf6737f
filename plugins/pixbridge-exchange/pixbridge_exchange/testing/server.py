"""A fake on-premises Exchange EWS endpoint on 127.0.0.1, for tests with the real exchangelib.

::

    with FakeEws() as ews:
        ews.deliver(raw)                           # mail arrives in the Inbox
        ews.inject(ErrorInjection(busy_ms=300))    # the next request is throttled
        ...                                        # point exchangelib at ews.url
        ews.store.sent                             # MIME of what was sent

It checks what Exchange checks before doing anything: POST to ``/EWS/Exchange.asmx``, basic
credentials, a text/xml SOAP envelope, a ``RequestServerVersion`` the server supports, no
impersonation (pixbridge signs in as the mailbox's delegate), and the elements each operation
requires. Every request is recorded with its time, operation and HTTP status.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from types import TracebackType
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from lxml import etree

from pixbridge_exchange.testing.operations import Operations
from pixbridge_exchange.testing.soap import (
    SOAPNS,
    TNS,
    Refused,
    child,
    envelope,
    fault,
    message,
    response,
)
from pixbridge_exchange.testing.store import FakeItem, MailboxStore

__all__ = ["ErrorInjection", "FakeEws", "RecordedRequest"]

PATH = "/EWS/Exchange.asmx"
# Request versions the fake accepts, oldest first; a server accepts its own and older ones.
_API_VERSIONS = (
    "Exchange2007",
    "Exchange2007_SP1",
    "Exchange2010",
    "Exchange2010_SP1",
    "Exchange2010_SP2",
    "Exchange2013",
    "Exchange2013_SP1",
    "Exchange2016",
)
_BUILDS = {
    "Exchange2010_SP2": (14, 3, 123, 4),
    "Exchange2013": (15, 0, 516, 32),
    "Exchange2013_SP1": (15, 0, 1497, 2),
    "Exchange2016": (15, 1, 2507, 6),
}


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake saw it."""

    at: float
    """``time.monotonic()`` when it arrived."""
    operation: str
    status: int


@dataclass
class ErrorInjection:
    """A failure served instead of the next matching request(s).

    By default an ``ErrorServerBusy`` fault without BackOffMilliseconds.
    """

    busy_ms: int | None = None
    """Answer with an ``ErrorServerBusy`` fault carrying this BackOffMilliseconds."""
    http_status: int | None = None
    """Answer with this HTTP status and an HTML body (e.g. 500), as a broken front end does."""
    operation: str | None = None
    """Only requests for this operation (any operation when None)."""
    count: int = 1
    after: bool = False
    """Carry the request out first, then fail: the response is lost (``http_status`` only)."""


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean."""


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class FakeEws:
    """The fake server and its mailbox; a context manager that starts and stops it."""

    def __init__(
        self,
        *,
        mailbox: str = "support@example.com",
        username: str = "svc-pixbridge",
        password: str = "s3cret",
        version: str = "Exchange2016",
    ) -> None:
        if version not in _BUILDS:
            raise ValueError(f"the fake knows {sorted(_BUILDS)}, not {version!r}")
        self.version = version
        self.build = _BUILDS[version]
        self.username = username
        self.password = password
        self.store = MailboxStore(mailbox)
        self.subscriptions_supported = True
        """False: Subscribe is refused, as by a server with notifications switched off."""
        self.operations = Operations(self.store)
        self.requests: list[RecordedRequest] = []
        self.injections: list[ErrorInjection] = []
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ control

    def start(self) -> FakeEws:
        """Listen on an ephemeral port of 127.0.0.1."""
        server = make_server(
            "127.0.0.1", 0, self.app, server_class=_Server, handler_class=_QuietHandler
        )
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeEws:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The EWS endpoint URL."""
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_port}{PATH}"

    def deliver(self, raw: bytes, folder: str = "inbox") -> FakeItem:
        """Mail arrives in *folder* (a path as the adapter's settings write it)."""
        with self.store.lock:
            return self.store.store(raw, self.store.folder_by_path(folder).id)

    def folder_items(self, path: str) -> list[FakeItem]:
        """The items in the folder at *path* (``inbox``, ``Processed``...), oldest first."""
        with self.store.lock:
            return self.store.items_in(self.store.folder_by_path(path).id)

    def inject(self, injection: ErrorInjection) -> None:
        """Serve *injection* instead of the next matching request(s)."""
        with self._lock:
            self.injections.append(injection)

    def operations_seen(self) -> list[str]:
        """The operations requested so far, in order."""
        return [r.operation for r in self.requests]

    # ------------------------------------------------------------ WSGI

    def app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """The WSGI application."""
        arrived = time.monotonic()
        status, body, operation = self._handle(environ)
        with self._lock:
            self.requests.append(RecordedRequest(arrived, operation, status))
        headers = [("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", str(len(body)))]
        if status == 401:
            headers.append(("WWW-Authenticate", 'Basic realm="mail.example.com"'))
        if status >= 500 and not body.startswith(b"<?xml"):
            headers[0] = ("Content-Type", "text/html")
        reasons = {200: "OK", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed"}
        start_response(f"{status} {reasons.get(status, 'Internal Server Error')}", headers)
        return [body]

    def _handle(self, environ: dict[str, Any]) -> tuple[int, bytes, str]:
        if environ.get("PATH_INFO") != PATH:
            return 404, b"", "?"
        if environ.get("REQUEST_METHOD") != "POST":
            return 405, b"", "?"
        expected = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        if environ.get("HTTP_AUTHORIZATION") != f"Basic {expected}":
            return 401, b"", "?"
        length = int(environ.get("CONTENT_LENGTH") or 0)
        data = environ["wsgi.input"].read(length)
        operation = "?"
        try:
            if not str(environ.get("CONTENT_TYPE", "")).startswith("text/xml"):
                raise Refused("ErrorInvalidRequest", "The request must be text/xml.")
            operation, elem, header = self._parse(data)
            self._check_header(header)
            injection = self._injection(operation)
            if injection is not None and not injection.after:
                return *self._failure(injection), operation
            if operation == "Subscribe" and not self.subscriptions_supported:
                failed = response("Subscribe", [message("Subscribe", code="ErrorInvalidRequest")])
                return 200, envelope(self.version, self.build, failed), operation
            body = self.operations(operation, elem)
            if injection is not None:
                return *self._failure(injection), operation
        except Refused as refused:
            return 500, fault(refused), operation
        return 200, envelope(self.version, self.build, body), operation

    def _parse(self, data: bytes) -> tuple[str, etree._Element, etree._Element | None]:
        """The operation's name and element, and the SOAP header."""
        try:
            root = etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False))
        except etree.XMLSyntaxError as exc:
            raise Refused(
                "ErrorSchemaValidation", f"The request is not well-formed XML: {exc}"
            ) from None
        if root.tag != f"{{{SOAPNS}}}Envelope":
            raise Refused("ErrorSchemaValidation", "The request is not a SOAP envelope.")
        body = child(root, SOAPNS, "Body")
        if body is None or len(body) != 1:
            raise Refused("ErrorSchemaValidation", "The SOAP Body must hold one operation.")
        return etree.QName(body[0]).localname, body[0], child(root, SOAPNS, "Header")

    def _check_header(self, header: etree._Element | None) -> None:
        version_elem = None if header is None else child(header, TNS, "RequestServerVersion")
        requested = None if version_elem is None else version_elem.get("Version")
        if requested not in _API_VERSIONS or _API_VERSIONS.index(requested) > _API_VERSIONS.index(
            self.version
        ):
            raise Refused("ErrorInvalidServerVersion", "The specified server version is invalid.")
        if header is not None and child(header, TNS, "ExchangeImpersonation") is not None:
            raise Refused(
                "ErrorImpersonateUserDenied", "The account does not have permission to impersonate."
            )

    def _injection(self, operation: str) -> ErrorInjection | None:
        with self._lock:
            for injection in self.injections:
                if injection.operation not in (None, operation):
                    continue
                injection.count -= 1
                if injection.count <= 0:
                    self.injections.remove(injection)
                return injection
        return None

    @staticmethod
    def _failure(injection: ErrorInjection) -> tuple[int, bytes]:
        if injection.http_status is not None:
            return injection.http_status, b"<html><body>Server Error</body></html>"
        text = "The server cannot service this request right now. Try again later."
        return 500, fault(Refused("ErrorServerBusy", text, injection.busy_ms))
