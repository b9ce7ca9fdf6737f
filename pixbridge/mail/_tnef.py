"""TNEF (``winmail.dat``, ``application/ms-tnef``): Outlook's wrapper around files and body.

Unpacked with ``tnefparse`` (pure Python). A wrapper that does not decode is kept as it came,
so nothing the customer sent is lost; the caller notes a defect.
"""

from __future__ import annotations

import logging
import mimetypes
from dataclasses import dataclass

from tnefparse.tnef import TNEF

from pixbridge.mail._charset import decode_bytes

__all__ = ["Unpacked", "is_tnef", "unpack_tnef"]

_TNEF_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})
_SIGNATURE = b"\x78\x9f\x3e\x22"
# tnefparse logs every attribute it does not know at WARNING; customer mail is not our bug.
logging.getLogger("tnefparse").setLevel(logging.ERROR)


@dataclass(frozen=True)
class Unpacked:
    """What a TNEF wrapper held."""

    files: tuple[tuple[str, str, bytes], ...]
    """(name, content type, data) of each attached file."""
    text: str | None
    html: str | None


def is_tnef(content_type: str, filename: str | None, data: bytes) -> bool:
    """Whether a part is a TNEF wrapper (by type or by name, and by its signature)."""
    named = (filename or "").lower() == "winmail.dat"
    return (content_type in _TNEF_TYPES or named) and data.startswith(_SIGNATURE)


def unpack_tnef(data: bytes, max_files: int) -> Unpacked | None:
    """Unpack a TNEF wrapper; ``None`` when it cannot be decoded or holds over *max_files*."""
    try:
        tnef = TNEF(data, do_checksum=False)
        files = []
        for attachment in tnef.attachments:
            name = attachment.long_filename() or attachment.name
            if isinstance(name, bytes):
                name = decode_bytes(name, tnef.codepage).text
            name = str(name).strip("\x00")
            content_type = mimetypes.guess_type(name, strict=False)[0]
            files.append(
                (name, content_type or "application/octet-stream", bytes(attachment.data or b""))
            )
        text, html = _text(tnef.body, tnef.codepage), _text(tnef.htmlbody, None)
        if len(files) > max_files or not (files or text or html):
            return None  # too many, or nothing recognisable: keep the wrapper as it came
        return Unpacked(tuple(files), text, html)
    except Exception:  # a malformed wrapper is the sender's problem; keep it unopened
        return None


def _text(value: object, codepage: str | None) -> str | None:
    if isinstance(value, bytes):
        value = decode_bytes(value.rstrip(b"\x00"), codepage).text
    if isinstance(value, str) and value.strip("\x00").strip():
        return value.strip("\x00")
    return None
