"""The ``exchange`` mail source: a folder of an on-premises Exchange mailbox over EWS.

A message's ref is its EWS ItemId. Exchange gives an item a new id when it moves to another
folder; that is harmless, because pixbridge stops using a ref once it has acknowledged it (and
an acknowledge repeated after a crash finds the old id gone, which counts as done).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from pixbridge.adapters import AdapterContext, MailSource
from pixbridge.errors import AdapterError, PermanentAdapterError
from pixbridge.models import InboundRef, MailOutcome
from pixbridge.observability.credentials import CredentialExpiry
from pixbridge_exchange.settings import SourceSettings

# exchangelib (and pixbridge_exchange.connection, which imports it) is imported only when the
# mailbox is first used: importing it costs every pixbridge command ~0.4 s at start-up.
if TYPE_CHECKING:
    from exchangelib.folders import Folder

    from pixbridge_exchange.connection import Mailbox

__all__ = ["QUARANTINE_CATEGORY", "ExchangeSource"]

QUARANTINE_CATEGORY = "pixbridge quarantine"
"""Prefix of the category a quarantined message gets: ``pixbridge quarantine: <reason>``."""

_CATEGORY_MAX = 255
# Events that may put a new message into the watched folder.
_ARRIVAL_EVENTS = ("NewMailEvent", "CreatedEvent", "MovedEvent", "CopiedEvent")


class ExchangeSource(MailSource):
    """Takes customer mail from an Exchange folder as MIME; moves handled mail away."""

    name: ClassVar[str] = "exchange"
    Settings: ClassVar[type[SourceSettings]] = SourceSettings
    secret_fields: ClassVar[tuple[str, ...]] = ("password", "oauth2_client_secret")

    def __init__(
        self,
        settings: SourceSettings,
        context: AdapterContext,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(settings, context)
        self.settings: SourceSettings = settings
        self._sleep = sleep
        self._mailbox: Mailbox | None = None
        self._folders: dict[str, Folder] = {}
        self._seen: set[str] = set()
        self._subscription: tuple[str, str] | None = None
        self._pull_failed = False

    # ------------------------------------------------------------ plumbing

    @property
    def mailbox(self) -> Mailbox:
        """The connection (opened on first use)."""
        if self._mailbox is None:
            from pixbridge_exchange.connection import Mailbox

            self._mailbox = Mailbox(self.settings, sleep=self._sleep)
        return self._mailbox

    def open(self) -> None:
        """Prepare the connection; refuses an incomplete configuration. No I/O yet."""
        _ = self.mailbox

    def credential_expiries(self) -> list[CredentialExpiry]:
        """The OAuth2 client secret's expiry (``oauth2_client_secret_expires``), if set."""
        return self.settings.credential_expiries(self.name)

    def close(self) -> None:
        """Drop the subscription (best effort) and the HTTP sessions; safe to repeat."""
        mailbox, self._mailbox = self._mailbox, None
        if mailbox is None:
            return
        if self._subscription is not None and "source" in self._folders:
            sid = self._subscription[0]
            try:
                self._folders["source"].unsubscribe(sid)
            except Exception as exc:  # the server forgets it after subscription_timeout anyway
                self.context.logger.debug("exchange: unsubscribing failed: %s", exc)
        self._subscription = None
        self._folders.clear()
        mailbox.close()

    def _folder(self, role: str) -> Folder:
        """The ``source``, ``processed`` or ``quarantine`` folder (not retried: call in call())."""
        if role not in self._folders:
            path = {
                "source": self.settings.folder,
                "processed": self.settings.processed,
                "quarantine": self.settings.quarantine,
            }[role]
            create = role != "source" and self.settings.create_folders
            self._folders[role] = self.mailbox.folder(path, create=create)
        return self._folders[role]

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        return self.mailbox.call(f"{what} in {self.settings.mailbox}", fn)

    # ------------------------------------------------------------ MailSource

    def pending(self) -> Iterable[InboundRef]:
        """Item ids in the folder, oldest first (FindItem, paged by ``page_size``)."""
        ids: list[str] = self._call("listing the folder", self._list_ids)
        self._seen = set(ids)
        # Exchange's item size counts properties besides the MIME text, so none is given.
        return [InboundRef(ref) for ref in ids]

    def _list_ids(self) -> list[str]:
        query = self._folder("source").all().order_by("datetime_received").only("id")
        query.page_size = self.settings.page_size
        return [item.id for item in query]

    def read(self, ref: str) -> bytes:
        """The message's MIME content (GetItem), exactly as Exchange gives it."""

        def fetch() -> bytes:
            from exchangelib import ItemId

            from pixbridge_exchange.connection import GONE

            folder = self._folder("source")
            (item,) = list(
                self.mailbox.account.fetch(
                    ids=[ItemId(id=ref)], folder=folder, only_fields=["mime_content"]
                )
            )
            if isinstance(item, GONE):
                raise PermanentAdapterError(
                    f"message {ref!r} is no longer in {self.settings.mailbox} ({item})"
                )
            if isinstance(item, Exception):
                raise item
            content = item.mime_content
            if not content:
                raise PermanentAdapterError(f"message {ref!r} has no MIME content")
            return content if isinstance(content, bytes) else str(content).encode()

        data: bytes = self._call("reading a message", fetch)
        return data

    def acknowledge(self, ref: str, outcome: MailOutcome, reason: str = "") -> None:
        """Move the message to ``processed`` or ``quarantine`` (MoveItem).

        A quarantined message first gets the category ``pixbridge quarantine: <reason>``, so the
        reason can be seen (and searched for) in Outlook. A message already gone (moved by an
        earlier acknowledge) is not an error.
        """
        quarantined = outcome is MailOutcome.QUARANTINED
        target_role = "quarantine" if quarantined else "processed"

        def move() -> None:
            from exchangelib import ItemId, Message

            from pixbridge_exchange.connection import GONE

            target = self._folder(target_role)
            account = self.mailbox.account
            if quarantined:
                label = f"{QUARANTINE_CATEGORY}: {reason}" if reason else QUARANTINE_CATEGORY
                marked = Message(account=account, id=ref, categories=[label[:_CATEGORY_MAX]])
                (result,) = account.bulk_update([(marked, ["categories"])])
                if isinstance(result, GONE):
                    return
                if isinstance(result, Exception):
                    raise result
            (moved,) = account.bulk_move(ids=[ItemId(id=ref)], to_folder=target)
            if isinstance(moved, Exception) and not isinstance(moved, GONE):
                raise moved

        self._call(f"moving a message to {target_role}", move)
        self._seen.discard(ref)

    # ------------------------------------------------------------ waiting

    def wait(self, timeout: float) -> bool:
        """Block until new mail may be there (True) or *timeout* seconds pass (False).

        With ``notifications = "pull"`` a pull subscription on the folder is asked for events
        (GetEvents) every ``poll_interval`` seconds; an arrival wakes us. Where the server
        refuses subscriptions, or with ``"poll"``, the folder is listed instead and an id not
        seen in the last :meth:`pending` wakes us.
        """
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            if self._look():
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(self.settings.poll_interval, remaining))

    def _look(self) -> bool:
        if self.settings.notifications == "pull" and not self._pull_failed:
            try:
                return bool(self._call("asking for new-mail events", self._pull_events))
            except PermanentAdapterError as exc:
                self._pull_failed = True
                self.context.logger.warning(
                    "exchange: pull notifications refused (%s); polling the folder instead", exc
                )
        ids: list[str] = self._call("looking for new mail", self._list_ids)
        return bool(set(ids) - self._seen)

    def _pull_events(self) -> bool:
        from pixbridge_exchange.connection import SUBSCRIPTION_GONE

        folder = self._folder("source")
        if self._subscription is None:
            self._subscription = folder.subscribe_to_pull(
                event_types=list(_ARRIVAL_EVENTS), timeout=self.settings.subscription_timeout
            )
            # Mail may have come before the subscription: one listing covers that gap.
            return bool(set(self._list_ids()) - self._seen)
        sid, watermark = self._subscription
        arrived = False
        try:
            for notification in folder.get_events(sid, watermark):
                for event in notification.events:
                    watermark = getattr(event, "watermark", None) or watermark
                    if type(event).__name__ in _ARRIVAL_EVENTS:
                        arrived = True
        except SUBSCRIPTION_GONE:
            # Expired (or the server restarted): subscribe again and look, in case we missed mail.
            self._subscription = None
            return self._pull_events()
        self._subscription = (sid, watermark)
        return arrived

    # ------------------------------------------------------------ doctor

    def check(self) -> list[str]:
        """Connect, sign in and find the three folders; the problems found, if any."""
        problems = self.settings.missing()
        if problems:
            return [f"[adapters.{self.name}] {p}" for p in problems]
        from pixbridge_exchange.connection import FolderMissing

        found: list[str] = []
        paths = {
            "folder": self.settings.folder,
            "processed": self.settings.processed,
            "quarantine": self.settings.quarantine,
        }
        for key, path in paths.items():
            try:
                # Doctor only looks: a missing folder is created by the first acknowledge.
                self._call(f"finding {path!r}", partial(self.mailbox.folder, path))
            except FolderMissing as exc:
                if key == "folder" or not self.settings.create_folders:
                    found.append(f"[adapters.{self.name}] {key}: {exc}")
            except AdapterError as exc:
                return [f"[adapters.{self.name}] {exc}"]
        return found
