"""Header values decoded from the raw text: 8-bit bytes, RFC 2047 words, ids, dates, addresses.

Decoding happens here rather than through ``email.policy.default``'s header objects, which
raise or leave surrogates on exactly the mail that needs decoding most.
"""

from __future__ import annotations

import binascii
import email.utils
import re
from collections.abc import Callable
from datetime import UTC, datetime

from pixbridge.mail._charset import decode_bytes

__all__ = [
    "ADDR_SPEC",
    "ENCODED_WORD",
    "SURROGATE",
    "Hint",
    "date",
    "decode_header",
    "decode_words",
    "ids",
    "loose_addresses",
    "repair_8bit",
    "return_path",
    "unfold",
]

Hint = Callable[[], "str | None"]
"""Returns the charset to try for undeclared 8-bit header bytes (looked up only when needed)."""

SURROGATE = re.compile("[\udc80-\udcff]")
ENCODED_WORD = re.compile(r"=\?([^?\s*]+)(?:\*[^?\s]*)?\?([QqBb])\?([^?]*?)\?=")
ADDR_SPEC = re.compile(r"[^\s<>()\[\],;:\"@]+(?:@[^\s<>()\[\],;:\"@]+)?")
_UNSAFE_IN_HEADER = re.compile("[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")
_MSG_ID = re.compile(r"<([^<>]*)>")
_BARE_ID = re.compile(r"[^\s<>@]+@[^\s<>@]+")
_TOKEN_SPLIT = re.compile(r"[\s<>()\[\],;\"]+")
_LOOSE_ADDR = re.compile(r"[^\s<>()\[\],;:\"@]+@[^\s<>()\[\],;:\"@]+")


def unfold(value: str) -> str:
    return value.replace("\r", "").replace("\n", "").strip()


def repair_8bit(value: str, hint: Hint) -> tuple[str, tuple[str, ...]]:
    """Decode raw 8-bit bytes the parser kept as surrogate escapes."""
    if not SURROGATE.search(value):
        return value, ()
    decoded = decode_bytes(value.encode("utf-8", "surrogateescape"), hint())
    return decoded.text, ("8bit-header", *decoded.notes)


def decode_words(value: str) -> tuple[str, tuple[str, ...]]:
    """Decode RFC 2047 encoded words, tolerating the usual ways senders break them."""
    if "=?" not in value:
        return value, ()
    notes: list[str] = []
    out: list[str] = []
    pending: list[tuple[str, bytes]] = []

    def flush() -> None:
        # Adjacent words in one charset are joined as bytes first: senders split multibyte
        # characters across words.
        while pending:
            charset, data = pending.pop(0)
            while pending and pending[0][0] == charset:
                data += pending.pop(0)[1]
            decoded = decode_bytes(data, charset)
            notes.extend(decoded.notes)
            out.append(decoded.text)

    pos = 0
    for match in ENCODED_WORD.finditer(value):
        between = value[pos : match.start()]
        if not (pending and not between.strip()):
            flush()
            out.append(between)
        charset, kind, text = match.groups()
        raw = text.encode("utf-8")
        try:
            if kind in "Bb":
                raw = binascii.a2b_base64(raw + b"=" * (-len(raw) % 4))
            else:
                raw = binascii.a2b_qp(raw, header=True)
        except (binascii.Error, ValueError):
            notes.append("bad-encoded-word")
            flush()
            out.append(match.group(0))
            pos = match.end()
            continue
        pending.append((charset.lower(), raw))
        pos = match.end()
    flush()
    out.append(value[pos:])
    return "".join(out), tuple(notes)


def clean_header_text(value: str) -> str:
    # Header values must never carry line breaks into the tracker or into mail we write.
    return _UNSAFE_IN_HEADER.sub(" ", value).strip()


def decode_header(value: str, hint: Hint, *, words: bool = True) -> tuple[str, tuple[str, ...]]:
    text, notes = repair_8bit(unfold(value), hint)
    if words:
        text, more = decode_words(text)
        notes += more
    return clean_header_text(text), notes


def ids(value: str) -> tuple[str, ...]:
    """Message-ids as ``<id>``; a bare ``id@host`` without brackets is accepted too."""
    found = ["".join(m.split()) for m in _MSG_ID.findall(value)]
    if not found:
        found = _BARE_ID.findall(value)
    return tuple(dict.fromkeys(f"<{i}>" for i in found if i))


def date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        # RFC 5322 "-0000": the time is in UTC, the sender only does not say where it is.
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def return_path(value: str | None) -> str | None:
    if value is None:
        return None
    inner = value.strip()
    if inner.startswith("<"):
        inner = inner[1:].split(">", 1)[0]
    found = loose_addresses(inner)
    # "<>" is the null reverse path of bounces and auto-replies: there is nobody to answer.
    return found[0] if found else inner.strip().lower()


def loose_addresses(text: str) -> list[str]:
    """Whole tokens that look like addresses; ``a@b@c`` is none (no part of it is trusted)."""
    return [t.lower() for t in _TOKEN_SPLIT.split(text) if _LOOSE_ADDR.fullmatch(t)]
