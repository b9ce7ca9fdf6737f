"""The state behind the fake Graph: one Exchange mailbox with folders, messages and a change log.

It models what the adapters rely on and what goes wrong without care:

- every message has an *immutable* id and a *REST* id; the REST id changes whenever the
  message moves (as Exchange's entry ids do). Responses carry the immutable id only when the
  request said ``Prefer: IdType="ImmutableId"``; a stale REST id is ``ErrorItemNotFound``;
- an id that does not look like an Exchange id is ``ErrorInvalidIdMalformed`` (400);
- arrivals get ``receivedDateTime`` one second apart (second precision, as Graph gives it);
- every change is logged per folder so that delta queries can answer "what changed since".
"""

from __future__ import annotations

import base64
import itertools
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser

__all__ = ["FakeFolder", "FakeMailbox", "FakeMessage", "GraphFault"]

WELL_KNOWN = (
    "msgfolderroot",
    "inbox",
    "sentitems",
    "drafts",
    "deleteditems",
    "archive",
    "junkemail",
)
_DISPLAY = {
    "inbox": "Inbox",
    "sentitems": "Sent Items",
    "drafts": "Drafts",
    "deleteditems": "Deleted Items",
    "archive": "Archive",
    "junkemail": "Junk Email",
    "msgfolderroot": "Top of Information Store",
}
_ID = re.compile(r"^AA[A-Za-z0-9_-]{30,}={0,2}$")


class GraphFault(Exception):
    """A Graph error answer: HTTP status, Graph's error code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


def _new_id(prefix: str) -> str:
    return prefix + base64.urlsafe_b64encode(secrets.token_bytes(36)).decode().rstrip("=")


@dataclass
class FakeFolder:
    """A mail folder."""

    id: str
    name: str
    parent: str | None
    well_known: str | None = None


@dataclass
class FakeMessage:
    """A message in the mailbox, with both kinds of id."""

    immutable_id: str
    rest_id: str
    folder: str
    raw: bytes
    received: datetime
    internet_message_id: str | None
    categories: list[str] = field(default_factory=list)
    extended: dict[str, str] = field(default_factory=dict)
    is_read: bool = False

    def id_for(self, immutable: bool) -> str:
        """The id a response carries, by the request's ``Prefer: IdType``."""
        return self.immutable_id if immutable else self.rest_id


class FakeMailbox:
    """One mailbox; every method is safe to call from the server's threads."""

    def __init__(self, address: str, *, start: datetime | None = None) -> None:
        self.address = address
        self.lock = threading.RLock()
        self.folders: dict[str, FakeFolder] = {}
        self.messages: dict[str, FakeMessage] = {}
        """Immutable id -> message."""
        self.log: list[tuple[int, str, str, str]] = []
        """(sequence, folder id, immutable id, "upsert" | "remove"), oldest first."""
        self._seq = itertools.count(1)
        self._clock = (start or datetime(2026, 1, 15, 8, 0, tzinfo=UTC)).replace(microsecond=0)
        for name in WELL_KNOWN:
            parent = None if name == "msgfolderroot" else self.well_known("msgfolderroot").id
            folder = FakeFolder(_new_id("AAMkAGFo"), _DISPLAY[name], parent, name)
            self.folders[folder.id] = folder

    # ------------------------------------------------------------ folders

    def well_known(self, name: str) -> FakeFolder:
        """The well-known folder *name* (``inbox``...)."""
        for folder in self.folders.values():
            if folder.well_known == name:
                return folder
        raise KeyError(name)

    def folder(self, ref: str) -> FakeFolder:
        """A folder by id or well-known name; ``ErrorItemNotFound`` if there is none."""
        with self.lock:
            if ref.lower() in WELL_KNOWN:
                return self.well_known(ref.lower())
            if ref in self.folders:
                return self.folders[ref]
        if not _ID.match(ref):
            raise GraphFault(400, "ErrorInvalidIdMalformed", "Id is malformed.")
        raise GraphFault(
            404, "ErrorItemNotFound", "The specified object was not found in the store."
        )

    def children(self, parent: str | None) -> list[FakeFolder]:
        """The folders directly below *parent* (``None``: the top of the mailbox)."""
        parent = parent or self.well_known("msgfolderroot").id
        with self.lock:
            return [f for f in self.folders.values() if f.parent == parent]

    def create_folder(self, parent: str | None, name: str) -> FakeFolder:
        """A new child folder; ``ErrorFolderExists`` (409) for a name taken among siblings."""
        if not name or not name.strip():
            raise GraphFault(400, "ErrorInvalidRequest", "The displayName is required.")
        with self.lock:
            if any(f.name.casefold() == name.casefold() for f in self.children(parent)):
                raise GraphFault(
                    409, "ErrorFolderExists", "A folder with the specified name already exists."
                )
            folder = FakeFolder(
                _new_id("AAMkAGFo"), name, parent or self.well_known("msgfolderroot").id
            )
            self.folders[folder.id] = folder
            return folder

    def folder_path(self, folder_id: str) -> str:
        """The display path of a folder, like ``Inbox/Processed`` (for assertions)."""
        names = []
        folder: FakeFolder | None = self.folders[folder_id]
        while folder is not None and folder.well_known != "msgfolderroot":
            names.append(folder.name)
            folder = self.folders.get(folder.parent) if folder.parent else None
        return "/".join(reversed(names))

    # ------------------------------------------------------------ messages

    def deliver(self, raw: bytes, folder: str = "inbox") -> FakeMessage:
        """Put *raw* into *folder* as a new arrival, one second after the previous one."""
        head = BytesParser(policy=policy.compat32).parsebytes(raw, headersonly=True)
        message_id = head.get("Message-ID")
        with self.lock:
            self._clock = max(
                self._clock + timedelta(seconds=1), datetime.now(UTC).replace(microsecond=0)
            )
            target = self.folder(folder)
            message = FakeMessage(
                immutable_id=_new_id("AAkALgAA"),
                rest_id=_new_id("AAMkADAw"),
                folder=target.id,
                raw=raw,
                received=self._clock,
                internet_message_id="".join(str(message_id).split()) if message_id else None,
            )
            self.messages[message.immutable_id] = message
            self._changed(target.id, message.immutable_id, "upsert")
            return message

    def message(self, ref: str) -> FakeMessage:
        """A message by immutable or current REST id."""
        with self.lock:
            found = self.messages.get(ref)
            if found is None:
                found = next((m for m in self.messages.values() if m.rest_id == ref), None)
        if found is not None:
            return found
        if not _ID.match(ref):
            raise GraphFault(400, "ErrorInvalidIdMalformed", "Id is malformed.")
        raise GraphFault(
            404, "ErrorItemNotFound", "The specified object was not found in the store."
        )

    def move(self, ref: str, destination: str) -> FakeMessage:
        """Move a message: a new REST id, the same immutable id."""
        with self.lock:
            message = self.message(ref)
            target = self.folder(destination)
            if target.id != message.folder:
                self._changed(message.folder, message.immutable_id, "remove")
                message.folder = target.id
                self._changed(target.id, message.immutable_id, "upsert")
            message.rest_id = _new_id("AAMkADAw")
            return message

    def touch(self, message: FakeMessage) -> None:
        """Log an update of *message* (its properties changed)."""
        with self.lock:
            self._changed(message.folder, message.immutable_id, "upsert")

    def in_folder(self, folder: str) -> list[FakeMessage]:
        """The messages in *folder* (id or well-known name), in arrival order."""
        target = self.folder(folder)
        with self.lock:
            return sorted(
                (m for m in self.messages.values() if m.folder == target.id),
                key=lambda m: m.received,
            )

    def _changed(self, folder: str, immutable_id: str, kind: str) -> None:
        self.log.append((next(self._seq), folder, immutable_id, kind))

    def position(self) -> int:
        """The sequence number of the last change (a delta token points here)."""
        with self.lock:
            return self.log[-1][0] if self.log else 0

    def changes_since(self, folder: str, position: int) -> list[tuple[str, str]]:
        """(immutable id, last kind) of every message changed in *folder* after *position*."""
        with self.lock:
            last: dict[str, str] = {}
            for seq, where, immutable_id, kind in self.log:
                if seq > position and where == folder:
                    last.pop(immutable_id, None)
                    last[immutable_id] = kind
            return list(last.items())
