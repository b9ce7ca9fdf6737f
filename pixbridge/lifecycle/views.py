"""Read-only views of requests for the CLI and reports, joining the state store and the tracker."""

from __future__ import annotations

from typing import Any

from pixbridge.errors import AdapterError
from pixbridge.licensing.records import license_view
from pixbridge.lifecycle.app import App
from pixbridge.store.state import RequestRow

__all__ = ["request_summary", "request_view"]


def request_summary(row: RequestRow) -> dict[str, Any]:
    """The short form used by ``requests list``."""
    return {
        "key": row.key,
        "status": row.status,
        "priority": row.priority,
        "summary": row.summary,
        "customer": row.customer,
        "language": row.language,
        "follows": row.follows,
        "missing": row.missing,
        "os_version": row.os_version,
        "serial": row.serial,
        "assignee": row.assignee,
        "created_at": row.created_at.isoformat(),
    }


def request_view(app: App, key: str) -> dict[str, Any] | None:
    """Everything about request *key*: what pixbridge recorded and what the tracker holds."""
    row = app.store.request(key)
    if row is None:
        return None
    view = request_summary(row)
    view.update(
        {
            "priority_level": row.priority,
            "priority_reason": row.priority_reason,
            "license": license_view(app.store, key),
            "assignee": row.assignee,
            "assignee_reason": row.assignee_reason,
            "attachments": [],
            "links": [row.follows] if row.follows else [],
            "comments": [],
            "mail": [
                {
                    "purpose": m.purpose,
                    "message_id": m.message_id,
                    "state": m.state,
                    "to": m.recipient,
                }
                for m in app.store.outbox_for(key)
            ],
        }
    )
    try:
        tracked = app.tracker.get_request(key)
    except AdapterError as exc:
        view["tracker_error"] = str(exc)
        return view
    view.update(
        {
            "status": tracked.status.value,
            "priority": tracked.priority,
            "assignee": tracked.assignee,
            "attachments": list(tracked.attachments),
            "links": list(tracked.links),
            "comments": [
                {
                    "public": c.public,
                    "body": c.body,
                    "author": c.author,
                    "by_pixbridge": c.by_pixbridge,
                    "created_at": c.created_at.isoformat(),
                    "attachments": list(c.attachments),
                }
                for c in tracked.comments
            ],
        }
    )
    return view
