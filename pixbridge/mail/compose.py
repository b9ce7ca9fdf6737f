"""Building the mail we send: one place, so header injection is impossible by construction.

The message is written out as bytes here rather than built as an ``EmailMessage`` and flattened,
for speed: ``as_bytes()`` re-parsed every header we had set raw through the policy's header
registry, ``make_alternative()`` moved headers about and the boundary check compiled a regex per
message. Measured with timeit on a 1.5 KB acknowledgement: 0.46 ms → 0.05 ms as plain text,
1.6 ms → 0.09 ms with an HTML alternative. The bytes are those ``as_bytes(policy=SMTP)`` wrote,
but for the random boundary; tests/mail/test_compose.py keeps the old builder and compares.
"""

from __future__ import annotations

import binascii
import email.utils
import random
import re
import sys
from collections.abc import Sequence
from datetime import datetime
from email.header import Header
from email.policy import SMTP

from pixbridge.errors import PixbridgeError
from pixbridge.models import OutgoingMail

__all__ = ["HeaderInjection", "clean_header_text", "compose"]

# Characters that end or split a header line in some reader: never allowed in a value we write.
_BREAKS = ("\r", "\n", "\0", "\u2028", "\u2029", "\x85", "\x0b", "\x0c")


# Python's folder may break a long Subject right after the colon, which some readers show as a
# leading space; RFC 5322 allows lines up to 998 characters, so only fold beyond that.
_MAX_LINE = 998
_POLICY = SMTP.clone(max_line_length=_MAX_LINE)


class HeaderInjection(PixbridgeError):
    """A header value would contain a line break: refused rather than sent."""


def clean_header_text(value: str, *, limit: int = 200) -> str:
    """Make untrusted text (a customer's subject) safe for a header: line breaks become spaces."""
    for char in _BREAKS:
        value = value.replace(char, " ")
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 1] + "…"


_BREAK = re.compile("[" + "".join(_BREAKS) + "]")


def _checked(name: str, value: str) -> str:
    if _BREAK.search(value) is not None:
        raise HeaderInjection(f"refusing to write header {name}: its value contains a line break")
    return value


_PLAIN = re.compile(r"[\x20-\x7e\t\n]*\Z")
"""Text that may go as 7bit: printable ASCII, tabs and line feeds only."""
_PRINTABLE = re.compile(r"[\x20-\x7e\t]*\Z")
_NEWLINES = re.compile(r"\r\n|\r|\n")
_CRLF = "\r\n"


def _text_part(text: str, subtype: str) -> str:
    """A UTF-8 ``text/<subtype>`` entity holding *text*: headers (after *first*), blank line, body.

    Plain ASCII with short lines goes as it is; anything else as quoted-printable, which keeps
    the mail 7-bit clean for any relay yet readable in a raw file. ``binascii.b2a_qp`` encodes in
    C; the stdlib's ``set_content`` parsed headers and ran a pure-Python QP encoder.
    """
    if _PLAIN.match(text) is not None and all(len(ln) <= 78 for ln in text.split("\n")):
        cte, body = "7bit", text
    else:
        cte = "quoted-printable"
        body = binascii.b2a_qp(text.encode("utf-8"), istext=True).decode("ascii")
    if not body.endswith("\n"):
        body += "\n"
    # Every line ending, a lone CR included (b2a_qp passes it through), goes out as CRLF.
    body = _NEWLINES.sub(_CRLF, body) if "\r" in body else body.replace("\n", _CRLF)
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        f"Content-Transfer-Encoding: {cte}\r\n\r\n{body}"
    )


def _header(name: str, value: str) -> str:
    """The header *name* with *value*, CRLF-terminated, as ``EmailMessage`` would write it."""
    value = _checked(name, value)
    # Control characters are encoded too: the generator takes \x1c-\x1e for line breaks.
    if _PRINTABLE.match(value) is None:
        if name in ("To", "From"):
            # The registry knows how to encode an address's parts; it also refuses a value it
            # would split into lines (ValueError), as setting the header on a message did.
            _, parsed = _POLICY.header_store_parse(name, value)
            return _POLICY.fold_binary(name, parsed).decode("ascii", "surrogateescape")
        value = Header(value, "utf-8", header_name=name).encode()
    elif len(name) + 2 + len(value) <= _MAX_LINE:
        return f"{name}: {value}\r\n"
    # An encoded value on several lines, or one line too long: the policy folds it.
    return _POLICY.fold_binary(name, value).decode("ascii", "surrogateescape")


_BOUNDARY_DIGITS = len(repr(sys.maxsize - 1))


def _new_boundary() -> str:
    """A boundary like the stdlib's: unguessable enough that no text holds it but by chance."""
    return f"{'=' * 15}{random.randrange(sys.maxsize):0{_BOUNDARY_DIGITS}d}=="


def _alternative(*parts: str) -> tuple[str, str]:
    """The Content-Type header and body of a ``multipart/alternative`` holding *parts*."""
    boundary = _new_boundary()
    while any(boundary in part for part in parts):
        boundary = _new_boundary()
    delimiter = f"--{boundary}\r\n"
    body = delimiter + f"\r\n{delimiter}".join(parts) + f"\r\n--{boundary}--\r\n"
    return f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n', body


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
    # Values are checked for line breaks and encoded (RFC 2047); well-formed ones are written
    # as they are, without a round trip through the header registry.
    from_ = email.utils.formataddr(
        (_checked("From", sender_name), _checked("From", sender)), charset="utf-8"
    )
    headers = [
        _header("Message-ID", message_id),
        _header("Date", email.utils.format_datetime(date)),
        _header("From", from_),
        _header("To", to),
        _header("Subject", subject),
    ]
    if in_reply_to:
        headers.append(_header("In-Reply-To", in_reply_to))
    refs = [r for r in references if r]
    if in_reply_to and in_reply_to not in refs:
        refs.append(in_reply_to)
    if refs:
        headers.append(_header("References", " ".join(refs[-20:])))
    if auto_submitted:
        headers.append(_header("Auto-Submitted", auto_submitted))
    # Ask Exchange and friends not to send out-of-office replies to our mail (MS-OXCMAIL).
    headers.append(_header("X-Auto-Response-Suppress", "All"))
    headers.append(_header("X-Pixbridge-Loop", loop_token))
    content_language = _header("Content-Language", language) if language else ""
    if html is None:
        headers.append(content_language)
        headers.append("MIME-Version: 1.0\r\n")
        body = _text_part(text, "plain")
    else:
        # Content-Language describes the whole message, both alternatives, so it is at the top
        # (RFC 3282), where clients that pick a spelling checker or a reply language look.
        headers.append("MIME-Version: 1.0\r\n")
        content_type, body = _alternative(_text_part(text, "plain"), _text_part(html, "html"))
        headers.append(content_type)
        headers.append(content_language + _CRLF)
    raw = "".join(headers) + body
    return OutgoingMail(
        message_id=message_id,
        sender=sender,
        recipients=(to,),
        raw=raw.encode("ascii", "surrogateescape"),
    )
