"""The in-memory mailbox behind the fake EWS endpoint: folders, items, sent mail, subscriptions."""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesHeaderParser

__all__ = ["DISTINGUISHED", "FakeFolder", "FakeItem", "MailboxStore", "Subscription"]

DISTINGUISHED = {
    "root": "Root",
    "msgfolderroot": "Top of Information Store",
    "inbox": "Inbox",
    "sentitems": "Sent Items",
}
"""The distinguished folders the fake knows (id -> display name); each is the parent of the
next, but Sent Items is beside the Inbox."""
ITEM_ID = re.compile(r"^AAMkAGI[0-9a-f]{8}AAA=$")
_BASE_TIME = datetime(2026, 1, 15, 8, 0, tzinfo=UTC)


@dataclass
class FakeFolder:
    """A mail folder."""

    id: str
    name: str
    parent_id: str | None
    distinguished: str | None = None
    folder_class: str = "IPF.Note"


@dataclass
class FakeItem:
    """A message stored in a folder; ``mime`` is kept byte for byte."""

    id: str
    change_key: str
    folder_id: str
    mime: bytes
    received: datetime
    message_id: str | None
    subject: str
    categories: list[str] = field(default_factory=list)


@dataclass
class Subscription:
    """A pull subscription: the events queued for it since its last watermark."""

    id: str
    folder_ids: set[str]
    event_types: set[str]
    watermark: int = 0
    events: list[tuple[int, str, FakeItem]] = field(default_factory=list)


class MailboxStore:
    """One mailbox; every method is safe to call from the server's threads."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.lock = threading.RLock()
        self._ids = itertools.count(1)
        self.folders: dict[str, FakeFolder] = {}
        self.items: dict[str, FakeItem] = {}
        self.sent: list[bytes] = []
        """MIME of every message sent (CreateItem SendOnly/SendAndSaveCopy), in order."""
        self.subscriptions: dict[str, Subscription] = {}
        parent: str | None = None
        for name, display in DISTINGUISHED.items():
            folder_parent = (
                self.distinguished("msgfolderroot").id if name == "sentitems" else parent
            )
            folder = self.add_folder(display, folder_parent, distinguished=name)
            parent = folder.id

    def _next(self) -> int:
        return next(self._ids)

    def add_folder(
        self, name: str, parent_id: str | None, *, distinguished: str | None = None
    ) -> FakeFolder:
        """Create a folder."""
        with self.lock:
            folder_id = f"AQMkAGF{self._next():08x}AAA="
            folder = FakeFolder(folder_id, name, parent_id, distinguished)
            self.folders[folder_id] = folder
            return folder

    def distinguished(self, name: str) -> FakeFolder:
        """The distinguished folder *name* (``inbox``...); KeyError if the fake has none."""
        for folder in self.folders.values():
            if folder.distinguished == name:
                return folder
        raise KeyError(name)

    def folder_by_path(self, path: str) -> FakeFolder:
        """``inbox`` or ``Processed`` or ``inbox/Sub``: the folder below msgfolderroot."""
        parts = path.strip("/").split("/")
        if parts[0].lower() == "inbox":
            folder, parts = self.distinguished("inbox"), parts[1:]
        else:
            folder = self.distinguished("msgfolderroot")
        for name in parts:
            folder = next(
                f
                for f in self.folders.values()
                if f.parent_id == folder.id and f.name.lower() == name.lower()
            )
        return folder

    def children(self, folder_id: str) -> list[FakeFolder]:
        """The direct subfolders of *folder_id*."""
        return [f for f in self.folders.values() if f.parent_id == folder_id]

    def items_in(self, folder_id: str) -> list[FakeItem]:
        """The items of a folder, in arrival order."""
        return [i for i in self.items.values() if i.folder_id == folder_id]

    def store(self, raw: bytes, folder_id: str) -> FakeItem:
        """Put *raw* into a folder as a new arrival (and queue NewMail/Created events)."""
        headers = BytesHeaderParser(policy=policy.compat32).parsebytes(raw)
        with self.lock:
            number = self._next()
            message_id = headers.get("Message-ID")
            item = FakeItem(
                id=f"AAMkAGI{number:08x}AAA=",
                change_key=f"CQAAABYAAAA{number}",
                folder_id=folder_id,
                mime=raw,
                received=_BASE_TIME + timedelta(seconds=number),
                message_id="".join(str(message_id).split()) if message_id else None,
                subject=str(headers.get("Subject", "")),
            )
            self.items[item.id] = item
            self._event("NewMailEvent", item)
            self._event("CreatedEvent", item)
            return item

    def move(self, item_id: str, folder_id: str) -> FakeItem:
        """Move an item; like Exchange, the moved item gets a new id. KeyError if unknown."""
        with self.lock:
            old = self.items.pop(item_id)
            number = self._next()
            moved = FakeItem(
                id=f"AAMkAGI{number:08x}AAA=",
                change_key=f"CQAAABYAAAA{number}",
                folder_id=folder_id,
                mime=old.mime,
                received=old.received,
                message_id=old.message_id,
                subject=old.subject,
                categories=list(old.categories),
            )
            self.items[moved.id] = moved
            self._event("MovedEvent", moved)
            return moved

    def _event(self, kind: str, item: FakeItem) -> None:
        for sub in self.subscriptions.values():
            if item.folder_id in sub.folder_ids and kind in sub.event_types:
                sub.watermark += 1
                sub.events.append((sub.watermark, kind, item))

    def subscribe(self, folder_ids: set[str], event_types: set[str]) -> Subscription:
        """A new pull subscription."""
        with self.lock:
            sub = Subscription(f"JgBzdWJ{self._next():08x}", folder_ids, event_types)
            self.subscriptions[sub.id] = sub
            return sub
