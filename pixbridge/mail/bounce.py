"""Which of our messages a bounce is about.

A delivery report names the message that failed in its attached original (``message/rfc822``)
or its headers (``text/rfc822-headers``); some mail systems only quote it in the text. Every
Message-ID found there is returned; the caller keeps only those it signed itself.
"""

from __future__ import annotations

import re

from pixbridge.models import ParsedMessage

__all__ = ["referenced_ids"]

_ORIGINAL_TYPES = ("message/rfc822", "message/global", "text/rfc822-headers")
_ID_HEADER = re.compile(
    rb"^(?:message-id|in-reply-to|references)\s*:\s*((?:.*\n[ \t].*)*.*)$",
    re.IGNORECASE | re.MULTILINE,
)
_TEXT_ID = re.compile(r"(?im)^\s*(?:message-id|original-message-id)\s*:\s*(<[^<>\s]+>)")
_ID = re.compile(rb"<[^<>\s]+>")
_SCAN = 64 * 1024


def referenced_ids(message: ParsedMessage) -> tuple[str, ...]:
    """Message-IDs the report refers to: the bounced original's own and its references."""
    found: list[str] = [*message.in_reply_to, *message.references]
    for attachment in message.attachments:
        if attachment.content_type not in _ORIGINAL_TYPES:
            continue
        head = attachment.data[:_SCAN].replace(b"\r\n", b"\n")
        end = head.find(b"\n\n")
        for match in _ID_HEADER.finditer(head if end < 0 else head[:end]):
            found += [i.decode("ascii", "replace") for i in _ID.findall(match.group(1))]
    found += _TEXT_ID.findall(message.text[:_SCAN])
    return tuple(dict.fromkeys(found))
