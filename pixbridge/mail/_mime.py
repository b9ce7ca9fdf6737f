"""MIME parts: the stdlib parser, what a part is (type, name, disposition), its payload."""

from __future__ import annotations

import io
import mimetypes
import re
from collections import OrderedDict
from contextlib import suppress
from dataclasses import dataclass
from email import policy
from email.generator import BytesGenerator
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import Message
from email.parser import BytesParser
from functools import lru_cache
from urllib.parse import unquote_to_bytes

from pixbridge.mail._charset import decode_bytes
from pixbridge.mail._headers import SURROGATE, Hint, decode_words, repair_8bit, unfold

__all__ = [
    "PARSER",
    "PartInfo",
    "default_name",
    "part_info",
    "payload_bytes",
    "raw_header",
    "serialise",
]

_RFC2231_VALUE = re.compile(r"[A-Za-z0-9_.:-]*'[A-Za-z-]*'[^'\s]*%[0-9A-Fa-f]{2}[^'\s]*")
_RAW_PARAM = re.compile(r"""(?:file)?name\*?=\s*(?:"([^"]*)"|([^;\s]+))""", re.IGNORECASE)


class _CachingHeaderRegistry(HeaderRegistry):
    """``policy.default``'s header factory, remembering short values it has parsed.

    The feed parser asks for each part's Content-Type many times over and every request parses
    the value again; that was over half of the parse time. Header objects are immutable, so
    sharing them is safe; long values are not kept, to bound the memory held.
    """

    _MAX_CACHED_VALUE = 512

    def __init__(self) -> None:
        super().__init__()
        self._cache: OrderedDict[tuple[str, str], BaseHeader] = OrderedDict()

    def __call__(self, name: str, value: str) -> BaseHeader:
        if len(value) > self._MAX_CACHED_VALUE:
            return super().__call__(name, value)
        key = (name, value)
        header = self._cache.get(key)
        if header is None:
            header = super().__call__(name, value)
            self._cache[key] = header
            if len(self._cache) > 2048:
                with suppress(KeyError):  # another thread emptied it first
                    self._cache.popitem(last=False)
        return header


PARSER = BytesParser(policy=policy.default.clone(header_factory=_CachingHeaderRegistry()))
# compat32 writes stored header values back unchanged (no refolding, gh-121284) and
# max_line_length=0 keeps it from wrapping long lines of an attached message.
_EML_POLICY = policy.compat32.clone(max_line_length=0)


@dataclass(frozen=True)
class PartInfo:
    content_type: str
    charset: str | None
    disposition: str | None
    filename: str | None
    content_id: str | None
    defects: tuple[str, ...] = ()

    @property
    def maintype(self) -> str:
        return self.content_type.partition("/")[0]

    @property
    def subtype(self) -> str:
        return self.content_type.partition("/")[2]

    @property
    def is_body(self) -> bool:
        return (
            self.content_type in ("text/plain", "text/html")
            and self.disposition != "attachment"
            and not self.filename
        )

    @property
    def inline(self) -> bool:
        return self.disposition == "inline" or (
            self.content_id is not None and self.disposition != "attachment"
        )


def raw_header(part: Message, name: str) -> str | None:
    for key, value in part.raw_items():
        if key.lower() == name:
            return unfold(str(value))
    return None


def part_info(part: Message, hint: Hint) -> PartInfo:
    defects: list[str] = []
    try:
        ctype = part.get_content_type()
        content_type = part.get("content-type")
        params = dict(getattr(content_type, "params", {}))
        content_disposition = part.get("content-disposition")
        disposition = getattr(content_disposition, "content_disposition", None)
        dparams = dict(getattr(content_disposition, "params", {}))
    except Exception:  # a header the stdlib cannot make sense of: treat the part as data
        defects.append("bad-mime-header")
        ctype, params, disposition, dparams = "application/octet-stream", {}, None, {}
    filename = dparams.get("filename") or params.get("name")
    if filename is not None:
        filename, notes = clean_filename(str(filename), part, hint)
        defects.extend(notes)
    cid = raw_header(part, "content-id")
    content_id = cid.strip().strip("<>").strip() or None if cid else None
    charset = params.get("charset")
    return PartInfo(
        content_type=ctype.lower(),
        charset=str(charset) if charset else None,
        disposition=str(disposition).lower() if disposition else None,
        filename=filename or None,
        content_id=content_id,
        defects=tuple(defects),
    )


def clean_filename(name: str, part: Message, hint: Hint) -> tuple[str, tuple[str, ...]]:
    notes: tuple[str, ...] = ()
    if "\ufffd" in name or SURROGATE.search(name):
        # The stdlib could not decode 8-bit bytes in the name: take them from the raw header.
        raw = (
            (raw_header(part, "content-disposition") or "")
            + ";"
            + (raw_header(part, "content-type") or "")
        )
        match = _RAW_PARAM.search(raw)
        if match:
            name, notes = repair_8bit(match.group(1) or match.group(2) or "", hint)
    extended = _RFC2231_VALUE.fullmatch(name)
    if extended:
        # An RFC 2231 value in quotes is invalid, so the stdlib hands it over undecoded.
        charset, _, encoded = name.partition("'")
        decoded = decode_bytes(unquote_to_bytes(encoded.partition("'")[2]), charset)
        return decoded.text, notes + decoded.notes
    text, more = decode_words(name)  # RFC 2047 inside a parameter: wrong, but common
    return text, notes + more


def payload_bytes(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if isinstance(data, bytes):
        return data
    payload = part.get_payload()
    return payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""


def serialise(message: Message) -> bytes:
    buffer = io.BytesIO()
    try:
        BytesGenerator(buffer, mangle_from_=False, policy=_EML_POLICY).flatten(message)
    except Exception:
        return str(message).encode("utf-8", "surrogateescape")
    return buffer.getvalue()


@lru_cache(maxsize=128)
def default_name(content_type: str) -> str:
    maintype, _, subtype = content_type.partition("/")
    extension = mimetypes.guess_extension(content_type, strict=False) or ""
    if maintype in ("image", "audio", "video"):
        return f"{maintype}{extension}"
    if maintype in ("text", "message") and not extension:
        # Reports (message/delivery-status, text/rfc822-headers) are text worth reading.
        return f"{subtype or 'attachment'}.txt"
    return f"attachment{extension}"
