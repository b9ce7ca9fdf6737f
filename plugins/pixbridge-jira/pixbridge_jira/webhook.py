"""The optional receiver of Jira's webhooks: a hint to look at an issue now, never data.

A small HTTP server (standard library, a daemon thread) takes Jira's webhook POSTs on one path.
An event is accepted only with the configured secret: as Jira Cloud (and Data Center versions
that sign) sends it, an HMAC-SHA256 of the raw body in ``X-Hub-Signature: sha256=<hex>``, or,
for Jira versions that do not sign, as ``?secret=`` in the URL the admin registered. Refused:
another path 404, another method 405, no length 411, a body over ``max_body`` 413 (unread),
no secret 401, a wrong one 403, a body that is not a JSON event 400. Accepted events are
answered 204 at once.

Even a correctly signed event is not trusted as data: it could be replayed, and Jira's own
payloads differ by version. The receiver only extracts which issue it concerns and hands that
to the tracker, which reads the issue from Jira in the next pass exactly as the JQL sync does.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pixbridge_jira.settings import WebhookSettings

__all__ = ["SERVER_NAME", "WebhookEvent", "WebhookReceiver", "parse_event", "signature"]

log = logging.getLogger("pixbridge.adapter.jira.webhook")

SERVER_NAME = "pixbridge-jira-webhook"
"""The ``Server`` header of the receiver's answers (doctor recognises a running one by it)."""

_KEY = re.compile(r"[A-Z][A-Z0-9_]*-[1-9][0-9]*")
_ID = re.compile(r"[1-9][0-9]{0,17}")
_COMMENT_SELF = re.compile(r"/issue/([1-9][0-9]{0,17})/comment/")
_READ_TIMEOUT = 10.0
"""Seconds a client may take to send its request (a stalled one holds a thread no longer)."""


@dataclass(frozen=True)
class WebhookEvent:
    """What pixbridge takes from an accepted event: which issue to look at, and hints to skip it."""

    name: str
    """``webhookEvent``, e.g. ``comment_created`` or ``jira:issue_updated``."""
    issue: str
    """The issue key (``SUP-12``) or, where the payload names no key, its numeric id; "" if none."""
    project: str
    """The project key the payload names ("" if it names none)."""
    actor: str
    """Account id (Cloud) or user name (DC) of who caused the event ("" if not named)."""


def signature(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature`` value Jira sends for *body* signed with *secret*."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def parse_event(data: Any) -> WebhookEvent | None:
    """The event in a webhook body (already JSON-decoded); ``None`` if it is not one."""
    if not isinstance(data, dict) or not isinstance(data.get("webhookEvent"), str):
        return None
    issue, comment = _obj(data.get("issue")), _obj(data.get("comment"))
    project = _obj(_obj(issue.get("fields")).get("project"))
    key, issue_id = str(issue.get("key") or ""), str(issue.get("id") or "")
    if _KEY.fullmatch(key):
        ref = key
    elif _ID.fullmatch(issue_id):
        ref = issue_id
    else:  # comment events of some Jira versions name the issue only in the comment's URL
        found = _COMMENT_SELF.search(str(comment.get("self") or ""))
        ref = found.group(1) if found else ""
    user = (
        _obj(data.get("user")) or _obj(comment.get("updateAuthor")) or _obj(comment.get("author"))
    )
    return WebhookEvent(
        name=data["webhookEvent"],
        issue=ref,
        project=str(project.get("key") or ""),
        actor=str(user.get("accountId") or user.get("name") or ""),
    )


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class WebhookReceiver:
    """Listens on ``listen`` and hands each accepted event to *on_event* (in the server thread).

    *on_event* must return quickly; an exception in it is logged and the event still answered
    204, because Jira would only send it again and polling finds the change anyway.
    """

    def __init__(self, settings: WebhookSettings, on_event: Callable[[WebhookEvent], None]) -> None:
        if settings.secret is None:
            raise ValueError("the webhook receiver needs a secret")
        self.settings = settings
        self.on_event = on_event
        self._secret = settings.secret.get_secret_value().encode()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        """The (host, port) listened on; the real port when ``listen`` asked for port 0."""
        if self._server is None:
            return self.settings.address
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        """The receiver's own URL (what a client on this host would post to)."""
        host, port = self.address
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}{self.settings.path}"

    def start(self) -> None:
        """Bind and serve in a daemon thread; raises ``OSError`` if the address is taken."""
        host, port = self.settings.address
        server_class = _Server6 if ":" in host else _Server
        server = server_class((host, port), _handler(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.2,), name="jira-webhook", daemon=True
        )  # 0.2 s: how long stop() may wait for the serving loop to notice
        self._thread.start()
        log.info("jira webhook: listening on %s", self.url)

    def stop(self) -> None:
        """Stop serving and release the port (safe to call more than once)."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    # ------------------------------------------------------------------ one request

    def status_for(self, body: bytes, signed: str | None, query: str) -> int | None:
        """401/403 if the request does not carry the secret, ``None`` if it does."""
        if signed is not None:
            scheme, _, digest = signed.strip().partition("=")
            expected = hmac.new(self._secret, body, hashlib.sha256).hexdigest()
            good = scheme.lower() == "sha256" and hmac.compare_digest(
                expected.encode(), digest.strip().lower().encode("utf-8", "replace")
            )
            return None if good else 403
        tokens = parse_qs(query).get("secret")
        if tokens and self.settings.url_secret:
            good = hmac.compare_digest(tokens[-1].encode("utf-8", "replace"), self._secret)
            return None if good else 403
        return 401


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that stalls or hangs up mid-request: not worth socketserver's traceback.
        log.debug("jira webhook: request from %s failed", client_address, exc_info=True)


class _Server6(_Server):
    address_family = socket.AF_INET6


def _handler(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    settings = receiver.settings

    class Handler(BaseHTTPRequestHandler):
        timeout = _READ_TIMEOUT

        def version_string(self) -> str:
            return SERVER_NAME  # no Python version for the world to see

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the request line holds the URL secret; _answer logs without it

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            if parts.path != settings.path:
                return self._answer(404)
            length = self.headers.get("Content-Length")
            if length is None or self.headers.get("Transfer-Encoding"):
                return self._answer(411)
            if not length.isdigit():
                return self._answer(400)
            if int(length) > settings.max_body:
                return self._answer(413)
            body = self.rfile.read(int(length))
            refused = receiver.status_for(body, self.headers.get("X-Hub-Signature"), parts.query)
            if refused is not None:
                return self._answer(refused)
            try:
                event = parse_event(json.loads(body))
            except ValueError:
                event = None
            if event is None:
                return self._answer(400)
            try:
                receiver.on_event(event)
            except Exception:
                log.exception("jira webhook: handling %s for %r failed", event.name, event.issue)
            return self._answer(204, event)

        def _refuse_method(self) -> None:
            self._answer(405)

        do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = _refuse_method

        def _answer(self, status: int, event: WebhookEvent | None = None) -> None:
            what = f"{event.name} {event.issue or '-'}" if event else "-"
            log.debug("jira webhook: %s %s -> %d (%s)", self.command,
                      urlsplit(self.path).path, status, what)  # fmt: skip
            self.send_response(status)
            if status == 405:
                self.send_header("Allow", "POST")
            if status >= 400:
                # The body was perhaps left unread: this connection cannot carry another request.
                self.close_connection = True
                self.send_header("Connection", "close")
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler
