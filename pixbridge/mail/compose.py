"""Building the mail we send: one place, so header injection is impossible by construction."""

from __future__ import annotations

import binascii
import email.utils
import re
from collections.abc import Sequence
from datetime import datetime
from email.header import Header
from email.message import EmailMessage
from email.policy import SMTP

from pixbridge.errors import PixbridgeError
from pixbridge.models import OutgoingMail

__all__ = ["HeaderInjection", "clean_header_text", "compose"]

# Characters that end or split a header line in some reader: never allowed in a value we write.
_BREAKS = ("\r", "\n", "\0", "\u2028", "\u2029", "\x85", "\x0b", "\x0c")


# Python's folder may break a long Subject right after the colon, which some readers show as a
# leading space; RFC 5322 allows lines up to 998 characters, so only fold beyond that.
_POLICY = SMTP.clone(max_line_length=998)


class HeaderInjection(PixbridgeError):
    """A header value would contain a line break: refused rather than sent."""


def clean_header_text(value: str, *, limit: int = 200) -> str:
    """Make untrusted text (a customer's subject) safe for a header: line breaks become spaces."""
    for char in _BREAKS:
        value = value.replace(char, " ")
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _checked(name: str, value: str) -> str:
    if any(char in value for char in _BREAKS):
        raise HeaderInjection(f"refusing to write header {name}: its value contains a line break")
    return value


_PLAIN = re.compile(r"[\x20-\x7e\t\n]*\Z")
"""Text that may go as 7bit: printable ASCII, tabs and line feeds only."""
_PRINTABLE = re.compile(r"[\x20-\x7e\t]*\Z")


def _text_part(msg: EmailMessage, text: str, subtype: str) -> None:
    """Make *msg* a UTF-8 ``text/<subtype>`` part holding *text*.

    Plain ASCII with short lines goes as it is; anything else as quoted-printable, which keeps
    the mail 7-bit clean for any relay yet readable in a raw file. The headers and the body are
    set directly rather than through ``set_content``, whose header parsing and pure-Python QP
    encoder were the costliest steps of composing; ``binascii.b2a_qp`` encodes in C.
    """
    if _PLAIN.match(text) is not None and all(len(ln) <= 78 for ln in text.split("\n")):
        cte, body = "7bit", text
    else:
        cte = "quoted-printable"
        body = binascii.b2a_qp(text.encode("utf-8"), istext=True).decode("ascii")
    if not body.endswith("\n"):
        body += "\n"
    msg.set_raw("Content-Type", f'text/{subtype}; charset="utf-8"')
    msg.set_raw("Content-Transfer-Encoding", cte)
    msg.set_payload(body)


def _set(msg: EmailMessage, name: str, value: str) -> None:
    value = _checked(name, value)
    # Control characters are encoded too: the generator takes \x1c-\x1e for line breaks.
    if _PRINTABLE.match(value) is None:
        if name in ("To", "From"):
            msg[name] = value  # the registry knows how to encode an address's parts
            return
        value = Header(value, "utf-8", header_name=name).encode()
    msg.set_raw(name, value)


def compose(
    *,
    message_id: str,
    sender: str,
    sender_name: str,
    to: str,
    subject: str,
    text: str,
    date: datetime,
    html: str | None = None,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    auto_submitted: str | None = "auto-replied",
    loop_token: str = "pixbridge",
    language: str | None = None,
) -> OutgoingMail:
    """A complete outgoing message.

    :param auto_submitted: ``auto-replied`` for acknowledgements (RFC 3834), ``None`` for a
        person's words (an agent's comment or answer), ``auto-generated`` for notices.
    :raises HeaderInjection: a header value contains a line break.
    """
    msg = EmailMessage(policy=_POLICY)
    # Values are checked for line breaks, encoded (RFC 2047) and stored raw: re-parsing our own
    # well-formed values through the header registry cost more than the rest of the message.
    _set(msg, "Message-ID", message_id)
    _set(msg, "Date", email.utils.format_datetime(date))
    _set(
        msg,
        "From",
        email.utils.formataddr(
            (_checked("From", sender_name), _checked("From", sender)), charset="utf-8"
        ),
    )
    _set(msg, "To", to)
    _set(msg, "Subject", subject)
    if in_reply_to:
        _set(msg, "In-Reply-To", in_reply_to)
    refs = [r for r in references if r]
    if in_reply_to and in_reply_to not in refs:
        refs.append(in_reply_to)
    if refs:
        _set(msg, "References", " ".join(refs[-20:]))
    if auto_submitted:
        _set(msg, "Auto-Submitted", auto_submitted)
    # Ask Exchange and friends not to send out-of-office replies to our mail (MS-OXCMAIL).
    _set(msg, "X-Auto-Response-Suppress", "All")
    _set(msg, "X-Pixbridge-Loop", loop_token)
    if language:
        _set(msg, "Content-Language", language)
    _set(msg, "MIME-Version", "1.0")
    _text_part(msg, text, "plain")
    if html is not None:
        alternative = EmailMessage(policy=_POLICY)
        _text_part(alternative, html, "html")
        msg.make_alternative()
        msg.attach(alternative)
    raw = msg.as_bytes(policy=_POLICY)
    return OutgoingMail(message_id=message_id, sender=sender, recipients=(to,), raw=raw)
