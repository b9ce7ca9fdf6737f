"""Delivery: the outbox drained through the mail sender.

A mail is marked sent only after the sender returned; a crash in between sends it again with the
same Message-ID, which a sender that can (the Maildir sender, EWS via Sent Items) deduplicates.
The mark is committed without waiting for the disk, so a power cut can do the same for the
mail sent just before it. A sender that makes mail durable a batch at a time
(:attr:`MailSender.batches_durability`) is flushed before its batch is marked, in one commit.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from pixbridge.errors import AdapterError, PermanentAdapterError, TransientAdapterError
from pixbridge.faults import crashpoint
from pixbridge.lifecycle.app import App
from pixbridge.lifecycle.instance import ClaimedBatch, Claims
from pixbridge.lifecycle.retry import PASSING, PassStopped, backoff, retry_after
from pixbridge.models import OutgoingMail
from pixbridge.store.rows import OutboxRow

__all__ = ["Delivery"]

log = logging.getLogger("pixbridge.delivery")


class Delivery:
    """Sends queued mail."""

    def __init__(self, app: App, claims: Claims) -> None:
        self.app = app
        self.claims = claims

    def deliver(self) -> int:
        """Send every due mail. Returns how many were sent.

        :raises PassStopped: the sender asked us to wait (from its error).

        Mail is claimed a few at a time, so instances sharing the store never send one twice;
        after each batch the claims are given back (a sent mail is nobody's work any more, and a
        deferred one is anybody's when its time comes).
        """
        app, store, claims = self.app, self.app.store, self.claims
        sent = 0
        while True:
            rows = store.claim_outbox(claims.holder, app.clock.now(), claims.ttl, claims.batch)
            if not rows:
                return sent
            try:
                sent += self._send(rows)
            except PassStopped as stopped:
                stopped.handled += sent
                raise
            finally:
                store.release_claims(claims.holder)

    def _send(self, rows: list[OutboxRow]) -> int:
        """Send *rows* in order; how many were sent.

        :raises PassStopped: the sender asked us to wait (from its error); the rest of the pass
            would meet the same outage.
        """
        app, store = self.app, self.app.store
        # The rows, and the registrations that queued them, must outlive a power cut before a
        # customer reads about them (inbound.py commits registrations without syncing).
        store.db.flush()
        batch = ClaimedBatch(store, self.claims, "outbox", [r.id for r in rows], app.clock.now())
        # Sent and not yet recorded: recorded per mail, or after the sender's flush per batch.
        sent: list[OutboxRow] = []
        recorded = 0
        try:
            for row in rows:
                if not batch.still_ours(row.id, app.clock.now()):
                    continue  # our claim ran out and another instance sends it
                if self._send_one(row):
                    sent.append(row)
                    if not app.sender.batches_durability:
                        recorded += self._record(sent)
        except PassStopped as stopped:
            # What was sent before the outage is recorded still (and flushed first).
            stopped.handled = self._finish(sent, recorded)
            raise
        return self._finish(sent, recorded)

    def _finish(self, sent: list[OutboxRow], recorded: int) -> int:
        """Record what is left of *sent*; *recorded* and those together.

        :raises PassStopped: the sender could not flush (counting *recorded* as handled).
        """
        try:
            return recorded + self._record(sent)
        except PassStopped as stopped:
            stopped.handled = recorded
            raise

    def _send_one(self, row: OutboxRow) -> bool:
        """Hand *row* to the sender; False when it failed for good (recorded).

        :raises PassStopped: a transient failure (recorded, with the time of the next attempt).
        """
        app, store = self.app, self.app.store
        mail = OutgoingMail(row.message_id, app.settings.support.address, (row.recipient,), row.raw)
        crashpoint("before_send")
        try:
            app.sender.send(mail)
        except PASSING as exc:
            # An outage, or a login an operator must mend: the mail waits, with backoff.
            self._defer([row], exc)
            raise PassStopped(0) from exc
        except PermanentAdapterError as exc:
            with store.db.transaction():
                store.outbox_failed(row.id, str(exc), retry_at=None, permanent=True)
                store.log(
                    "send_failed",
                    at=app.clock.now(),
                    request_key=row.request_key,
                    message_id=row.message_id,
                    error=str(exc),
                )
            log.error("sending %s failed for good: %s", row.message_id, exc)
            return False
        crashpoint("after_send")
        return True

    def _record(self, sent: list[OutboxRow]) -> int:
        """Mark *sent* as sent (after the sender's flush), empty it; how many there were.

        :raises PassStopped: the sender could not flush (the mails stay pending, due again
            after the retry delay, and are sent again then).
        """
        if not sent:
            return 0
        app, store = self.app, self.app.store
        if app.sender.batches_durability:
            try:
                app.sender.flush()
            except TransientAdapterError as exc:
                self._defer(sent, exc)
                sent.clear()
                raise PassStopped(0) from exc
        # Not synced at commit: a power cut (never a process crash) may lose the mark, and the
        # mail is sent again with its Message-ID, as after a crash at "after_send". The next
        # durable commit or flush syncs it.
        with store.db.transaction(durable=False):
            for row in sent:
                store.outbox_sent(row.id, app.clock.now())
                store.log(
                    "sent",
                    at=app.clock.now(),
                    request_key=row.request_key,
                    message_id=row.message_id,
                    purpose=row.purpose,
                )
        count = len(sent)
        sent.clear()
        return count

    def _defer(self, rows: list[OutboxRow], exc: AdapterError) -> None:
        """Record a passing failure (:data:`PASSING`) on each of *rows*, due again after its
        backoff."""
        app, store = self.app, self.app.store
        life = app.settings.lifecycle
        for row in rows:
            wait = backoff(
                row.attempts + 1, life.retry_delay, life.retry_delay_max, retry_after(exc)
            )
            store.outbox_failed(
                row.id,
                str(exc),
                retry_at=app.clock.now() + timedelta(seconds=wait),
                permanent=False,
            )
            log.warning("sending %s deferred %.0fs: %s", row.message_id, wait, exc)
