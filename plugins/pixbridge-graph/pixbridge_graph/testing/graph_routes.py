"""The mail endpoints of the fake Graph, below ``/v1.0/users/{mailbox}``.

Folders (list with 10-per-page paging, get, create with ``ErrorFolderExists``), messages
(list with ``$filter=internetMessageId eq '...'``, get, PATCH, ``/$value``, move), delta
queries (``@odata.nextLink`` pages, ``@odata.deltaLink``, ``@removed`` entries, 410 for an
unknown delta token) and ``sendMail`` with base64 MIME.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from email.utils import getaddresses
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pixbridge_graph.testing.fake_mailbox import FakeFolder, FakeMailbox, FakeMessage, GraphFault

if TYPE_CHECKING:
    from pixbridge_graph.testing.fake_graph import FakeGraph, Recorded

__all__ = ["Reply", "route"]

_PATCHABLE = {"categories", "singleValueExtendedProperties", "isRead"}
_EXTENDED_ID = re.compile(r"^String \{[0-9a-fA-F-]{36}\} Name \w+$")
_FILTER = re.compile(r"^internetMessageId eq '((?:[^']|'')*)'$")
_ADDRESS = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+$")


@dataclass
class Reply:
    """An HTTP answer."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, value: Any) -> Reply:
        """A JSON answer."""
        body = json.dumps(value).encode()
        return cls(status, body, {"Content-Type": "application/json; odata.metadata=minimal"})

    @classmethod
    def error(cls, status: int, code: str, message: str) -> Reply:
        """Graph's error body."""
        inner = {"request-id": secrets.token_hex(8), "date": "2026-01-15T09:00:00"}
        return cls.json(status, {"error": {"code": code, "message": message, "innerError": inner}})


@dataclass
class _Call:
    fake: FakeGraph
    box: FakeMailbox
    record: Recorded

    @property
    def immutable(self) -> bool:
        return 'idtype="immutableid"' in self._prefer()

    def _prefer(self) -> list[str]:
        value = self.record.headers.get("prefer", "")
        return [p.strip().replace(" ", "").lower() for p in value.split(",") if p.strip()]

    def page_size(self, default: int) -> int:
        for value in self._prefer():
            if value.startswith("odata.maxpagesize="):
                return max(1, int(value.split("=", 1)[1]))
        return default

    def param(self, name: str) -> str | None:
        values = self.record.query.get(name)
        return values[0] if values else None

    def json_body(self) -> dict[str, Any]:
        if not self.record.headers.get("content-type", "").startswith("application/json"):
            raise GraphFault(415, "UnsupportedMediaType", "Content-Type must be application/json.")
        try:
            value = json.loads(self.record.body or b"null")
        except ValueError as exc:
            raise GraphFault(400, "BadRequest", "Unable to read JSON request payload.") from exc
        if not isinstance(value, dict):
            raise GraphFault(400, "BadRequest", "Unable to read JSON request payload.")
        return value

    def link(self, path: str, query: str) -> str:
        return f"{self.fake.graph_url}/users/{quote(self.box.address)}{path}?{query}"

    def message_json(self, message: FakeMessage, select: str | None = None) -> dict[str, Any]:
        head = BytesParser(policy=policy.default).parsebytes(message.raw, headersonly=True)
        full = {
            "id": message.id_for(self.immutable),
            "internetMessageId": message.internet_message_id,
            "receivedDateTime": message.received.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "parentFolderId": message.folder,
            "categories": list(message.categories),
            "isRead": message.is_read,
            "subject": str(head.get("Subject", "")),
        }
        if not select:
            return full
        wanted = {s.strip() for s in select.split(",")} | {"id"}
        unknown = wanted - set(full)
        if unknown:
            raise GraphFault(
                400,
                "RequestBroker--ParseUri",
                f"Could not find a property named '{sorted(unknown)[0]}'.",
            )
        return {k: v for k, v in full.items() if k in wanted}


def route(fake: FakeGraph, box: FakeMailbox, record: Recorded, rest: list[str]) -> Reply:
    """Answer a request for *box*; *rest* is the path below ``/users/{mailbox}``."""
    call = _Call(fake, box, record)
    method = record.method
    match rest:
        case ["mailFolders"] if method == "GET":
            return _list_folders(call, None, "/mailFolders")
        case ["mailFolders"] if method == "POST":
            return _create_folder(call, None)
        case ["mailFolders", folder] if method == "GET":
            return Reply.json(200, _folder_json(box, box.folder(folder)))
        case ["mailFolders", folder, "childFolders"] if method == "GET":
            parent = box.folder(folder).id
            return _list_folders(call, parent, f"/mailFolders/{parent}/childFolders")
        case ["mailFolders", folder, "childFolders"] if method == "POST":
            return _create_folder(call, box.folder(folder).id)
        case ["mailFolders", folder, "messages", "delta"] if method == "GET":
            return _delta(call, box.folder(folder))
        case ["mailFolders", folder, "messages"] if method == "GET":
            return _list_messages(call, box.folder(folder))
        case ["messages", ref] if method == "GET":
            return Reply.json(200, call.message_json(box.message(ref), call.param("$select")))
        case ["messages", ref] if method == "PATCH":
            return _patch(call, box.message(ref))
        case ["messages", ref, "$value"] if method == "GET":
            return Reply(200, box.message(ref).raw, {"Content-Type": "text/plain"})
        case ["messages", ref, "move"] if method == "POST":
            destination = call.json_body().get("destinationId")
            if not isinstance(destination, str) or not destination:
                raise GraphFault(400, "ErrorInvalidRequest", "The destinationId is required.")
            return Reply.json(201, call.message_json(box.move(ref, destination)))
        case ["sendMail"] if method == "POST":
            return _send_mail(call)
    raise GraphFault(400, "BadRequest", f"Resource not found for the segment '{'/'.join(rest)}'.")


# ---------------------------------------------------------------------- folders


def _folder_json(box: FakeMailbox, folder: FakeFolder) -> dict[str, Any]:
    return {
        "id": folder.id,
        "displayName": folder.name,
        "parentFolderId": folder.parent,
        "childFolderCount": len(box.children(folder.id)),
        "totalItemCount": sum(1 for m in box.messages.values() if m.folder == folder.id),
    }


def _paged(call: _Call, items: list[dict[str, Any]], path: str, extra: str = "") -> Reply:
    top = int(call.param("$top") or 10)
    skip = int(call.param("$skip") or 0)
    body: dict[str, Any] = {"value": items[skip : skip + top]}
    if skip + top < len(items):
        body["@odata.nextLink"] = call.link(path, f"$top={top}&$skip={skip + top}{extra}")
    return Reply.json(200, body)


def _list_folders(call: _Call, parent: str | None, path: str) -> Reply:
    folders = [_folder_json(call.box, f) for f in call.box.children(parent)]
    return _paged(call, folders, path)


def _create_folder(call: _Call, parent: str | None) -> Reply:
    name = call.json_body().get("displayName")
    if not isinstance(name, str):
        raise GraphFault(400, "ErrorInvalidRequest", "The displayName is required.")
    return Reply.json(201, _folder_json(call.box, call.box.create_folder(parent, name)))


# ---------------------------------------------------------------------- messages


def _list_messages(call: _Call, folder: FakeFolder) -> Reply:
    messages = call.box.in_folder(folder.id)
    wanted = call.param("$filter")
    extra = ""
    if wanted is not None:
        match = _FILTER.match(wanted.strip())
        if match is None:
            raise GraphFault(
                400,
                "ErrorInvalidUrlQueryFilter",
                "The fake supports only internetMessageId eq '...'.",
            )
        value = match.group(1).replace("''", "'")
        messages = [m for m in messages if m.internet_message_id == value]
        extra = f"&$filter={quote(wanted)}"
    select = call.param("$select")
    items = [call.message_json(m, select) for m in messages]
    return _paged(call, items, f"/mailFolders/{folder.id}/messages", extra)


def _patch(call: _Call, message: FakeMessage) -> Reply:
    body = call.json_body()
    unknown = set(body) - _PATCHABLE
    if unknown:
        raise GraphFault(
            400, "ErrorInvalidProperty", f"The property '{sorted(unknown)[0]}' cannot be updated."
        )
    categories = body.get("categories", message.categories)
    if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
        raise GraphFault(400, "BadRequest", "categories must be a list of strings.")
    for prop in body.get("singleValueExtendedProperties", []):
        if not (isinstance(prop, dict) and _EXTENDED_ID.match(str(prop.get("id", "")))):
            raise GraphFault(400, "ErrorInvalidExtendedPropertyValue", f"Bad property id {prop!r}.")
        message.extended[str(prop["id"])] = str(prop.get("value", ""))
    message.categories = list(categories)
    message.is_read = bool(body.get("isRead", message.is_read))
    call.box.touch(message)
    return Reply.json(200, call.message_json(message))


# ---------------------------------------------------------------------- delta


def _delta(call: _Call, folder: FakeFolder) -> Reply:
    skip, delta = call.param("$skiptoken"), call.param("$deltatoken")
    if skip is not None:
        with call.fake.paging.lock:
            state = call.fake.paging.pages.pop(skip, None)
        if state is None:
            raise GraphFault(400, "ErrorInvalidUrlQuery", "The skip token is not valid.")
        entries, position, select = state
    elif delta is not None:
        try:
            where, epoch, pos, select = (
                base64.urlsafe_b64decode(delta.encode()).decode().split("|", 3)
            )
            position = int(pos)
        except (ValueError, binascii.Error) as exc:
            raise GraphFault(410, "SyncStateNotFound", "The sync state is not valid.") from exc
        if where != folder.id or int(epoch) != call.fake.delta_epoch:
            raise GraphFault(
                410, "SyncStateNotFound", "The sync state has expired; start a new sync."
            )
        entries = call.box.changes_since(folder.id, position)
        position = call.box.position()
    else:
        position = call.box.position()
        entries = [(m.immutable_id, "upsert") for m in call.box.in_folder(folder.id)]
        select = call.param("$select") or ""
    size = call.page_size(10)
    page, rest = entries[:size], entries[size:]
    value = []
    for immutable_id, kind in page:
        message = call.box.messages[immutable_id]
        if kind == "remove" or message.folder != folder.id:
            value.append({"id": message.id_for(call.immutable), "@removed": {"reason": "deleted"}})
        else:
            value.append(call.message_json(message, select or None))
    path = f"/mailFolders/{folder.id}/messages/delta"
    body: dict[str, Any] = {"value": value}
    if rest:
        token = secrets.token_urlsafe(12)
        with call.fake.paging.lock:
            call.fake.paging.pages[token] = (rest, position, select)
        body["@odata.nextLink"] = call.link(path, f"$skiptoken={token}")
    else:
        state = f"{folder.id}|{call.fake.delta_epoch}|{position}|{select}"
        token = base64.urlsafe_b64encode(state.encode()).decode()
        body["@odata.deltaLink"] = call.link(path, f"$deltatoken={token}")
    return Reply.json(200, body)


# ---------------------------------------------------------------------- sendMail


def _send_mail(call: _Call) -> Reply:
    kind = call.record.headers.get("content-type", "")
    if not kind:
        raise GraphFault(415, "UnsupportedMediaType", "A Content-Type header is required.")
    if not kind.startswith("text/plain"):
        raise GraphFault(400, "ErrorInvalidRequest", "The fake accepts only MIME (text/plain).")
    try:
        raw = base64.b64decode(call.record.body, validate=True)
    except binascii.Error as exc:
        raise GraphFault(
            400, "ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content."
        ) from exc
    head = BytesParser(policy=policy.compat32).parsebytes(raw, headersonly=True)
    if not head.keys() or not head.get("From"):
        raise GraphFault(
            400, "ErrorMimeContentConversionFailed", "The MIME content could not be converted."
        )
    sender = [a for _, a in getaddresses([str(head["From"])]) if a]
    if [a.casefold() for a in sender] != [call.box.address.casefold()]:
        raise GraphFault(
            403,
            "ErrorSendAsDenied",
            "The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account.",
        )
    recipients = [
        a
        for _, a in getaddresses([str(v) for k in ("To", "Cc", "Bcc") for v in head.get_all(k, [])])
        if a
    ]
    if not recipients or not all(_ADDRESS.match(a) for a in recipients):
        raise GraphFault(400, "ErrorInvalidRecipients", "At least one recipient is not valid.")
    call.box.deliver(raw, "sentitems")
    with call.fake._lock:
        call.fake.sent.append(_without_bcc(raw))
    return Reply(202)


def _without_bcc(raw: bytes) -> bytes:
    """*raw* as recipients get it: the Bcc field (with its folded lines) removed."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    eol = b"\r\n"
    if not sep:
        head, sep, body = raw.partition(b"\n\n")
        eol = b"\n"
    kept: list[bytes] = []
    skipping = False
    for line in head.split(eol):
        if line[:1] in (b" ", b"\t"):
            if not skipping:
                kept.append(line)
            continue
        skipping = line.lower().startswith(b"bcc:")
        if not skipping:
            kept.append(line)
    return eol.join(kept) + sep + body
