"""``graph``: an Exchange Online mailbox read through Microsoft Graph.

- ``pending()`` runs a delta query over the source folder. The delta link is kept in memory
  only: a new process starts with a fresh delta round, which lists the whole folder. That is
  correct after a restart because the orchestrator skips refs it has already accepted, and it
  costs one listing of what is still waiting (normally little: handled mail is moved out).
  An expired delta link (HTTP 410) starts a fresh round too.
- Refs are Graph's immutable ids (``Prefer: IdType="ImmutableId"`` on every request), so a
  ref stays the same when the message is moved.
- ``acknowledge()`` moves the message to the processed or quarantine folder; a quarantined
  message also gets an Outlook category and the reason in an extended property
  (``String {GUID} Name pixbridgeReason``), visible to Graph and MAPI tools.
- ``wait()`` polls: Graph's change notifications need a public HTTPS webhook, which a
  pixbridge behind a firewall does not have.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

from pixbridge.adapters import AdapterContext, MailSource
from pixbridge.errors import AdapterError, NeedsCredentials, PermanentAdapterError
from pixbridge.models import InboundRef, MailOutcome
from pixbridge.observability.credentials import CredentialExpiry
from pixbridge_graph.credentials import credential_expiries
from pixbridge_graph.errors import GraphRefused
from pixbridge_graph.folders import resolve_folder
from pixbridge_graph.settings import GraphSourceSettings

# The client (requests, tenacity, msal) is imported when an adapter connects, not with the
# package: importing it costs every pixbridge command ~0.2 s at start-up.
if TYPE_CHECKING:
    from pixbridge_graph.client import GraphClient

__all__ = ["REASON_PROPERTY", "GraphSource"]

REASON_PROPERTY = "String {8d3c7a52-4f0e-4d6b-9a59-3f1c2b8e6a10} Name pixbridgeReason"
"""The single-value extended property holding why a message was quarantined."""

_MISSING = frozenset({"ErrorItemNotFound", "ErrorInvalidIdMalformed", "ResourceNotFound"})


class GraphSource(MailSource):
    """The support mailbox in Exchange Online, through Microsoft Graph."""

    name: ClassVar[str] = "graph"
    Settings: ClassVar[type[GraphSourceSettings]] = GraphSourceSettings
    secret_fields: ClassVar[tuple[str, ...]] = ("client_secret", "certificate_password")
    settings: GraphSourceSettings

    def __init__(self, settings: GraphSourceSettings, context: AdapterContext) -> None:
        super().__init__(settings, context)
        self.client: GraphClient | None = None
        self.folders: dict[str, str] = {}
        """``folder``/``processed``/``quarantined`` -> folder id, once resolved."""
        self._delta_link: str | None = None
        self._known: dict[str, tuple[datetime, int]] = {}
        """Immutable id -> (received, first-seen order) of every message in the folder."""
        self._seen = itertools.count()
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle

    def open(self) -> None:
        """Check the settings and find (or create) the three folders."""
        problems = self.settings.setup_problems(self.name)
        if problems:
            raise NeedsCredentials("; ".join(problems))
        self.client = self._connect()
        self._resolve_folders()

    def credential_expiries(self) -> list[CredentialExpiry]:
        """The client secret's (``client_secret_expires``) or the certificate's expiry."""
        return credential_expiries(self.settings, self.name)

    def close(self) -> None:
        """Close the HTTP connections; the delta link is forgotten with the process."""
        if self.client is not None:
            self.client.close()

    def check(self) -> list[str]:
        """Token, mailbox and folders, as ``pixbridge doctor`` shows them."""
        problems = self.settings.setup_problems(self.name)
        if problems:
            return problems
        client = self.client or self._connect()
        try:
            client.tokens.token()
        except AdapterError as exc:
            return [str(exc)]
        try:
            client.get_json("/mailFolders/inbox", params={"$select": "id"})
        except GraphRefused as exc:
            return [f"adapters.{self.name}.mailbox: {self.settings.mailbox!r}: {exc}"]
        except AdapterError as exc:
            return [str(exc)]
        found = []
        s = self.settings
        for key, path in (
            ("folder", s.folder),
            ("processed_folder", s.processed_folder),
            ("quarantine_folder", s.quarantine_folder),
        ):
            create = s.create_folders and key != "folder"
            try:
                resolve_folder(client, path, create=create, key=f"adapters.{self.name}.{key}")
            except AdapterError as exc:
                found.append(str(exc))
        return found

    def _resolve_folders(self) -> None:
        s, client = self.settings, self._client()
        table = f"adapters.{self.name}"
        self.folders = {
            "folder": resolve_folder(client, s.folder, create=False, key=f"{table}.folder"),
            MailOutcome.PROCESSED.value: resolve_folder(
                client, s.processed_folder, create=s.create_folders, key=f"{table}.processed_folder"
            ),
            MailOutcome.QUARANTINED.value: resolve_folder(
                client,
                s.quarantine_folder,
                create=s.create_folders,
                key=f"{table}.quarantine_folder",
            ),
        }

    def _connect(self) -> GraphClient:
        """A new client for the mailbox (no network yet)."""
        from pixbridge_graph.client import GraphClient

        return GraphClient(self.settings, self.name)

    def _client(self) -> GraphClient:
        if self.client is None:
            raise RuntimeError("GraphSource used before open()")
        return self.client

    # ------------------------------------------------------------------ pending

    def pending(self) -> Iterable[InboundRef]:
        """The messages in the source folder, oldest first, after one delta round."""
        with self._lock:
            self._sync()
            ordered = sorted(self._known.items(), key=lambda item: item[1])
        return [InboundRef(ref) for ref, _ in ordered]

    def _sync(self) -> None:
        client = self._client()
        fresh = self._delta_link is None
        # A fresh round lists the whole folder: what it does not list is gone.
        known = {} if fresh else dict(self._known)
        url: str | None = self._delta_link or (
            f"/mailFolders/{quote(self.folders['folder'])}/messages/delta"
        )
        params: dict[str, str] | None = (
            {"$select": "id,internetMessageId,receivedDateTime"} if fresh else None
        )
        prefer = (f"odata.maxpagesize={self.settings.page_size}",)
        while url is not None:
            try:
                page: dict[str, Any] = client.request(
                    "GET", url, params=params, prefer=prefer, what="delta query"
                ).json()
            except GraphRefused as exc:
                if exc.status == 410 and not fresh:  # the delta link expired: start over
                    self._delta_link = None
                    return self._sync()
                raise
            for item in page.get("value", []):
                ref = str(item["id"])
                if "@removed" in item:
                    known.pop(ref, None)
                elif ref not in known:
                    received = _parse_time(item.get("receivedDateTime"))
                    previous = self._known.get(ref)
                    known[ref] = previous or (received, next(self._seen))
            params = None
            next_link = page.get("@odata.nextLink")
            if next_link is None:
                self._delta_link = page.get("@odata.deltaLink")
                if self._delta_link is None:
                    raise PermanentAdapterError(
                        "Graph's delta answer had neither next nor delta link"
                    )
            url = next_link
        self._known = known

    # ------------------------------------------------------------------ read

    def read(self, ref: str) -> bytes:
        """The MIME content of *ref* (``/$value``), if it is still in the source folder."""
        self._where(ref, expect=self.folders["folder"])
        response = self._client().request(
            "GET", f"/messages/{quote(ref, safe='')}/$value", what="read message"
        )
        return response.content

    def _where(self, ref: str, *, expect: str | None = None) -> dict[str, Any]:
        """The message's folder and categories; PermanentAdapterError if it is not in *expect*."""
        try:
            found: dict[str, Any] = self._client().get_json(
                f"/messages/{quote(ref, safe='')}",
                params={"$select": "id,parentFolderId,categories"},
            )
        except GraphRefused as exc:
            if exc.status in (400, 404) and exc.code in _MISSING:
                raise PermanentAdapterError(
                    f"message {ref!r} is not in the mailbox: {exc}"
                ) from exc
            raise
        if expect is not None and found.get("parentFolderId") != expect:
            raise PermanentAdapterError(f"message {ref!r} is no longer in {self.settings.folder!r}")
        return found

    # ------------------------------------------------------------------ acknowledge

    def acknowledge(self, ref: str, outcome: MailOutcome, reason: str = "") -> None:
        """Move *ref* to the processed or quarantine folder (a moved one is left where it is)."""
        target = self.folders[outcome.value]
        try:
            found = self._where(ref)
        except PermanentAdapterError:
            self._forget(ref)  # deleted meanwhile: nothing left to move
            return
        if outcome is MailOutcome.QUARANTINED:
            self._tag(ref, found, reason)
        if found.get("parentFolderId") != target:
            try:
                self._client().request(
                    "POST",
                    f"/messages/{quote(ref, safe='')}/move",
                    json={"destinationId": target},
                    what=f"move message to {outcome.value}",
                )
            except GraphRefused as exc:
                if exc.status != 404:
                    raise
        self._forget(ref)

    def _tag(self, ref: str, found: dict[str, Any], reason: str) -> None:
        categories = [str(c) for c in found.get("categories") or []]
        if self.settings.quarantine_category not in categories:
            categories.append(self.settings.quarantine_category)
        self._client().request(
            "PATCH",
            f"/messages/{quote(ref, safe='')}",
            json={
                "categories": categories,
                "singleValueExtendedProperties": [
                    {"id": REASON_PROPERTY, "value": reason[:1000] or "quarantined"}
                ],
            },
            what="tag quarantined message",
        )

    def _forget(self, ref: str) -> None:
        with self._lock:
            self._known.pop(ref, None)

    # ------------------------------------------------------------------ wait

    def wait(self, timeout: float) -> bool:
        """Sleep for *timeout* or ``poll_interval`` seconds, whichever is shorter: Graph only
        pushes to a public webhook, so new mail is found by the next delta query."""
        time.sleep(max(0.0, min(timeout, self.settings.poll_interval)))
        return False


def _parse_time(value: Any) -> datetime:
    text = str(value or "1970-01-01T00:00:00Z").replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return datetime.fromisoformat("1970-01-01T00:00:00+00:00")
