"""Checks on the raw bytes of a message, made before the ``email`` package sees them.

The stdlib header parser is quadratic on long values (gh-136063), so the size of the message,
of its header block and of each header field is checked here first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pixbridge.errors import MessageRejected

__all__ = [
    "DEFAULT_LIMITS",
    "ParseLimits",
    "check_header_block",
    "normalise",
    "repair_header_block",
]


@dataclass(frozen=True)
class ParseLimits:
    """The limits a raw message must stay within (notes/reliability-security.md §4, rule 1)."""

    max_bytes: int = 25 * 1024 * 1024
    """The whole raw message."""
    max_header_bytes: int = 256 * 1024
    """The top-level header block."""
    max_header_line: int = 16 * 1024
    """One header field, its folded continuation lines included."""
    max_parts: int = 200
    """MIME parts in the whole tree, the parts of attached messages included."""
    max_depth: int = 20
    """Nesting of multiparts and attached messages."""


DEFAULT_LIMITS = ParseLimits()

# The test the stdlib feed parser itself uses to decide that a line still belongs to the headers.
_HEADER_LINE = re.compile(rb"(From |[\x21-\x39\x3b-\x7e]+:|[\t ])")
_STRICT_HEADER = re.compile(rb"[A-Za-z][A-Za-z0-9-]*:[ \t]")


def normalise(raw: bytes) -> bytes:
    if raw.startswith(b"From "):
        end = raw.find(b"\n")
        raw = raw[end + 1 :] if end >= 0 else b""
    raw = raw.lstrip(b"\r\n")
    if b"\r\n" in raw:
        raw = raw.replace(b"\r\n", b"\n")
    return raw


def repair_header_block(data: bytes) -> bytes:
    """Keep headers that follow a line the stdlib would take for the start of the body.

    Some senders break the folding of a long header (continuation lines without leading
    white space) or put a banner line before the headers; the stdlib then reads every header
    after that line as body. When a well-formed header line still follows the stray lines
    inside the header block, stray lines become continuations (leading ones are dropped).
    """
    blank = data.find(b"\n\n")
    if blank < 0:
        return data
    lines = data[:blank].split(b"\n")
    stray = {i for i, line in enumerate(lines) if not _HEADER_LINE.match(line)}
    if not stray or not any(_STRICT_HEADER.match(line) for line in lines[max(stray) + 1 :]):
        return data
    fixed: list[bytes] = []
    for index, line in enumerate(lines):
        if index not in stray:
            fixed.append(line)
        elif fixed:
            fixed.append(b" " + line)
    return b"\n".join(fixed) + data[blank:]


def check_header_block(data: bytes, limits: ParseLimits) -> None:
    """Enforce the header limits on the raw top-level header block, before any parsing."""
    if not data.strip():
        raise MessageRejected("message is empty", code="unparseable")
    scan_end = min(len(data), limits.max_header_bytes + 2)
    block_end = data.find(b"\n\n", 0, scan_end)
    block = data[: block_end + 1] if block_end >= 0 else data[:scan_end]
    size = 0
    field_len = 0
    field_name = b""
    for line in block.split(b"\n"):
        if not _HEADER_LINE.match(line):
            break  # the stdlib parser ends the headers here as well
        size += len(line) + 1
        if line[:1] in (b" ", b"\t"):
            field_len += len(line) + 1
        else:
            field_len = len(line)
            field_name = line.split(b":", 1)[0]
        if field_len > limits.max_header_line:
            raise MessageRejected(
                f"header {field_name.decode('ascii', 'replace')!r} is over "
                f"{limits.max_header_line} bytes long (limit {limits.max_header_line} bytes "
                "per header field)",
                code="header_too_long",
            )
        if size > limits.max_header_bytes:
            raise MessageRejected(
                f"header block is over {limits.max_header_bytes} bytes "
                f"(limit {limits.max_header_bytes} bytes)",
                code="header_too_long",
            )
    if size == 0:
        raise MessageRejected("message has no header fields", code="unparseable")
