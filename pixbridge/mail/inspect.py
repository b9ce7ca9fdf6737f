"""What pixbridge understands of one raw message, as plain data (``pixbridge mail inspect``).

Runs the same steps the intake does (parse with the limits, screen, trim the reply) without
settings, a data directory or a tracker, so ops can ask "why did this mail do that?" about a
file, and the corpus report can run it over thousands of messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pixbridge.errors import MessageRejected
from pixbridge.mail.parse import ParseLimits, parse_message
from pixbridge.mail.screen import screen
from pixbridge.mail.trim import trim_reply
from pixbridge.models import ParsedMessage

__all__ = ["OVER_A_LIMIT", "inspect_message", "inspect_parsed"]

OVER_A_LIMIT = "over a limit"
"""The verdict of a message the parser refused (it would be quarantined)."""


def inspect_message(
    raw: bytes, *, own_addresses: Sequence[str] = (), limits: ParseLimits | None = None
) -> dict[str, Any]:
    """Describe *raw* as a JSON-ready dict; a refused message gets verdict ``over a limit``.

    *own_addresses* are the addresses pixbridge sends from (for the ``own`` verdict).
    """
    try:
        message = parse_message(raw, limits=limits)
    except MessageRejected as exc:
        return {
            "verdict": OVER_A_LIMIT,
            "reason": exc.reason,
            "code": exc.code,
            "size": len(raw),
        }
    return inspect_parsed(message, own_addresses=own_addresses)


def inspect_parsed(message: ParsedMessage, *, own_addresses: Sequence[str] = ()) -> dict[str, Any]:
    """Describe an already parsed message (see :func:`inspect_message`)."""
    screening = screen(message, own_addresses)
    kept, trimmed = trim_reply(message.text)
    files = [a for a in message.attachments if not a.inline]
    inline = [a for a in message.attachments if a.inline]
    return {
        "verdict": screening.verdict.value,
        "reason": screening.reason,
        "message_id": message.message_id,
        "sender": message.sender,
        "sender_name": message.sender_name,
        "recipients": list(message.recipients),
        "subject": message.subject,
        "date": message.date.isoformat() if message.date else None,
        "language": message.language,
        "content_type": message.content_type,
        # What becomes the description of a new request or the comment on an existing one.
        "text": kept or message.text,
        "trimmed": trimmed if kept else "",
        "attachments": [_file(a) for a in files],
        "inline_images": [_file(a) for a in inline],
        "defects": list(message.defects),
    }


def _file(attachment: Any) -> dict[str, Any]:
    return {
        "name": attachment.filename,
        "type": attachment.content_type,
        "size": attachment.size,
        "content_id": attachment.content_id,
    }
