"""Inbound: accept mail durably, then parse, screen, thread, triage, register, respond.

Order of durability (GUIDE §3): the raw bytes are committed to the state store before anything
else happens; the tracker write is preceded by a recorded intent carrying a deterministic marker;
the acknowledgement is queued in the same transaction that records the registration; the mailbox
is told last. A crash anywhere, then a restart, finishes the work without doing any of it twice.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import Any

from pixbridge.errors import AdapterError, MessageRejected, TransientAdapterError
from pixbridge.faults import crashpoint
from pixbridge.lifecycle.app import App
from pixbridge.lifecycle.mailer import Mailer
from pixbridge.mail.ids import marker_for
from pixbridge.mail.parse import ParseLimits, parse_message
from pixbridge.models import (
    CommentDraft,
    Intake,
    MailOutcome,
    ParsedMessage,
    RequestDraft,
    RequestStatus,
    Stage,
    StageEvent,
)
from pixbridge.store.state import MessageRow, RequestRow

__all__ = ["Inbound", "PassStopped"]

log = logging.getLogger("pixbridge.inbound")

_KEY_IN_SUBJECT = re.compile(r"\[([A-Z][A-Z0-9_]*-\d+)\]")
_PRIORITY_RANK = {"blocker": 0, "critical": 10, "high": 20, "normal": 50, "low": 80}


class PassStopped(Exception):
    """A dependency is unavailable; the rest of this pass would fail the same way."""


def backoff(attempt: int, first: float, cap: float, retry_after: float | None = None) -> float:
    """Seconds to wait before attempt number *attempt* + 1 (never less than *retry_after*)."""
    delay = min(cap, first * 2.0 ** max(0, attempt - 1))
    return max(delay, retry_after or 0.0)


class Inbound:
    """The inbound half of the lifecycle."""

    def __init__(self, app: App, mailer: Mailer) -> None:
        self.app = app
        self.mailer = mailer
        life = app.settings.lifecycle
        self.limits = ParseLimits(max_bytes=life.max_message_bytes)
        self.paused_until: datetime | None = None
        """While the tracker is unavailable: no processing before this time (circuit breaker)."""

    # ------------------------------------------------------------------ accept

    def accept(self) -> int:
        """Copy new mail from the mailbox into the state store. Returns how many were new."""
        source, store = self.app.source, self.app.store
        refs = list(source.pending())
        known = store.known_refs(source.name, [r.ref for r in refs])
        accepted = 0
        for ref in refs:
            if ref.ref in known:
                continue
            if accepted >= self.app.settings.lifecycle.batch_size:
                break
            raw = source.read(ref.ref)
            now = self.app.clock.now()
            number = store.accept(source.name, ref.ref, raw, now)
            store.log("accepted", at=now, message=number, mailbox=source.name, size=len(raw))
            accepted += 1
            crashpoint("after_accept")
        return accepted

    # ------------------------------------------------------------------ process

    def process_pending(self) -> int:
        """Take every message that is due through the pipeline. Returns how many were handled."""
        handled = 0
        limit = self.app.settings.lifecycle.batch_size
        if self.paused_until is not None and self.app.clock.now() < self.paused_until:
            return 0
        self.paused_until = None
        while True:
            rows = self.app.store.work(self.app.clock.now(), limit)
            if not rows:
                return handled
            for row in rows:
                try:
                    self.process(row)
                except PassStopped:
                    return handled
                handled += 1
            if len(rows) < limit:
                return handled

    def process(self, row: MessageRow) -> None:
        """Handle one accepted message; failures are recorded, retried or quarantined."""
        event = StageEvent(Stage.PARSE, message_id=row.id)
        try:
            self._process(row)
        except MessageRejected as exc:
            self._quarantine(row, exc.reason, code=exc.code)
        except TransientAdapterError as exc:
            # Not the message's fault: it does not count towards quarantine. Back off and stop
            # the pass, since the next message would meet the same outage.
            self.app.hooks.on_stage_error(event=event, error=exc, ctx=self.app.ctx)
            life = self.app.settings.lifecycle
            wait = backoff(1, life.retry_delay, life.retry_delay_max, exc.retry_after)
            self.paused_until = self.app.clock.now() + timedelta(seconds=wait)
            self.app.store.update_message(
                row.id, last_error=f"{type(exc).__name__}: {exc}", next_attempt_at=self.paused_until
            )
            log.warning("message %s waits %.0fs: %s", row.id, wait, exc)
            raise PassStopped from exc
        except Exception as exc:
            self.app.hooks.on_stage_error(event=event, error=exc, ctx=self.app.ctx)
            self._failed(row, exc)

    def _failed(self, row: MessageRow, exc: Exception) -> None:
        store, life = self.app.store, self.app.settings.lifecycle
        attempts = row.attempts + 1
        error = f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, AdapterError):
            log.exception("message %s failed (attempt %s)", row.id, attempts)
        if attempts >= life.max_attempts:
            self._quarantine(row, f"failed {attempts} times; last error: {error}", code="poison")
            return
        wait = backoff(attempts, life.retry_delay, life.retry_delay_max)
        store.update_message(
            row.id,
            attempts=attempts,
            last_error=error,
            next_attempt_at=self.app.clock.now() + timedelta(seconds=wait),
        )

    def _quarantine(self, row: MessageRow, reason: str, *, code: str) -> None:
        store = self.app.store
        with store.db.transaction():
            store.update_message(
                row.id, state="quarantined", outcome="quarantined", last_error=reason
            )
            store.log(
                "quarantined", at=self.app.clock.now(), message=row.id, code=code, reason=reason
            )
        log.warning("message %s quarantined: %s", row.id, reason)

    def _process(self, row: MessageRow) -> None:
        app, store, ctx = self.app, self.app.store, self.app.ctx
        message = parse_message(store.raw(row.id), limits=self.limits)
        if row.message_id is None and message.message_id is not None:
            store.update_message(
                row.id,
                message_id=message.message_id,
                sender=message.sender,
                subject=message.subject,
            )
        duplicate = store.duplicate_of(row, message.message_id)
        if duplicate is not None:
            self._finish(row, "duplicate", duplicate_of=duplicate)
            return
        screening = app.hooks.screen_message(message=message, ctx=ctx)
        store.update_message(
            row.id, verdict=screening.verdict.value, verdict_reason=screening.reason
        )
        if screening.automated:
            self._finish(row, "automated", verdict=screening.verdict.value, reason=screening.reason)
            return
        if not message.sender:
            raise MessageRejected("the message has no sender address to answer", code="no_sender")
        if message.message_id and store.same_id_other_content(row, message.message_id):
            store.log(
                "message_id_reused",
                at=row.received_at,
                message=row.id,
                message_id=message.message_id,
            )
        language = app.hooks.detect_language(message=message, ctx=ctx)
        key = self._thread(message)
        request = store.request(key) if key else None
        if request is None:
            self._register(row, message, language, follows=None)
        elif request.status == RequestStatus.COMPLETED:
            self._register(row, message, language, follows=request.key)
        else:
            self._comment(row, message, request)

    # ------------------------------------------------------------------ thread

    def _thread(self, message: ParsedMessage) -> str | None:
        """The request a message answers, by rules a forger cannot satisfy (GUIDE §3)."""
        store, ids = self.app.store, self.app.message_ids
        referenced = [*message.in_reply_to, *message.references]
        ours = [m for m in referenced if ids.is_ours(m)]
        key = store.request_for_thread(ours)
        if key is not None:
            return key
        # The customer's own earlier messages, or a key in the subject, count only from a
        # participant: anyone can copy a subject or a Message-ID they have seen.
        key = store.request_for_thread([m for m in referenced if not ids.is_ours(m)])
        if key is not None and store.is_participant(key, message.sender):
            return key
        for candidate in _KEY_IN_SUBJECT.findall(message.subject):
            if store.request(candidate) and store.is_participant(candidate, message.sender):
                return str(candidate)
        return None

    # ------------------------------------------------------------------ register

    def _register(
        self, row: MessageRow, message: ParsedMessage, language: str, *, follows: str | None
    ) -> None:
        app, store, ctx, tracker = self.app, self.app.store, self.app.ctx, self.app.tracker
        intake = Intake(message, row.received_at, message.sender, language)
        completeness = app.hooks.check_completeness(intake=intake, ctx=ctx)
        priority = app.hooks.decide_priority(intake=intake, ctx=ctx)
        assignee = app.hooks.choose_assignee(intake=intake, ctx=ctx)
        marker = row.marker or marker_for(row.mailbox, message.message_id, row.content_hash)
        recovering = row.state == "registering"
        if not recovering:
            # The intent, with its marker, is durable before the tracker is touched: after a
            # crash or a lost response the next attempt reconciles instead of creating again.
            store.update_message(row.id, state="registering", marker=marker)
        app.hooks.before_stage(event=StageEvent(Stage.REGISTER, row.id), ctx=ctx)
        crashpoint("before_create")
        summary = message.subject.strip() or _first_line(message.text) or "(no subject)"
        key = tracker.create_request(
            RequestDraft(
                marker=marker,
                summary=summary[:250],
                description=message.text,
                customer=message.sender,
                language=language,
                priority=priority.level,
                assignee=assignee.assignee,
                labels=("pixbridge",),
                fields={"missing": ", ".join(completeness.missing)} if completeness.missing else {},
                attachments=message.attachments,
                recovering=recovering,
            )
        )
        crashpoint("after_create")
        if follows:
            tracker.link(key, follows)
        status = (
            RequestStatus.WAITING_FOR_CUSTOMER if completeness.missing else RequestStatus.REGISTERED
        )
        if status is not RequestStatus.REGISTERED:
            tracker.set_status(key, status)
        now = row.received_at
        with store.db.transaction():
            store.insert_request(
                RequestRow(
                    key=key,
                    customer=message.sender,
                    language=language,
                    status=status.value,
                    summary=summary[:250],
                    priority=priority.level,
                    priority_reason=priority.reason,
                    assignee=assignee.assignee,
                    assignee_reason=assignee.reason,
                    follows=follows,
                    origin_message=row.id,
                    thread_id=message.message_id,
                    missing=list(completeness.missing),
                    created_at=now,
                    updated_at=now,
                )
            )
            store.update_message(
                row.id,
                state="done",
                outcome="followup" if follows else "new_request",
                request_key=key,
                priority_rank=_PRIORITY_RANK.get(priority.level, 50),
            )
            store.log(
                "registered",
                at=now,
                request_key=key,
                message=row.id,
                actor=message.sender,
                follows=follows,
                priority=priority.level,
                priority_reason=priority.reason,
                assignee=assignee.assignee,
                assignee_reason=assignee.reason,
                missing=list(completeness.missing),
            )
            self._acknowledge(row, message, key, language, summary, follows, completeness.missing)
        crashpoint("after_register")
        app.hooks.after_stage(
            event=StageEvent(Stage.REGISTER, row.id, key, {"follows": follows}), ctx=ctx
        )

    def _acknowledge(
        self,
        row: MessageRow,
        message: ParsedMessage,
        key: str,
        language: str,
        summary: str,
        follows: str | None,
        missing: tuple[str, ...],
    ) -> None:
        store, life = self.app.store, self.app.settings.lifecycle
        suppress = (message.header("x-auto-response-suppress") or "").lower()
        if any(word in suppress for word in ("all", "autoreply")):
            store.log(
                "acknowledgement_suppressed",
                at=row.received_at,
                request_key=key,
                reason="X-Auto-Response-Suppress",
            )
            return
        sent = store.acks_since(message.sender, row.received_at - timedelta(hours=1))
        if sent >= life.acks_per_sender_per_hour:
            store.log(
                "acknowledgement_suppressed",
                at=row.received_at,
                request_key=key,
                reason=f"{sent} acknowledgements to this sender in the last hour",
            )
            return
        self.mailer.queue(
            purpose="followup_acknowledgement" if follows else "acknowledgement",
            cause=f"ack:{row.id}",
            request_key=key,
            recipient=message.sender,
            language=language,
            values={
                "key": key,
                "summary": summary,
                "follows": follows,
                "missing": list(missing),
                "customer_name": message.sender_name,
                "support_name": self.app.settings.support.name,
            },
            at=row.received_at,
            in_reply_to=message.message_id,
            references=message.references,
        )

    # ------------------------------------------------------------------ comment

    def _comment(self, row: MessageRow, message: ParsedMessage, request: RequestRow) -> None:
        app, store, tracker = self.app, self.app.store, self.app.tracker
        marker = row.marker or marker_for(row.mailbox, message.message_id, row.content_hash)
        recovering = row.state == "registering"
        if not recovering:
            store.update_message(row.id, state="registering", marker=marker)
        tracker.add_comment(
            request.key,
            CommentDraft(
                marker=marker,
                body=message.text,
                public=True,
                author=message.sender,
                attachments=message.attachments,
                recovering=recovering,
            ),
        )
        crashpoint("after_comment")
        status = request.status
        if status == RequestStatus.WAITING_FOR_CUSTOMER:
            intake = Intake(
                message, row.received_at, request.customer, request.language, request.key
            )
            completeness = app.hooks.check_completeness(intake=intake, ctx=app.ctx)
            if not completeness.missing:
                tracker.set_status(request.key, RequestStatus.IN_PROGRESS)
                status = RequestStatus.IN_PROGRESS.value
        with store.db.transaction():
            store.add_participant(request.key, message.sender)
            if status != request.status:
                store.set_request_status(request.key, status, row.received_at)
                store.set_missing(request.key, [], row.received_at)
            store.update_message(row.id, state="done", outcome="comment", request_key=request.key)
            store.log(
                "commented",
                at=row.received_at,
                request_key=request.key,
                message=row.id,
                actor=message.sender,
                attachments=[a.filename for a in message.attachments],
                status=status,
            )

    # ------------------------------------------------------------------ finish

    def _finish(self, row: MessageRow, outcome: str, **detail: Any) -> None:
        store = self.app.store
        with store.db.transaction():
            store.update_message(row.id, state="done", outcome=outcome)
            store.log(outcome, at=row.received_at, message=row.id, **detail)

    # ------------------------------------------------------------------ mailbox

    def acknowledge_mailbox(self) -> int:
        """Tell the mailbox about every finished message (moved, never deleted)."""
        source, store = self.app.source, self.app.store
        told = 0
        for row in store.unacknowledged(source.name):
            outcome = (
                MailOutcome.QUARANTINED if row.state == "quarantined" else MailOutcome.PROCESSED
            )
            crashpoint("before_mailbox_ack")
            source.acknowledge(row.source_ref, outcome, row.last_error or "")
            crashpoint("after_mailbox_ack")
            store.update_message(row.id, mailbox_acked=1)
            told += 1
        return told


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:120]
    return ""
