"""Inbound: accept mail durably, then parse, screen, thread, triage, register, respond.

Order of durability (GUIDE §3): the raw bytes are committed to the state store before anything
else happens; the tracker write is preceded by a recorded intent carrying a deterministic marker;
the acknowledgement is queued in the same transaction that records the registration; the mailbox
is told last. A crash anywhere, then a restart, finishes the work without doing any of it twice.

Recording that a message is finished does not wait for the disk (``durable=False``): nothing
outside the store acts on it before :meth:`Database.flush` (the mailbox is told, and the
acknowledgement sent, only after one). A power cut before then leaves the message
``registering``: it is done again and the tracker finds the request by its marker.

The intent waits for the disk only where the tracker needs it to: a tracker that looks for the
marker on every write (``Tracker.markers_always_checked``, the local tracker) returns the request
it already has even to a retry that lost its intent, so for it the intent commits relaxed too.
Of the three disk syncs a message once took in the state store, none is left on the embedded
default; the tracker's own commit of the registration is the one that stays.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from pixbridge.errors import AdapterError, MessageRejected
from pixbridge.faults import crashpoint
from pixbridge.licensing import policy as licence_policy
from pixbridge.licensing.records import save_check
from pixbridge.lifecycle.app import App
from pixbridge.lifecycle.instance import ClaimedBatch, Claims
from pixbridge.lifecycle.mailbox import KEY_IN_SUBJECT, PRIORITY_RANK, ParsedCache
from pixbridge.lifecycle.mailer import Mailer, PreparedMail
from pixbridge.lifecycle.notices import Notices, missing_note
from pixbridge.lifecycle.retry import PASSING, PassStopped, backoff, retry_after
from pixbridge.mail.ids import marker_for
from pixbridge.mail.parse import ParseLimits, parse_head, parse_message
from pixbridge.mail.policy import refusal_note, split_attachments
from pixbridge.mail.screen import no_auto_replies_wanted
from pixbridge.mail.trim import trim_reply
from pixbridge.models import (
    CommentDraft,
    Completeness,
    Intake,
    ParsedMessage,
    RequestDraft,
    RequestStatus,
    Stage,
    StageEvent,
    Verdict,
)
from pixbridge.store.db import StoreUnavailable
from pixbridge.store.state import MessageRow, RequestRow
from pixbridge.triage.labels import label_items

__all__ = ["Inbound"]

log = logging.getLogger("pixbridge.inbound")

# MessageRejected codes of a message over a limit: its sender is told what to do, once.
_LIMIT_CODES = frozenset({"too_large", "header_too_long", "too_many_parts", "too_deep"})


class Inbound:
    """The inbound half of the lifecycle."""

    def __init__(self, app: App, mailer: Mailer, claims: Claims) -> None:
        self.app = app
        self.mailer = mailer
        self.claims = claims
        life = app.settings.lifecycle
        self.limits = ParseLimits(max_bytes=life.max_message_bytes)
        self.notices = Notices(app, mailer)
        self.parsed = ParsedCache()
        """Messages the mailbox stage parsed already in this pass."""
        self.paused_until: datetime | None = None
        """While the tracker is unavailable: no processing before this time (circuit breaker)."""

    # ------------------------------------------------------------------ process

    def process_pending(self) -> int:
        """Take every message that is due through the pipeline. Returns how many were handled.

        Messages are claimed a few at a time, so instances sharing the store share the backlog;
        a message left for a later attempt is given back at once.

        :raises PassStopped: the tracker or the store is unavailable (from that error).
        """
        if self.paused_until is not None and self.app.clock.now() < self.paused_until:
            return 0
        self.paused_until = None
        try:
            return self._process_due()
        finally:
            # What is still kept was claimed by another instance, or is left for a later pass,
            # which parses it again: kept, it would hold memory (and the cache's budget) for as
            # long as the loop runs.
            self.parsed.clear()

    def _process_due(self) -> int:
        handled = 0
        store, claims = self.app.store, self.claims
        while True:
            rows = store.claim_work(claims.holder, self.app.clock.now(), claims.ttl, claims.batch)
            if not rows:
                return handled
            batch = ClaimedBatch(
                store, claims, "messages", [r.id for r in rows], self.app.clock.now()
            )
            try:
                for row in rows:
                    if batch.still_ours(row.id, self.app.clock.now()):
                        self.process(row)
                        handled += 1
            except PassStopped as stopped:
                stopped.handled = handled
                raise
            finally:
                # A finished message is nobody's work any more; one left for a later attempt,
                # or not reached, is anybody's.
                store.release_claims(claims.holder)

    def process(self, row: MessageRow) -> None:
        """Handle one accepted message; failures are recorded, retried or quarantined."""
        event = StageEvent(Stage.PARSE, message_id=row.id)
        try:
            try:
                self._process(row)
            finally:
                self.parsed.forget(row.id)
        except MessageRejected as exc:
            self._quarantine(row, exc.reason, code=exc.code)
        except StoreUnavailable as exc:
            # The state database is down: nothing can be recorded, and it is not the message's
            # fault. Stop the pass; the message stays claimed by this instance (which a restart
            # under the same name takes back) or is taken over when the claim expires.
            self.app.hooks.on_stage_error(event=event, error=exc, ctx=self.app.ctx)
            life = self.app.settings.lifecycle
            self.paused_until = self.app.clock.now() + timedelta(
                seconds=backoff(1, life.retry_delay, life.retry_delay_max)
            )
            log.warning("message %s waits: %s", row.id, exc)
            raise PassStopped from exc
        except PASSING as exc:
            # Not the message's fault (an outage, or credentials an operator must renew): it
            # does not count towards quarantine. Back off and stop the pass, since the next
            # message would meet the same problem.
            self.app.hooks.on_stage_error(event=event, error=exc, ctx=self.app.ctx)
            life = self.app.settings.lifecycle
            wait = backoff(1, life.retry_delay, life.retry_delay_max, retry_after(exc))
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
        known = {}
        if row.subject is None:
            # So an operator can tell whose message it is (``pixbridge quarantine list``).
            head = parse_head(store.raw(row.id))
            if head is not None:
                known = {"sender": head.sender, "subject": head.subject}
        with store.db.transaction():
            store.update_message(
                row.id, state="quarantined", outcome="quarantined", last_error=reason, **known
            )
            store.log(
                "quarantined", at=self.app.clock.now(), message=row.id, code=code, reason=reason
            )
            if code in _LIMIT_CODES:
                self.notices.rejected(row, reason)
        log.warning("message %s quarantined: %s", row.id, reason)

    def _process(self, row: MessageRow) -> None:
        app, store, ctx = self.app, self.app.store, self.app.ctx
        message = self.parsed.pop(row.id) or parse_message(store.raw(row.id), limits=self.limits)
        # Hooks run before the transaction: a write transaction holds the store's one write
        # lock (on SQLite), which instances sharing the work would otherwise wait for.
        screening = app.hooks.screen_message(message=message, ctx=ctx)
        # One commit for what parsing and screening found; durable where the tracker needs the
        # intent to be (see the module's docstring).
        with store.db.transaction(durable=not app.tracker.markers_always_checked):
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
            store.update_message(
                row.id, verdict=screening.verdict.value, verdict_reason=screening.reason
            )
            if not screening.automated and message.sender and row.state != "registering":
                # The intent, with its marker, is durable before the tracker is touched: after
                # a crash or a lost response the next attempt reconciles instead of writing
                # again. Recorded here to save a commit; registering or commenting follows.
                marker = marker_for(row.mailbox, message.message_id, row.content_hash)
                store.update_message(row.id, state="registering", marker=marker)
        if screening.automated:
            if screening.verdict is Verdict.BOUNCE:
                self.notices.bounce(row, message, screening.reason)
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
        for candidate in KEY_IN_SUBJECT.findall(message.subject):
            if store.request(candidate) and store.is_participant(candidate, message.sender):
                return str(candidate)
        return None

    # ------------------------------------------------------------------ register

    def _register(
        self, row: MessageRow, message: ParsedMessage, language: str, *, follows: str | None
    ) -> None:
        app, store, ctx, tracker = self.app, self.app.store, self.app.ctx, self.app.tracker
        # A follow-up inherits what its completed predecessor established (OS, serial...).
        previous = store.request(follows) if follows else None
        known = previous.facts if previous else {}
        intake = Intake(message, row.received_at, message.sender, language, known=known)
        completeness = app.hooks.check_completeness(intake=intake, ctx=ctx)
        priority = self.parsed.priority(row.id, intake) or app.hooks.decide_priority(
            intake=intake, ctx=ctx
        )
        # Licence (issue 6, pixbridge/licensing/policy.py): checked as of the arrival time; it
        # may ask for the serial, change the priority, label the request and mail the customer.
        licence = licence_policy.evaluate(app, intake, completeness.found)
        completeness, priority = licence.completeness(completeness), licence.priority(priority)
        assignee = app.hooks.choose_assignee(intake=intake, ctx=ctx)
        marker = row.marker or marker_for(row.mailbox, message.message_id, row.content_hash)
        # The intent was recorded in _process; "registering" before this attempt means an
        # earlier attempt may have created the request already.
        recovering = row.state == "registering"
        app.hooks.before_stage(event=StageEvent(Stage.REGISTER, row.id), ctx=ctx)
        crashpoint("before_create")
        summary = message.subject.strip() or _first_line(message.text) or "(no subject)"
        files, refused = split_attachments(message.attachments, app.settings.attachments)
        # One commit for the request, its notes, link and status where the tracker can.
        with tracker.grouped():
            key = tracker.create_request(
                RequestDraft(
                    marker=marker,
                    summary=summary[:250],
                    description=message.text,
                    customer=message.sender,
                    language=language,
                    priority=app.settings.triage.priority_map.get(priority.level, priority.level),
                    assignee=assignee.assignee,
                    labels=("pixbridge", *licence.labels),
                    fields=licence.fields_with(completeness.missing),
                    attachments=files,
                    recovering=recovering,
                )
            )
            crashpoint("after_create")
            licence.after_create(app, key, marker, recovering)
            if refused:
                self.notices.note(key, f"{marker}-files", refusal_note(refused))
            if follows:
                tracker.link(key, follows)
            if completeness.missing:
                self.notices.note(key, f"{marker}:missing", missing_note(completeness.missing))
            status = (
                RequestStatus.WAITING_FOR_CUSTOMER
                if completeness.missing
                else RequestStatus.REGISTERED
            )
            if status is not RequestStatus.REGISTERED:
                tracker.set_status(key, status)
        # The group is committed: a tracker that groups writes (the local tracker) holds the
        # request only from here, so "after_create" inside the group leaves nothing behind.
        crashpoint("after_tracker")
        now = row.received_at
        ack = self._prepare_ack(row, message, key, language, summary, follows, completeness)
        notice = licence.notice(
            app,
            self.mailer,
            key,
            cause=f"license:{row.id}",
            message=message,
            language=language,
            summary=summary,
        )
        # Not synced at commit: see the module's docstring.
        with store.db.transaction(durable=False):
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
            store.set_facts(key, completeness.found, now)
            store.update_message(
                row.id,
                state="done",
                outcome="followup" if follows else "new_request",
                request_key=key,
                priority_rank=PRIORITY_RANK.get(priority.level, 50),
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
            self._acknowledge(row, message, key, ack)
            licence.record(app, self.mailer, key, notice)
        crashpoint("after_register")
        app.hooks.after_stage(
            event=StageEvent(Stage.REGISTER, row.id, key, {"follows": follows}), ctx=ctx
        )

    def _prepare_ack(
        self,
        row: MessageRow,
        message: ParsedMessage,
        key: str,
        language: str,
        summary: str,
        follows: str | None,
        completeness: Completeness,
    ) -> PreparedMail | None:
        """The acknowledgement, composed; ``None`` if the sender asked for no auto-replies."""
        if no_auto_replies_wanted(message):
            return None
        missing = list(completeness.missing)
        return self.mailer.prepare_reply(
            message,
            purpose="followup_acknowledgement" if follows else "acknowledgement",
            cause=f"ack:{row.id}",
            request_key=key,
            language=language,
            values={
                "key": key,
                "summary": summary,
                "follows": follows,
                "missing": missing,
                "missing_labels": label_items(missing, language, self.app.settings.templates_dir),
            },
            at=row.received_at,
        )

    def _acknowledge(
        self, row: MessageRow, message: ParsedMessage, key: str, ack: PreparedMail | None
    ) -> None:
        """Queue the acknowledgement unless suppressed; inside the registration transaction."""
        store, life = self.app.store, self.app.settings.lifecycle
        if ack is None:
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
        self.mailer.put(ack)

    # ------------------------------------------------------------------ comment

    def _comment(self, row: MessageRow, message: ParsedMessage, request: RequestRow) -> None:
        app, store, tracker = self.app, self.app.store, self.app.tracker
        marker = row.marker or marker_for(row.mailbox, message.message_id, row.content_hash)
        recovering = row.state == "registering"  # see _register
        files, refused = split_attachments(message.attachments, app.settings.attachments)
        tracker.add_comment(
            request.key,
            CommentDraft(
                marker=marker,
                # The reply without the quoted thread; the raw message stays stored as received.
                body=trim_reply(message.text)[0] or message.text,
                public=True,
                author=message.sender,
                attachments=files,
                recovering=recovering,
            ),
        )
        crashpoint("after_comment")
        if refused:
            self.notices.note(request.key, f"{marker}-files", refusal_note(refused))
        status = request.status
        completeness, licence = None, None
        if status == RequestStatus.WAITING_FOR_CUSTOMER:
            # Only the customer's own words count: a quoted acknowledgement names the items too.
            own = replace(message, text=trim_reply(message.text)[0] or message.text)
            intake = Intake(
                own,
                row.received_at,
                request.customer,
                request.language,
                request.key,
                known=request.facts,
            )
            completeness = app.hooks.check_completeness(intake=intake, ctx=app.ctx)
            completeness, licence = licence_policy.recheck_on_reply(
                app, intake, completeness, request.key
            )
            if not completeness.missing:
                tracker.set_status(request.key, RequestStatus.IN_PROGRESS)
                status = RequestStatus.IN_PROGRESS.value
            else:
                self.notices.note(
                    request.key, f"{marker}:missing", missing_note(completeness.missing)
                )
        with store.db.transaction(durable=False):
            store.add_participant(request.key, message.sender)
            if status != request.status:
                store.set_request_status(request.key, status, row.received_at)
            if licence is not None and licence.check is not None:
                save_check(store, request.key, licence.outcome, licence.check)
            if completeness is not None:
                at = row.received_at
                store.set_missing(request.key, list(completeness.missing), at)
                store.set_facts(request.key, {**request.facts, **completeness.found}, at)
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
        with store.db.transaction(durable=False):
            store.update_message(row.id, state="done", outcome=outcome)
            store.log(outcome, at=row.received_at, message=row.id, **detail)


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:120]
    return ""
