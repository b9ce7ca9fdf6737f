"""The fake Jira as an HTTP server on 127.0.0.1 (ephemeral port), with injectable faults.

The real ``jira`` client talks to it over a socket. Faults: added latency per request, search
lag, scripted answers (429 with ``Retry-After``, 5xx, 409) for matching requests, and "commit
then drop the response" (the request takes effect, the connection closes unanswered). Every
request is logged with its arrival time so tests can check what the client did and when; a
request that arrives while a 429's ``Retry-After`` is still running is answered 429 again and
counted in :attr:`FakeJira.early_retries`.

Admin webhooks (:meth:`FakeJira.register_webhook`, listed at ``GET /rest/webhooks/1.0/webhook``
for administrators) are delivered as Jira delivers them: a POST per event from a background
thread, signed with ``X-Hub-Signature: sha256=<hmac>`` when the webhook has a secret; every
delivery is recorded in :attr:`FakeJira.deliveries`.

``GET mypermissions`` answers from the permissions the state models (:meth:`State.permitted`);
like Cloud and recent Data Center it refuses a request without ``permissions`` with 400.
Requests are answered as their account sees the site: see *Browse Projects* in
:mod:`pixbridge_jira.testing.state`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pixbridge_jira.testing.render import Renderer
from pixbridge_jira.testing.state import (
    CUSTOM_FIELDS,
    LINK_TYPES,
    PERMISSIONS,
    STATUSES,
    SYSTEM_FIELDS,
    Comment,
    FakeIssue,
    FakeProject,
    JiraError,
    State,
    User,
    check_body,
    jira_time,
)
from pixbridge_jira.testing.versions import VersionApi

__all__ = ["Delivery", "FakeJira", "FakeWebhook", "Fault", "Received"]


@dataclass
class Fault:
    """A scripted answer for the next *times* requests matching *method* and *path* (regex)."""

    method: str
    path: str
    status: int = 503
    times: int = 1
    retry_after: float | None = None
    drop: bool = False
    """Process the request, then close the connection without answering."""


@dataclass(frozen=True)
class Received:
    """One request as the fake saw it."""

    at: float
    """``time.monotonic()`` on arrival."""
    method: str
    path: str
    status: int


@dataclass
class FakeWebhook:
    """An admin webhook as registered in Jira's administration (System > WebHooks)."""

    id: int
    url: str
    events: list[str]
    secret: str | None = None
    name: str = "pixbridge"
    enabled: bool = True
    jql: str = ""


@dataclass(frozen=True)
class Delivery:
    """One webhook POST the fake made, and pixbridge's answer (0: no answer)."""

    url: str
    event: str
    issue: str
    status: int


@dataclass
class _Request:
    method: str
    path: str
    query: dict[str, str]
    headers: Any
    body: bytes
    user: User | None = None
    version: str = "2"

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError as exc:
            raise JiraError(400, ["Unexpected character: the body is not JSON"]) from exc


@dataclass
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: Callable[..., tuple[int, Any]]


class _Drop(Exception):
    pass


class FakeJira:
    """A stateful fake Jira site; use as a context manager or call :meth:`start`/:meth:`stop`."""

    def __init__(self, *, cloud: bool, latency: float = 0.0) -> None:
        self.state = State(cloud=cloud)
        self.latency = latency
        self.faults: list[Fault] = []
        self.received: list[Received] = []
        self.early_retries = 0
        self._blocked_until = 0.0
        self._server: ThreadingHTTPServer | None = None
        self._stopped = False
        self._thread: threading.Thread | None = None
        self.url = ""
        self.webhooks: list[FakeWebhook] = []
        self.deliveries: list[Delivery] = []
        self._delivered = threading.Condition(self.state.lock)
        self.state.listener = self._announce
        self._routes = self._make_routes()

    # ------------------------------------------------------------------ control

    def start(self) -> FakeJira:
        """Listen on an ephemeral port of 127.0.0.1."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else delayed ACKs add ~40 ms to every answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._serve(self)

            do_POST = do_PUT = do_DELETE = do_GET

        self._stopped = False
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        self._stopped = True  # open keep-alive connections are cut on their next request
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeJira:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def inject(self, fault: Fault) -> None:
        """Answer the next matching requests with *fault*."""
        with self.state.lock:
            self.faults.append(fault)

    def register_webhook(
        self,
        url: str,
        events: tuple[str, ...] = ("comment_created", "jira:issue_updated"),
        *,
        secret: str | None = None,
        jql: str = "",
    ) -> FakeWebhook:
        """Register an admin webhook, as a Jira administrator does in System > WebHooks."""
        with self.state.lock:
            hook = FakeWebhook(self.state.next_id(), url, list(events), secret, jql=jql)
            self.webhooks.append(hook)
            return hook

    def wait_deliveries(self, count: int, timeout: float = 10.0) -> list[Delivery]:
        """Block until at least *count* deliveries were answered (or *timeout*); returns all."""
        with self._delivered:
            self._delivered.wait_for(lambda: len(self.deliveries) >= count, timeout)
            return list(self.deliveries)

    def requests(self, method: str | None = None, path: str = "") -> list[Received]:
        """Requests received (optionally only those of *method* whose path matches *path*)."""
        with self.state.lock:
            return [
                r for r in self.received
                if (method is None or r.method == method) and re.search(path, r.path)
            ]  # fmt: skip

    # ------------------------------------------------------------------ HTTP

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        arrived = time.monotonic()
        if self._stopped:
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        request = _Request(handler.command, parts.path, query, handler.headers, raw)
        if self.latency:
            time.sleep(self.latency)
        headers: dict[str, str] = {}
        try:
            status, payload, headers = self._answer(request, arrived)
        except _Drop:
            self._log(arrived, request, 0)
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        self._log(arrived, request, status)
        data = b"" if payload is None else json.dumps(payload).encode()
        handler.send_response(status)
        if data:
            handler.send_header("Content-Type", "application/json;charset=UTF-8")
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _log(self, at: float, request: _Request, status: int) -> None:
        with self.state.lock:
            self.received.append(Received(at, request.method, request.path, status))

    def _answer(self, request: _Request, arrived: float) -> tuple[int, Any, dict[str, str]]:
        with self.state.lock:
            if arrived < self._blocked_until:
                self.early_retries += 1
                wait = self._blocked_until - arrived
                return (
                    429,
                    _errors("Rate limit exceeded."),
                    {"Retry-After": str(max(1, round(wait)))},
                )
            fault = next(
                (f for f in self.faults
                 if f.times > 0 and f.method == request.method and re.search(f.path, request.path)),
                None,
            )  # fmt: skip
            if fault is not None:
                fault.times -= 1
                if not fault.drop:
                    headers = {}
                    if fault.retry_after is not None:
                        headers["Retry-After"] = f"{fault.retry_after:g}"
                        if fault.status == 429:
                            self._blocked_until = arrived + fault.retry_after
                    return fault.status, _errors(f"injected HTTP {fault.status}"), headers
            try:
                status, payload = self._route(request)
            except JiraError as exc:
                status, payload = exc.status, exc.body
            if fault is not None and fault.drop:
                raise _Drop
            return status, payload, {}

    def _route(self, request: _Request) -> tuple[int, Any]:
        hooks = re.fullmatch(r"/rest/webhooks/1\.0/webhook(?:/(\d+))?", request.path)
        if hooks:
            return self._webhooks(request, hooks.group(1))
        match = re.fullmatch(r"/rest/api/(2|3|latest)/(.*)", request.path)
        if not match:
            raise JiraError(404, ["Not found"])
        request.version = "2" if match.group(1) == "latest" else match.group(1)
        if request.version == "3" and not self.state.cloud:
            raise JiraError(404, ["REST API version 3 does not exist on Jira Data Center"])
        rest = match.group(2)
        if rest != "serverInfo":
            request.user = self.state.authenticate(request.headers.get("Authorization"))
        matching = [
            (route, found) for route in self._routes if (found := route.pattern.fullmatch(rest))
        ]
        for route, found in matching:
            if route.method == request.method:
                return route.handler(request, *found.groups())
        if matching:  # a resource Jira has, asked with a method it does not take
            raise JiraError(405, [f"Method {request.method} is not allowed for {rest}"])
        raise JiraError(404, [f"No resource {request.method} {rest}"])

    # ------------------------------------------------------------------ routes

    def _make_routes(self) -> list[_Route]:
        table: list[tuple[str, str, Callable[..., tuple[int, Any]]]] = [
            ("GET", r"serverInfo", self._server_info),
            ("GET", r"myself", lambda r: (200, self._renderer().user(_user(r)))),
            ("GET", r"mypermissions", self._my_permissions),
            ("GET", r"field", self._fields),
            ("GET", r"project/([^/]+)", self._project),
            ("GET", r"project/([^/]+)/statuses", self._statuses),
            ("GET", r"project/([^/]+)/components", self._components),
            ("POST", r"issue", self._create),
            ("GET", r"issue/([^/]+)", self._get_issue),
            ("GET", r"issue/([^/]+)/comment", self._comments),
            ("POST", r"issue/([^/]+)/comment", self._add_comment),
            ("GET", r"issue/([^/]+)/transitions", self._transitions),
            ("POST", r"issue/([^/]+)/transitions", self._transition),
            ("POST", r"issue/([^/]+)/attachments", self._attach),
            ("GET", r"issue/([^/]+)/changelog", self._changelog),
            ("GET", r"issueLinkType", self._link_types),
            ("POST", r"issueLink", self._link),
            ("GET", r"search", self._search_dc),
            ("POST", r"search", self._search_dc),
            ("GET", r"search/jql", self._search_jql),
            *VersionApi(self.state, lambda: self.url).routes(),
        ]
        return [_Route(m, re.compile(p), h) for m, p, h in table]

    def _renderer(self, r: _Request | None = None) -> Renderer:
        return Renderer(self.state, self.url, r.user if r is not None else None)

    def _server_info(self, r: _Request) -> tuple[int, Any]:
        cloud = self.state.cloud
        return 200, {
            "baseUrl": self.url,
            "version": "1001.0.0-SNAPSHOT" if cloud else "9.12.15",
            "versionNumbers": [1001, 0, 0] if cloud else [9, 12, 15],
            "deploymentType": "Cloud" if cloud else "Server",
            "buildNumber": 100290 if cloud else 9120015,
            "serverTitle": "Fake Jira",
        }

    def _fields(self, r: _Request) -> tuple[int, Any]:
        system = [
            {"id": f, "key": f, "name": f.capitalize(), "custom": False} for f in SYSTEM_FIELDS
        ]
        custom = [{"id": i, "key": i, "name": n, "custom": True,
                   "schema": {"type": "string", "customId": int(i.split("_")[1])}}
                  for i, n in CUSTOM_FIELDS.items()]  # fmt: skip
        return 200, system + custom

    def _project(self, r: _Request, key: str) -> tuple[int, Any]:
        s = self.state
        project = self._known_project(key, _user(r))
        return 200, {
            "id": project.id, "key": project.key, "name": project.name,
            "self": f"{self.url}/rest/api/2/project/{project.id}",
            "issueTypes": [{"id": i, "name": n} for i, n in s.issue_types],
            "components": self._component_list(project.key),
        }  # fmt: skip

    def _known_project(self, key: str, user: User) -> FakeProject:
        project = self.state.viewable(key, user)
        if project is None:
            raise JiraError(404, [f"No project could be found with key '{key}'."])
        return project

    def _component_list(self, project: str) -> list[dict[str, Any]]:
        if project != self.state.project:
            return []  # only pixbridge's project has components
        return [self._renderer().component({"id": i}) | {"project": project}
                for i in self.state.components]  # fmt: skip

    def _components(self, r: _Request, key: str) -> tuple[int, Any]:
        return 200, self._component_list(self._known_project(key, _user(r)).key)

    def _my_permissions(self, r: _Request) -> tuple[int, Any]:
        """``GET mypermissions``: ``permissions`` is required (as on Cloud and recent DC)."""
        keys = [k for k in r.query.get("permissions", "").split(",") if k.strip()]
        if not keys:
            raise JiraError(400, ["The permissions query parameter is required."])
        unknown = [k for k in keys if k not in PERMISSIONS]
        if unknown:
            raise JiraError(400, [f"The permission key '{unknown[0]}' is not valid."])
        scope = None
        if "projectId" in r.query or "projectKey" in r.query:
            # Jira answers 404 for a project the account may not view (neither browse nor
            # administer), as for one that does not exist; a project it administers answers,
            # BROWSE_PROJECTS false included.
            ref = r.query.get("projectId") or r.query["projectKey"]
            found = self.state.viewable(ref, _user(r))
            if found is None:
                raise JiraError(404, [f"No project could be found with key '{ref}'."])
            scope = found.key
        if "issueId" in r.query or "issueKey" in r.query:
            ref = r.query.get("issueId") or r.query["issueKey"]
            scope = self.state.issue(ref, _user(r)).project
        shown = {}
        for key in keys:
            permission_id, name, kind = PERMISSIONS[key]
            shown[key] = {
                "id": permission_id, "key": key, "name": name, "type": kind,
                "description": f"Ability to {name.lower()}.",
                "havePermission": self.state.permitted(_user(r), key, scope),
            }  # fmt: skip
        return 200, {"permissions": shown}

    def _statuses(self, r: _Request, key: str) -> tuple[int, Any]:
        self._known_project(key, _user(r))
        statuses = [{"name": n, "id": i} for n, i in STATUSES.items()]
        return 200, [{"id": i, "name": n, "statuses": statuses} for i, n in self.state.issue_types]

    def _create(self, r: _Request) -> tuple[int, Any]:
        body = r.json()
        if not isinstance(body, dict) or "fields" not in body:
            raise JiraError(400, ["Issue must have fields"])
        issue = self.state.create(body["fields"], _user(r), adf=r.version == "3")
        return 201, {"id": str(issue.id), "key": issue.key,
                     "self": f"{self.url}/rest/api/{r.version}/issue/{issue.id}"}  # fmt: skip

    def _get_issue(self, r: _Request, key: str) -> tuple[int, Any]:
        issue = self.state.issue(key, _user(r))
        return 200, self._renderer(r).issue(
            issue, r.version, r.query.get("fields"), r.query.get("expand")
        )

    def _comments(self, r: _Request, key: str) -> tuple[int, Any]:
        issue = self.state.issue(key, _user(r))
        start, size = int(r.query.get("startAt", 0)), min(int(r.query.get("maxResults", 50)), 100)
        props = "properties" in r.query.get("expand", "")
        page = issue.comments[start : start + size]
        return 200, {
            "startAt": start, "maxResults": size, "total": len(issue.comments),
            "comments": [self._renderer().comment(issue, c, r.version, props) for c in page],
        }  # fmt: skip

    def _add_comment(self, r: _Request, key: str) -> tuple[int, Any]:
        issue = self.state.issue(key, _user(r))
        body = r.json()
        if not isinstance(body, dict) or "body" not in body:
            raise JiraError(400, errors={"comment": "Comment body can not be empty!"})
        problem = check_body(body["body"], adf=r.version == "3")
        if problem or not body["body"]:
            raise JiraError(400, errors={"comment": problem or "Comment body can not be empty!"})
        comment = self.state.add_comment(issue, _user(r), body)
        return 201, self._renderer().comment(issue, comment, r.version, properties=True)

    def _transitions(self, r: _Request, key: str) -> tuple[int, Any]:
        issue = self.state.issue(key, _user(r))
        return 200, {"expand": "transitions", "transitions": self._renderer().transitions(issue)}

    def _transition(self, r: _Request, key: str) -> tuple[int, Any]:
        self.state.transition(
            self.state.issue(key, _user(r)), _user(r), r.json(), adf=r.version == "3"
        )
        return 204, None

    def _attach(self, r: _Request, key: str) -> tuple[int, Any]:
        issue = self.state.issue(key, _user(r))
        if r.headers.get("X-Atlassian-Token", "").lower() != "no-check":
            raise JiraError(403, ["XSRF check failed"])
        ctype = r.headers.get("Content-Type", "")
        if not ctype.startswith("multipart/form-data"):
            raise JiraError(
                415, ["Unsupported Media Type: attachments are sent as multipart/form-data"]
            )
        message = BytesParser(policy=policy.default).parsebytes(
            f"Content-Type: {ctype}\r\n\r\n".encode() + r.body
        )
        made = []
        for part in message.iter_parts():
            if part.get_param("name", header="content-disposition") != "file":
                continue
            data = part.get_payload(decode=True) or b""
            attachment_id = self.state.next_id()
            entry = {
                "id": str(attachment_id), "self": f"{self.url}/rest/api/2/attachment/{attachment_id}",
                "filename": part.get_filename(), "size": len(data), "author": self._renderer().user(_user(r)),
                "mimeType": part.get_content_type(), "created": jira_time(self.state.touch(issue)),
                "content": f"{self.url}/secure/attachment/{attachment_id}/{part.get_filename()}",
            }  # fmt: skip
            issue.attachments.append(entry)
            made.append(entry)
        if not made:
            raise JiraError(400, ["No file was attached (the form field must be named 'file')."])
        return 200, made

    def _changelog(self, r: _Request, key: str) -> tuple[int, Any]:
        if not self.state.cloud:
            raise JiraError(404, ["No resource GET changelog on Data Center"])
        issue = self.state.issue(key, _user(r))
        start, size = int(r.query.get("startAt", 0)), int(r.query.get("maxResults", 100))
        page = issue.histories[start : start + size]
        return 200, {
            "startAt": start, "maxResults": size, "total": len(issue.histories),
            "isLast": start + size >= len(issue.histories),
            "values": [self._renderer().history(h) for h in page],
        }  # fmt: skip

    def _link_types(self, r: _Request) -> tuple[int, Any]:
        return 200, {"issueLinkTypes": [
            {"id": i, "name": n, "inward": a, "outward": b, "self": f"{self.url}/rest/api/2/issueLinkType/{i}"}
            for i, n, a, b in LINK_TYPES
        ]}  # fmt: skip

    def _link(self, r: _Request) -> tuple[int, Any]:
        body = r.json() or {}
        name = str((body.get("type") or {}).get("name"))
        if not any(t[1] == name for t in LINK_TYPES):
            raise JiraError(404, [f"No issue link type with name '{name}' found."])
        inward = self.state.issue(str((body.get("inwardIssue") or {}).get("key")), _user(r))
        outward = self.state.issue(str((body.get("outwardIssue") or {}).get("key")), _user(r))
        link_id = self.state.next_id()
        inward.links.append((link_id, name, "outwardIssue", outward.key))
        outward.links.append((link_id, name, "inwardIssue", inward.key))
        self.state.touch(inward)
        self.state.touch(outward)
        return 201, None

    def _search_dc(self, r: _Request) -> tuple[int, Any]:
        if self.state.cloud:
            raise JiraError(
                410,
                [
                    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API."
                ],
            )
        params = r.json() if r.method == "POST" else r.query
        hits = self.state.search(str(params.get("jql", "")), _user(r))
        start, size = int(params.get("startAt", 0)), min(int(params.get("maxResults", 50)), 100)
        renderer = self._renderer(r)
        page = [renderer.issue(i, r.version, params.get("fields"), params.get("expand"), search=True)
                for i in hits[start : start + size]]  # fmt: skip
        return 200, {"startAt": start, "maxResults": size, "total": len(hits), "issues": page}

    def _search_jql(self, r: _Request) -> tuple[int, Any]:
        if not self.state.cloud:
            raise JiraError(404, ["No resource search/jql on this Jira Data Center"])
        if "startAt" in r.query:
            raise JiraError(
                400, ["Invalid request payload: startAt is not supported, use nextPageToken."]
            )
        hits = self.state.search(r.query.get("jql", ""), _user(r))
        token = r.query.get("nextPageToken")
        start = int(token[1:]) if token and token.startswith("p") and token[1:].isdigit() else 0
        if token and not start:
            raise JiraError(400, ["Invalid nextPageToken."])
        size = min(int(r.query.get("maxResults", 50)), 5000)
        renderer = self._renderer(r)
        # Without ``fields`` the new search returns ids only.
        fields = r.query.get("fields") or "id"
        page = [renderer.issue(i, r.version, fields, r.query.get("expand"), search=True)
                for i in hits[start : start + size]]  # fmt: skip
        out: dict[str, Any] = {"issues": page, "isLast": start + size >= len(hits)}
        if not out["isLast"]:
            out["nextPageToken"] = f"p{start + size}"
        return 200, out

    # ------------------------------------------------------------------ webhooks

    def _webhooks(self, r: _Request, hook_id: str | None) -> tuple[int, Any]:
        user = self.state.authenticate(r.headers.get("Authorization"))
        if user.name not in self.state.admins:
            raise JiraError(403, ["You do not have the permission to manage webhooks."])
        if r.method != "GET":
            raise JiraError(405, ["Method not allowed"])
        shown = [self._webhook_json(h) for h in self.webhooks]
        if hook_id is None:
            return 200, shown
        for hook, out in zip(self.webhooks, shown, strict=True):
            if str(hook.id) == hook_id:
                return 200, out
        raise JiraError(404, [f"No webhook with id {hook_id}"])

    def _webhook_json(self, hook: FakeWebhook) -> dict[str, Any]:
        # The secret is never shown back, as in Jira.
        return {
            "name": hook.name, "url": hook.url, "events": list(hook.events),
            "filters": {"issue-related-events-section": hook.jql}, "excludeBody": False,
            "enabled": hook.enabled, "self": f"{self.url}/rest/webhooks/1.0/webhook/{hook.id}",
            "lastUpdatedUser": "admin", "lastUpdatedDisplayName": "Administrator",
            "lastUpdated": 1767225600000,
        }  # fmt: skip

    def _announce(
        self,
        event: str,
        issue: FakeIssue,
        user: User,
        comment: Comment | None,
        items: list[dict[str, Any]],
    ) -> None:
        """Called under the state lock: render now, post from another thread (Jira is async)."""
        for hook in self.webhooks:
            if not hook.enabled or event not in hook.events:
                continue
            body = self._renderer().webhook_body(event, issue, user, comment, items, time.time())
            data = json.dumps(body).encode()
            headers = {
                "Content-Type": "application/json; charset=UTF-8",
                "User-Agent": "Atlassian Webhook HTTP Client",
                "X-Atlassian-Webhook-Identifier": str(self.state.next_id()),
                "X-Atlassian-Webhook-Flow": "Primary",
            }
            if hook.secret:
                digest = hmac.new(hook.secret.encode(), data, hashlib.sha256).hexdigest()
                headers["X-Hub-Signature"] = f"sha256={digest}"
            threading.Thread(
                target=self._deliver, args=(hook.url, event, issue.key, data, headers), daemon=True
            ).start()

    def _deliver(
        self, url: str, event: str, key: str, data: bytes, headers: dict[str, str]
    ) -> None:
        request = urllib.request.Request(url, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                status = int(answer.status)
        except urllib.error.HTTPError as exc:
            status = exc.code
        except OSError:
            status = 0
        with self._delivered:
            self.deliveries.append(Delivery(url, event, key, status))
            self._delivered.notify_all()


def _user(r: _Request) -> User:
    assert r.user is not None
    return r.user


def _errors(message: str) -> dict[str, Any]:
    return {"errorMessages": [message], "errors": {}}
