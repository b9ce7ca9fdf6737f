"""Pull notifications of the fake EWS endpoint: Subscribe, GetEvents, Unsubscribe."""

from __future__ import annotations

from collections.abc import Callable

from lxml import etree

from pixbridge_exchange.testing.soap import (
    MNS,
    TNS,
    Refused,
    attr,
    child,
    message,
    require,
    response,
)
from pixbridge_exchange.testing.store import FakeFolder, FakeItem, MailboxStore

__all__ = ["get_events", "subscribe", "unsubscribe"]

_EVENT_TYPES = (
    "CopiedEvent",
    "CreatedEvent",
    "DeletedEvent",
    "ModifiedEvent",
    "MovedEvent",
    "NewMailEvent",
    "FreeBusyChangedEvent",
)
_WATERMARK = "AQAAAEw"


def _item_id(item: FakeItem) -> str:
    return f"<t:ItemId Id={attr(item.id)} ChangeKey={attr(item.change_key)}/>"


def subscribe(
    store: MailboxStore,
    folder_ref: Callable[[etree._Element], FakeFolder | None],
    elem: etree._Element,
) -> str:
    """Subscribe: pull subscriptions only."""
    request = child(elem, MNS, "PullSubscriptionRequest")
    if request is None:
        raise Refused("ErrorInvalidRequest", "The fake supports pull subscriptions only.")
    folders = require(request, TNS, "FolderIds")
    refs = [folder_ref(f) for f in folders]
    if not refs or any(f is None for f in refs):
        return response("Subscribe", [message("Subscribe", code="ErrorFolderNotFound")])
    types = {t.text or "" for t in require(request, TNS, "EventTypes")}
    if not types or types - set(_EVENT_TYPES):
        raise Refused("ErrorSchemaValidation", f"Unknown event types {sorted(types)}.")
    timeout = int(require(request, TNS, "Timeout").text or "0")
    if not 1 <= timeout <= 1440:
        raise Refused("ErrorInvalidSubscriptionRequest", "Timeout must be 1..1440 minutes.")
    sub = store.subscribe({f.id for f in refs if f is not None}, types)
    body = f"<m:SubscriptionId>{sub.id}</m:SubscriptionId><m:Watermark>{_WATERMARK}0</m:Watermark>"
    return response("Subscribe", [message("Subscribe", body)])


def get_events(store: MailboxStore, elem: etree._Element) -> str:
    """GetEvents: the events after the watermark, or a StatusEvent."""
    sid = require(elem, MNS, "SubscriptionId").text or ""
    mark = require(elem, MNS, "Watermark").text or ""
    sub = store.subscriptions.get(sid)
    if sub is None:
        return response("GetEvents", [message("GetEvents", code="ErrorSubscriptionNotFound")])
    if not mark.startswith(_WATERMARK) or not mark[len(_WATERMARK) :].isdigit():
        return response("GetEvents", [message("GetEvents", code="ErrorInvalidWatermark")])
    seen = int(mark[len(_WATERMARK) :])
    sub.events = [e for e in sub.events if e[0] > seen]
    events = ""
    for number, kind, item in sub.events:
        events += (
            f"<t:{kind}><t:Watermark>{_WATERMARK}{number}</t:Watermark>"
            f"<t:TimeStamp>2026-01-15T08:00:00Z</t:TimeStamp>{_item_id(item)}"
            f'<t:ParentFolderId Id={attr(item.folder_id)} ChangeKey="AQAAAA=="/></t:{kind}>'
        )
    if not events:
        events = (
            f"<t:StatusEvent><t:Watermark>{_WATERMARK}{sub.watermark}</t:Watermark></t:StatusEvent>"
        )
    body = (
        f"<m:Notification><t:SubscriptionId>{sid}</t:SubscriptionId>"
        f"<t:PreviousWatermark>{mark}</t:PreviousWatermark><t:MoreEvents>false</t:MoreEvents>"
        f"{events}</m:Notification>"
    )
    return response("GetEvents", [message("GetEvents", body)])


def unsubscribe(store: MailboxStore, elem: etree._Element) -> str:
    """Unsubscribe."""
    sid = require(elem, MNS, "SubscriptionId").text or ""
    if store.subscriptions.pop(sid, None) is None:
        return response("Unsubscribe", [message("Unsubscribe", code="ErrorSubscriptionNotFound")])
    return response("Unsubscribe", [message("Unsubscribe")])
