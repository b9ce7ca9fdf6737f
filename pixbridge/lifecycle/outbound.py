"""Outbound: what agents did in the tracker since the watermark becomes mail to the customer.

Each tracker change is handled at most once (``seen_changes``), in the same transaction that
queues its mail, so a crash between the two can neither lose nor repeat a mail. Internal
comments and pixbridge's own comments are recorded, never mailed.
"""

from __future__ import annotations

import logging
from datetime import datetime

from pixbridge.faults import crashpoint
from pixbridge.lifecycle.app import App
from pixbridge.lifecycle.mailer import Mailer
from pixbridge.models import RequestStatus, Stage, StageEvent, TrackerChange
from pixbridge.store.state import RequestRow

__all__ = ["Outbound"]

log = logging.getLogger("pixbridge.outbound")


class Outbound:
    """Mirrors agents' tracker activity to customers."""

    def __init__(self, app: App, mailer: Mailer) -> None:
        self.app = app
        self.mailer = mailer

    @property
    def watermark_name(self) -> str:
        """The watermark's name in the state store."""
        return f"tracker:{self.app.tracker.name}"

    def sync(self) -> int:
        """Handle every tracker change since the watermark. Returns how many were new."""
        store, tracker = self.app.store, self.app.tracker
        handled = 0
        while True:
            watermark = store.watermark(self.watermark_name)
            batch = tracker.changes_since(watermark)
            for change in batch.changes:
                if self._handle(change):
                    handled += 1
                crashpoint("after_sync_change")
            if batch.watermark != watermark:
                store.set_watermark(self.watermark_name, batch.watermark, self.app.clock.now())
            if not batch.changes or batch.watermark == watermark:
                return handled

    def _handle(self, change: TrackerChange) -> bool:
        store = self.app.store
        request = store.request(change.key)
        now = self.app.clock.now()
        with store.db.transaction():
            if not store.mark_change_seen(change.change_id, change.key, now):
                return False
            if request is None:
                # A request pixbridge did not register (created by hand in the tracker).
                store.log(
                    "change_ignored",
                    at=now,
                    request_key=change.key,
                    change=change.change_id,
                    reason="not registered by pixbridge",
                )
                return True
            if change.status is RequestStatus.COMPLETED:
                self._completed(request, change)
            elif change.comment is not None:
                self._commented(request, change)
            elif change.status is not None:
                store.set_request_status(request.key, change.status.value, now)
                store.log(
                    "status_changed",
                    at=now,
                    request_key=request.key,
                    status=change.status.value,
                    change=change.change_id,
                )
        self.app.hooks.after_stage(
            event=StageEvent(
                Stage.SYNC, request_key=change.key, detail={"change": change.change_id}
            ),
            ctx=self.app.ctx,
        )
        return True

    def _thread_refs(self, request: RequestRow) -> tuple[str | None, list[str]]:
        """In-Reply-To and References for mail about *request*: the customer's thread."""
        refs = [m.message_id for m in self.app.store.outbox_for(request.key)]
        first = request.thread_id
        if first:
            refs.insert(0, first)
        last = refs[-1] if refs else None
        return last, refs

    def _mail_customer(
        self, request: RequestRow, change: TrackerChange, purpose: str, now: datetime, **values: str
    ) -> None:
        """Queue the *purpose* mail of an agent's *change* to the customer, in their thread.

        An agent's own words, so not marked ``Auto-Submitted``.
        """
        in_reply_to, refs = self._thread_refs(request)
        self.mailer.put(
            self.mailer.prepare(
                purpose=purpose,
                cause=f"change:{change.change_id}",
                request_key=request.key,
                recipient=request.customer,
                language=request.language,
                values={
                    "key": request.key,
                    "summary": request.summary,
                    "support_name": self.app.settings.support.name,
                    **values,
                },
                at=now,
                in_reply_to=in_reply_to,
                references=refs,
                auto_submitted=None,
            )
        )

    def _completed(self, request: RequestRow, change: TrackerChange) -> None:
        store, now = self.app.store, self.app.clock.now()
        store.set_request_status(request.key, RequestStatus.COMPLETED.value, now)
        self._mail_customer(request, change, "completion", now, answer=change.answer or "")
        store.log("completed", at=now, request_key=request.key, change=change.change_id)

    def _commented(self, request: RequestRow, change: TrackerChange) -> None:
        store, now = self.app.store, self.app.clock.now()
        comment = change.comment
        assert comment is not None
        if comment.by_pixbridge:
            return
        if not comment.public:
            store.log(
                "internal_comment",
                at=now,
                request_key=request.key,
                actor=comment.author,
                change=change.change_id,
            )
            return
        self._mail_customer(
            request, change, "agent_comment", now, comment=comment.body, author=comment.author
        )
        store.log(
            "agent_comment",
            at=now,
            request_key=request.key,
            actor=comment.author,
            change=change.change_id,
        )
