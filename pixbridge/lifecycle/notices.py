"""What pixbridge writes on its own: internal notes for agents and notices to senders.

Internal notes carry a marker so that repeating one after a crash is a no-op; a notice to a
sender goes through the outbox like every other mail, at most once per cause.
"""

from __future__ import annotations

from datetime import timedelta

from pixbridge.lifecycle.app import App
from pixbridge.lifecycle.mailer import Mailer
from pixbridge.mail.bounce import referenced_ids
from pixbridge.mail.ids import marker_for
from pixbridge.mail.parse import parse_head
from pixbridge.models import CommentDraft, ParsedMessage
from pixbridge.store.state import MessageRow

__all__ = ["Notices", "missing_note"]


class Notices:
    """Internal notes on requests and notices to senders."""

    def __init__(self, app: App, mailer: Mailer) -> None:
        self.app = app
        self.mailer = mailer

    def note(self, key: str, marker: str, body: str) -> None:
        """An internal comment by pixbridge; the marker makes a repeat after a crash a no-op."""
        draft = CommentDraft(marker, body, public=False, author="pixbridge", recovering=True)
        self.app.tracker.add_comment(key, draft)

    def bounce(self, row: MessageRow, message: ParsedMessage, reason: str) -> None:
        """A bounce of a message we sent is noted on its request (never answered)."""
        ours = [m for m in referenced_ids(message) if self.app.message_ids.is_ours(m)]
        key = self.app.store.request_for_thread(ours) if ours else None
        if key is None:
            return
        marker = row.marker or marker_for(row.mailbox, message.message_id, row.content_hash)
        body = (
            f"Mail to the customer about this request bounced ({reason}).\n"
            f"From: {message.sender or '-'}\nSubject: {message.subject}\n\n{message.text[:2000]}"
        )
        self.note(key, marker, body)
        self.app.store.log("bounce_noted", at=row.received_at, request_key=key, message=row.id)

    def rejected(self, row: MessageRow, reason: str) -> None:
        """Tell a person whose message was over a limit what to do (once; within the ack cap)."""
        app, store = self.app, self.app.store
        head = parse_head(store.raw(row.id))
        if head is None or not head.sender:
            return
        if app.hooks.screen_message(message=head, ctx=app.ctx).automated:
            return
        life = app.settings.lifecycle
        if store.acks_since(head.sender, row.received_at - timedelta(hours=1)) >= (
            life.acks_per_sender_per_hour
        ):
            store.log("rejection_suppressed", at=row.received_at, message=row.id)
            return
        mb = 1024 * 1024
        self.mailer.put(
            self.mailer.prepare_reply(
                head,
                purpose="rejected",
                cause=f"rejected:{row.id}",
                request_key=None,
                language=app.hooks.detect_language(message=head, ctx=app.ctx),
                values={
                    "subject": head.subject or "(no subject)",
                    "reason": reason,
                    "max_file_mb": app.settings.attachments.max_bytes // mb,
                    "max_message_mb": life.max_message_bytes // mb,
                },
                at=row.received_at,
            )
        )


def missing_note(missing: tuple[str, ...]) -> str:
    """The agent's view of what a request still lacks (item codes, whatever the language)."""
    return (
        "Waiting for the customer: the request still lacks "
        + ", ".join(missing)
        + ". The customer was asked for it; their reply is checked again."
    )
