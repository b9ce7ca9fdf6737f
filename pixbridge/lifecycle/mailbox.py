"""The mailbox side of intake: accept new mail durably, and tell the mailbox when it is done.

Accepting commits the raw bytes before anything else happens; the mailbox is told (the message
moved, never deleted) only once the message is finished, so a crash at any point leaves the
message either in the mailbox or safely in the state store, and usually both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from pixbridge.faults import crashpoint
from pixbridge.lifecycle.app import App
from pixbridge.mail.parse import ParseLimits, parse_message
from pixbridge.models import Intake, MailOutcome, ParsedMessage, PriorityDecision

__all__ = ["PRIORITY_RANK", "MailboxStage", "ParsedCache"]

KEY_IN_SUBJECT = re.compile(r"\[([A-Z][A-Z0-9_]*-\d+)\]")
PRIORITY_RANK = {"blocker": 0, "critical": 10, "high": 20, "normal": 50, "low": 80}
"""Backlog order: lower is handled first."""

_CHUNK_MESSAGES = 50
_CHUNK_BYTES = 16 * 1024 * 1024


class ParsedCache:
    """Messages parsed at accept time, kept for the processing that follows in the same pass.

    Bounded by raw size so a backlog of large mail cannot grow memory without limit. The
    accept-time priority decision is kept with its message: deciding is the costliest triage
    step, and registration in the same pass usually asks the same question again.
    """

    def __init__(self, budget_bytes: int = 64 * 1024 * 1024) -> None:
        self._items: dict[int, tuple[int, ParsedMessage]] = {}
        self._priorities: dict[int, tuple[Intake, PriorityDecision]] = {}
        self._bytes = 0
        self._budget = budget_bytes

    def put(self, number: int, size: int, message: ParsedMessage) -> None:
        """Keep *message* (of *size* raw bytes) for accepted message *number*, if it fits."""
        if self._bytes + size <= self._budget:
            self._items[number] = (size, message)
            self._bytes += size

    def put_priority(self, number: int, intake: Intake, decision: PriorityDecision) -> None:
        """Keep the priority *decision* made for *intake* with kept message *number*."""
        if number in self._items:
            self._priorities[number] = (intake, decision)

    def pop(self, number: int) -> ParsedMessage | None:
        """The kept message for *number*, forgetting it (its priority stays for :meth:`priority`)."""
        item = self._items.pop(number, None)
        if item is None:
            return None
        self._bytes -= item[0]
        return item[1]

    def priority(self, number: int, intake: Intake) -> PriorityDecision | None:
        """The decision kept for *number* if it was made for the same facts as *intake*.

        Forgets it either way. Facts differ when threading found a predecessor (``known``) or a
        plugin chose another language; then the hook must be asked again.
        """
        kept = self._priorities.pop(number, None)
        if kept is None:
            return None
        before, decision = kept
        same = (
            before.message is intake.message
            and before.received_at == intake.received_at
            and before.customer == intake.customer
            and before.language == intake.language
            and before.request_key == intake.request_key
            and dict(before.known) == dict(intake.known)
        )
        return decision if same else None

    def forget(self, number: int) -> None:
        """Drop whatever is kept for *number* (it is finished without registering)."""
        self.pop(number)
        self._priorities.pop(number, None)

    def clear(self) -> None:
        """Drop everything: the messages left were taken by other instances, or will be again."""
        self._items.clear()
        self._priorities.clear()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True)
class _FirstLook:
    """What :meth:`MailboxStage._first_look` found (nothing if the message does not parse)."""

    message: ParsedMessage | None = None
    known: dict[str, object] = field(default_factory=dict)
    priority: tuple[Intake, PriorityDecision] | None = None


class MailboxStage:
    """Accepts mail from the configured mail source and acknowledges it."""

    def __init__(self, app: App, limits: ParseLimits, parsed: ParsedCache) -> None:
        self.app = app
        self.limits = limits
        self.parsed = parsed

    def accept(self) -> int:
        """Copy new mail from the mailbox into the state store. Returns how many were new."""
        source, store = self.app.source, self.app.store
        refs = list(source.pending())
        known = store.known_refs(source.name, [r.ref for r in refs])
        todo = [r for r in refs if r.ref not in known][: self.app.settings.lifecycle.batch_size]
        accepted = 0
        while accepted < len(todo):
            # Read and look at a chunk first, then record it in one short transaction: the
            # write lock is not held while parsing, which instances sharing the store would
            # otherwise wait for. Several messages per commit, because each commit is an fsync;
            # the mailbox is told nothing before the commit, so a crash only means reading the
            # chunk again.
            chunk: list[tuple[str, bytes, datetime, _FirstLook]] = []
            chunk_bytes = 0
            for ref in todo[accepted : accepted + _CHUNK_MESSAGES]:
                raw = source.read(ref.ref)
                now = self.app.clock.now()
                chunk.append((ref.ref, raw, now, self._first_look(raw, now)))
                chunk_bytes += len(raw)
                if chunk_bytes > _CHUNK_BYTES:
                    break
            numbers = []
            with store.db.transaction():
                for ref_name, raw, now, look in chunk:
                    number = store.accept(source.name, ref_name, raw, now)
                    if look.known:
                        store.update_message(number, **look.known)
                    store.log(
                        "accepted", at=now, message=number, mailbox=source.name, size=len(raw)
                    )
                    numbers.append(number)
            for number, (_, raw, _, look) in zip(numbers, chunk, strict=True):
                if look.message is not None:
                    self.parsed.put(number, len(raw), look.message)
                if look.priority is not None:
                    self.parsed.put_priority(number, *look.priority)
            accepted += len(chunk)
            crashpoint("after_accept")
        return accepted

    def _first_look(self, raw: bytes, now: datetime) -> _FirstLook:
        """What accepting learns of a message: its sender (which keeps a conversation in order
        when instances share the work) and a first guess at urgency, so that blocking problems
        in a backlog go first."""
        try:
            message = parse_message(raw, limits=self.limits)
        except Exception:
            return _FirstLook()  # processing parses it again and records what is wrong with it
        known: dict[str, object] = {
            "sender": message.sender,
            "subject": message.subject,
            "message_id": message.message_id,
        }
        if message.in_reply_to or message.references or KEY_IN_SUBJECT.search(message.subject):
            return _FirstLook(message, known)  # a reply must never overtake its request
        app = self.app
        intake = Intake(message, now, message.sender, message.language)
        try:
            decision = app.hooks.decide_priority(intake=intake, ctx=app.ctx)
        except Exception:
            # The registration decides again, and reports a broken hook there.
            return _FirstLook(message, known)
        rank = PRIORITY_RANK.get(decision.level)
        if rank is not None and rank != PRIORITY_RANK["normal"]:
            known["priority_rank"] = rank
        return _FirstLook(message, known, (intake, decision))

    def acknowledge(self) -> int:
        """Tell the mailbox about every finished message (moved, never deleted)."""
        source, store = self.app.source, self.app.store
        rows = store.unacknowledged(source.name)
        if rows:
            store.db.flush()  # what the mailbox is told must outlive a power cut (inbound.py)
        for start in range(0, len(rows), 100):
            chunk = rows[start : start + 100]
            for row in chunk:
                outcome = (
                    MailOutcome.QUARANTINED if row.state == "quarantined" else MailOutcome.PROCESSED
                )
                crashpoint("before_mailbox_ack")
                source.acknowledge(row.source_ref, outcome, row.last_error or "")
                crashpoint("after_mailbox_ack")
            # Acknowledging is idempotent, so recording it afterwards, a hundred at a time, is
            # safe: after a crash or a failure the mailbox is just told again. The write lock,
            # which instances sharing the store wait for, is not held while the mailbox is told.
            with store.db.transaction():
                for row in chunk:
                    store.update_message(row.id, mailbox_acked=1)
        return len(rows)
