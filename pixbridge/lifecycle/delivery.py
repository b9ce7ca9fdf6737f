"""Delivery: the outbox drained through the mail sender.

A mail is marked sent only after the sender returned; a crash in between sends it again with the
same Message-ID, which a sender that can (the Maildir sender, EWS via Sent Items) deduplicates.
The mark is committed without waiting for the disk, so a power cut can do the same for the
mail sent just before it.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from pixbridge.errors import PermanentAdapterError, TransientAdapterError
from pixbridge.faults import crashpoint
from pixbridge.lifecycle.app import App
from pixbridge.lifecycle.instance import ClaimedBatch, Claims
from pixbridge.lifecycle.retry import PassStopped, backoff
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
        life = app.settings.lifecycle
        sent = 0
        # The rows, and the registrations that queued them, must outlive a power cut before a
        # customer reads about them (inbound.py commits registrations without syncing).
        store.db.flush()
        batch = ClaimedBatch(store, self.claims, "outbox", [r.id for r in rows], app.clock.now())
        for row in rows:
            if not batch.still_ours(row.id, app.clock.now()):
                continue  # our claim ran out and another instance sends it
            mail = OutgoingMail(
                row.message_id, app.settings.support.address, (row.recipient,), row.raw
            )
            crashpoint("before_send")
            try:
                app.sender.send(mail)
            except TransientAdapterError as exc:
                wait = backoff(
                    row.attempts + 1, life.retry_delay, life.retry_delay_max, exc.retry_after
                )
                store.outbox_failed(
                    row.id,
                    str(exc),
                    retry_at=app.clock.now() + timedelta(seconds=wait),
                    permanent=False,
                )
                log.warning("sending %s deferred %.0fs: %s", row.message_id, wait, exc)
                raise PassStopped(sent) from exc
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
                continue
            crashpoint("after_send")
            # Not synced at commit: a power cut (never a process crash) may lose the mark, and
            # the mail is sent again with its Message-ID, as after a crash at "after_send". The
            # next durable commit or flush syncs it.
            with store.db.transaction(durable=False):
                store.outbox_sent(row.id, app.clock.now())
                store.log(
                    "sent",
                    at=app.clock.now(),
                    request_key=row.request_key,
                    message_id=row.message_id,
                    purpose=row.purpose,
                )
            sent += 1
        return sent
