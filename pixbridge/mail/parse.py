"""Turn raw inbound bytes into a :class:`~pixbridge.models.ParsedMessage`.

Inbound mail is hostile input. Size, header-block and header-length limits are checked on the
raw bytes before the ``email`` package sees them (its header parser is quadratic on long values,
gh-136063), part count and nesting depth while walking the tree, and every other failure becomes
:class:`~pixbridge.errors.MessageRejected`, so a bad message is quarantined instead of crashing
the pipeline.

Header values are decoded here from the raw text (8-bit headers, broken RFC 2047 words) rather
than through ``email.policy.default``'s header objects, which raise or leave surrogates on exactly
the mail that needs decoding most. The MIME structure, parameters (RFC 2231) and transfer
encodings are left to the stdlib.
"""

from __future__ import annotations

import binascii
import codecs
import email.utils
import io
import mimetypes
import re
from collections import OrderedDict
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.generator import BytesGenerator
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import Message
from email.parser import BytesParser
from functools import lru_cache
from html.parser import HTMLParser
from urllib.parse import unquote_to_bytes

import inscriptis

from pixbridge.errors import MessageRejected
from pixbridge.mail.filenames import safe_filename
from pixbridge.mail.language import detect
from pixbridge.models import Attachment, ParsedMessage

__all__ = ["ParseLimits", "parse_message"]


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


_DEFAULT_LIMITS = ParseLimits()


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


_PARSER = BytesParser(policy=policy.default.clone(header_factory=_CachingHeaderRegistry()))
# compat32 writes stored header values back unchanged (no refolding, gh-121284) and
# max_line_length=0 keeps it from wrapping long lines of an attached message.
_EML_POLICY = policy.compat32.clone(max_line_length=0)

# The test the stdlib feed parser itself uses to decide that a line still belongs to the headers.
_HEADER_LINE = re.compile(rb"(From |[\x21-\x39\x3b-\x7e]+:|[\t ])")
_STRICT_HEADER = re.compile(rb"[A-Za-z][A-Za-z0-9-]*:[ \t]")
_SURROGATE = re.compile("[\udc80-\udcff]")
_UNSAFE_IN_HEADER = re.compile("[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")
_ENCODED_WORD = re.compile(r"=\?([^?\s*]+)(?:\*[^?\s]*)?\?([QqBb])\?([^?]*?)\?=")
_CYRILLIC_RUN = re.compile(rb"[\xc0-\xff]{3,}")
_MSG_ID = re.compile(r"<([^<>]*)>")
_BARE_ID = re.compile(r"[^\s<>@]+@[^\s<>@]+")
_ADDR_SPEC = re.compile(r"[^\s<>()\[\],;:\"@]+(?:@[^\s<>()\[\],;:\"@]+)?")
_TOKEN_SPLIT = re.compile(r"[\s<>()\[\],;\"]+")
_LOOSE_ADDR = re.compile(r"[^\s<>()\[\],;:\"@]+@[^\s<>()\[\],;:\"@]+")
_RFC2231_VALUE = re.compile(r"[A-Za-z0-9_.:-]*'[A-Za-z-]*'[^'\s]*%[0-9A-Fa-f]{2}[^'\s]*")
_RAW_PARAM = re.compile(r"""(?:file)?name\*?=\s*(?:"([^"]*)"|([^;\s]+))""", re.IGNORECASE)

# Names mail really carries mapped to the codec that decodes what senders mean by them: the
# GB2312 and KS C 5601 labels are used for their Microsoft supersets (WHATWG Encoding does
# the same), Shift_JIS for Windows-31J.
_CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "euc-cn": "gb18030",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "x-sjis": "cp932",
    "windows-31j": "cp932",
    "iso-8859-8-i": "iso-8859-8",
    "unicode-1-1-utf-7": "utf-7",
    "x-mac-cyrillic": "mac-cyrillic",
}
# Labels that say nothing about the bytes: decode as if no charset was declared.
_NO_CHARSET = frozenset({"", "us-ascii", "ascii", "unknown", "unknown-8bit", "x-unknown", "8bit"})
_ISO2022JP_VARIANTS = ("iso2022_jp_2", "iso2022_jp_ext")
# A 7-bit charset label cannot describe 8-bit bytes; senders that declare one and send 8-bit
# text mean the 8-bit encoding of the same language.
_EIGHT_BIT_SIBLINGS = {
    "iso2022_jp": ("cp932", "euc_jp"),
    "iso2022_kr": ("cp949",),
    "hz": ("gb18030",),
}


def parse_message(raw: bytes, *, limits: ParseLimits | None = None) -> ParsedMessage:
    """Parse one raw RFC 5322 message.

    Copes with an mbox ``From `` first line and mixed LF/CRLF line endings. Raises
    :class:`~pixbridge.errors.MessageRejected` and nothing else: its ``code`` is ``too_large``,
    ``header_too_long``, ``too_many_parts`` or ``too_deep`` when a limit of *limits* is exceeded,
    ``unparseable`` for any other input that is not a usable message.
    """
    limits = limits or _DEFAULT_LIMITS
    try:
        raw = bytes(raw)
    except (TypeError, ValueError) as exc:
        raise MessageRejected(f"not a raw message: {exc}", code="unparseable") from exc
    if len(raw) > limits.max_bytes:
        raise MessageRejected(
            f"message is {len(raw)} bytes, over the limit of {limits.max_bytes} bytes",
            code="too_large",
        )
    data = _repair_header_block(_normalise(raw))
    _check_header_block(data, limits)
    try:
        return _Builder(limits).build(_PARSER.parsebytes(data))
    except MessageRejected:
        raise
    except RecursionError as exc:
        raise MessageRejected(
            f"MIME parts are nested too deeply to follow (limit {limits.max_depth} levels)",
            code="too_deep",
        ) from exc
    except Exception as exc:  # the parser's failure modes on junk cannot be enumerated
        raise MessageRejected(
            f"message could not be parsed ({type(exc).__name__}: {exc})", code="unparseable"
        ) from exc


# ------------------------------------------------------------------------- raw checks


def _normalise(raw: bytes) -> bytes:
    if raw.startswith(b"From "):
        end = raw.find(b"\n")
        raw = raw[end + 1 :] if end >= 0 else b""
    raw = raw.lstrip(b"\r\n")
    if b"\r\n" in raw:
        raw = raw.replace(b"\r\n", b"\n")
    return raw


def _repair_header_block(data: bytes) -> bytes:
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


def _check_header_block(data: bytes, limits: ParseLimits) -> None:
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


# ------------------------------------------------------------------------- charsets


@dataclass(frozen=True)
class _Decoded:
    text: str
    notes: tuple[str, ...] = ()


@lru_cache(maxsize=256)
def _codec(charset: str | None) -> str | None:
    """The Python codec for a declared charset, or ``None`` when it names no usable one."""
    if not charset:
        return None
    label = charset.strip().strip("\"'").lower()
    if label in _NO_CHARSET:
        return None
    label = _CHARSET_ALIASES.get(label, label)
    for candidate in (label, label.removeprefix("x-")):
        try:
            info = codecs.lookup(candidate)
        except LookupError:
            continue
        # Refuse bytes-to-bytes codecs ("zlib", "base64") a hostile message may name.
        if getattr(info, "_is_text_encoding", True):
            return info.name
    return None


def _decode_bytes(data: bytes, charset: str | None) -> _Decoded:
    """Decode *data* in its declared *charset*, falling back sensibly when that fails."""
    codec = _codec(charset)
    notes: list[str] = []
    if charset and codec is None and charset.strip().lower() not in _NO_CHARSET:
        notes.append(f"unknown-charset:{charset.strip().lower()[:40]}")
    tries = [codec] if codec else []
    if codec == "iso2022_jp":
        tries.extend(_ISO2022JP_VARIANTS)
    for name in tries:
        try:
            return _Decoded(data.decode(name), tuple(notes))
        except (UnicodeError, LookupError, ValueError):
            continue
    if codec:
        notes.append(f"charset-mismatch:{codec}")
    for name in ("utf-8", *_EIGHT_BIT_SIBLINGS.get(codec or "", ())):
        try:
            return _Decoded(data.decode(name), tuple(notes))
        except UnicodeDecodeError:
            continue
    return _Decoded(_guess_8bit(data), tuple(notes))


def _guess_8bit(data: bytes) -> str:
    # Russian words in windows-1251 are runs of bytes 0xC0-0xFF; West European text has single
    # accented letters between ASCII ones, so a run of three tells the two apart well enough.
    if _CYRILLIC_RUN.search(data):
        return data.decode("cp1251", "replace")
    return data.decode("cp1252", "replace")


# ------------------------------------------------------------------------- header values


def _unfold(value: str) -> str:
    return value.replace("\r", "").replace("\n", "").strip()


def _repair_8bit(value: str, hint: Callable[[], str | None]) -> tuple[str, tuple[str, ...]]:
    """Decode raw 8-bit bytes the parser kept as surrogate escapes."""
    if not _SURROGATE.search(value):
        return value, ()
    decoded = _decode_bytes(value.encode("utf-8", "surrogateescape"), hint())
    return decoded.text, ("8bit-header", *decoded.notes)


def _decode_words(value: str) -> tuple[str, tuple[str, ...]]:
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
            decoded = _decode_bytes(data, charset)
            notes.extend(decoded.notes)
            out.append(decoded.text)

    pos = 0
    for match in _ENCODED_WORD.finditer(value):
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


def _clean_header_text(value: str) -> str:
    # Header values must never carry line breaks into the tracker or into mail we write.
    return _UNSAFE_IN_HEADER.sub(" ", value).strip()


def _decode_header(
    value: str, hint: Callable[[], str | None], *, words: bool = True
) -> tuple[str, tuple[str, ...]]:
    text, notes = _repair_8bit(_unfold(value), hint)
    if words:
        text, more = _decode_words(text)
        notes += more
    return _clean_header_text(text), notes


# ------------------------------------------------------------------------- MIME parts


@dataclass(frozen=True)
class _PartInfo:
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


def _raw_header(part: Message, name: str) -> str | None:
    for key, value in part.raw_items():
        if key.lower() == name:
            return _unfold(str(value))
    return None


def _part_info(part: Message, hint: Callable[[], str | None]) -> _PartInfo:
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
        filename, notes = _clean_filename(str(filename), part, hint)
        defects.extend(notes)
    cid = _raw_header(part, "content-id")
    content_id = cid.strip().strip("<>").strip() or None if cid else None
    charset = params.get("charset")
    return _PartInfo(
        content_type=ctype.lower(),
        charset=str(charset) if charset else None,
        disposition=str(disposition).lower() if disposition else None,
        filename=filename or None,
        content_id=content_id,
        defects=tuple(defects),
    )


def _clean_filename(
    name: str, part: Message, hint: Callable[[], str | None]
) -> tuple[str, tuple[str, ...]]:
    notes: tuple[str, ...] = ()
    if "\ufffd" in name or _SURROGATE.search(name):
        # The stdlib could not decode 8-bit bytes in the name: take them from the raw header.
        raw = (
            (_raw_header(part, "content-disposition") or "")
            + ";"
            + (_raw_header(part, "content-type") or "")
        )
        match = _RAW_PARAM.search(raw)
        if match:
            name, notes = _repair_8bit(match.group(1) or match.group(2) or "", hint)
    extended = _RFC2231_VALUE.fullmatch(name)
    if extended:
        # An RFC 2231 value in quotes is invalid, so the stdlib hands it over undecoded.
        charset, _, encoded = name.partition("'")
        decoded = _decode_bytes(unquote_to_bytes(encoded.partition("'")[2]), charset)
        return decoded.text, notes + decoded.notes
    text, more = _decode_words(name)  # RFC 2047 inside a parameter: wrong, but common
    return text, notes + more


def _payload_bytes(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if isinstance(data, bytes):
        return data
    payload = part.get_payload()
    return payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""


def _serialise(message: Message) -> bytes:
    buffer = io.BytesIO()
    try:
        BytesGenerator(buffer, mangle_from_=False, policy=_EML_POLICY).flatten(message)
    except Exception:
        return str(message).encode("utf-8", "surrogateescape")
    return buffer.getvalue()


@lru_cache(maxsize=128)
def _default_name(content_type: str) -> str:
    maintype, _, subtype = content_type.partition("/")
    extension = mimetypes.guess_extension(content_type, strict=False) or ""
    if maintype in ("image", "audio", "video"):
        return f"{maintype}{extension}"
    if maintype in ("text", "message") and not extension:
        # Reports (message/delivery-status, text/rfc822-headers) are text worth reading.
        return f"{subtype or 'attachment'}.txt"
    return f"attachment{extension}"


class _TextCollector(HTMLParser):
    """Last resort when inscriptis fails: the document's text nodes, in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in ("br", "p", "div", "tr", "li"):
            self.chunks.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.chunks.append(data)


def _html_to_text(html: str) -> str:
    if not html.strip():
        return ""
    try:
        return str(inscriptis.get_text(html)).strip()
    except Exception:
        collector = _TextCollector()
        collector.feed(html)
        collector.close()
        return "".join(collector.chunks).strip()


# ------------------------------------------------------------------------- the builder


@dataclass
class _Builder:
    limits: ParseLimits
    parts: int = 0
    texts: list[str] = field(default_factory=list)
    htmls: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    _hint: str | None = None
    _hint_known: bool = False
    _msg: Message | None = None

    def hint(self) -> str | None:
        """The charset to try for undeclared 8-bit headers: the body's, found only if needed."""
        if not self._hint_known and self._msg is not None:
            self._hint_known = True
            for index, part in enumerate(self._msg.walk()):
                if index > 10:
                    break
                try:
                    charset = part.get_content_charset()
                except Exception:
                    continue
                if _codec(charset):
                    self._hint = charset
                    break
        return self._hint

    def build(self, msg: Message) -> ParsedMessage:
        self._msg = msg
        raw_items = [(name, str(value)) for name, value in msg.raw_items()]
        if not raw_items:
            raise MessageRejected("message has no header fields", code="unparseable")
        headers: list[tuple[str, str]] = []
        for name, value in raw_items:
            clean_name = name.encode("utf-8", "surrogateescape").decode("ascii", "replace")
            decoded, notes = _decode_header(value, self.hint)
            self.defects.extend(notes)
            headers.append((clean_name.strip().lower(), decoded))
        first: dict[str, str] = {}
        raw_first: dict[str, str] = {}
        for (name, value), (_, raw_value) in zip(headers, raw_items, strict=True):
            first.setdefault(name, value)
            raw_first.setdefault(name, raw_value)

        self.defects.extend(type(d).__name__ for d in msg.defects)
        self._walk(msg, depth=0)
        text = "\n\n".join(t.strip("\n") for t in self.texts if t.strip())
        html = "\n".join(self.htmls) if self.htmls else None
        if not text and html:
            text = _html_to_text(html)
        subject = first.get("subject", "")
        sender_name, sender = self._sender(raw_first)
        recipients = [
            raw
            for (name, _), (_, raw) in zip(headers, raw_items, strict=True)
            if name in ("to", "cc")
        ]
        try:
            content_type = msg.get_content_type()
        except Exception:
            content_type = "text/plain"
        return ParsedMessage(
            message_id=next(iter(_ids(first.get("message-id", ""))), None),
            subject=subject,
            sender=sender,
            sender_name=sender_name,
            recipients=tuple(dict.fromkeys(a for _, a in self._addresses(recipients))),
            date=_date(first.get("date")),
            in_reply_to=_ids(first.get("in-reply-to", "")),
            references=_ids(" ".join(v for k, v in headers if k == "references")),
            text=text,
            html=html,
            attachments=tuple(self.attachments),
            headers=tuple(headers),
            content_type=content_type,
            return_path=_return_path(first.get("return-path")),
            language=detect(f"{subject}\n{text[:4000]}"),
            defects=tuple(dict.fromkeys(self.defects))[:50],
        )

    def _addresses(self, values: list[str]) -> list[tuple[str, str]]:
        # Split the raw text into addresses first and decode display names afterwards: an
        # encoded "Doe, John" must not become two addresses.
        texts = [_decode_header(v, self.hint, words=False)[0] for v in values]
        # Encoded words holding a comma or other specials (illegal, yet common) are hidden
        # from the address splitter behind placeholder atoms.
        words: dict[str, str] = {}

        def hide(match: re.Match[str]) -> str:
            key = f"pbencword{len(words)}x"
            words[key] = match.group(0)
            return key

        hidden = [_ENCODED_WORD.sub(hide, t) if "=?" in t else t for t in texts]
        found: list[tuple[str, str]] = []
        for name, addr in email.utils.getaddresses(hidden):
            addr = " ".join(addr.split()).lower()
            if not addr:
                continue
            # What the stdlib splits wrongly (CVE-2023-27043: "a@b@c") is no address. Spaces
            # ("<power quadrant system@example.com>") are kept: the last word alone would name
            # somebody else.
            if not _ADDR_SPEC.fullmatch(addr.replace(" ", "")) or " " in addr:
                self.defects.append("invalid-address")
                if " " not in addr:
                    continue
            for key, word in words.items():
                name = name.replace(key, word)
            found.append((_decode_header(name, self.hint)[0], addr))
        if not found:
            for text in texts:
                found.extend(("", a) for a in _loose_addresses(text))
        return found

    def _sender(self, raw: dict[str, str]) -> tuple[str, str]:
        for header in ("from", "sender", "return-path"):
            if header in raw:
                for name, addr in self._addresses([raw[header]]):
                    return name, addr
        return "", ""

    # ---------------------------------------------------------------- the MIME tree

    def _count(self, part: Message, depth: int) -> None:
        self.parts += 1
        if self.parts > self.limits.max_parts:
            raise MessageRejected(
                f"message has more than {self.limits.max_parts} MIME parts "
                f"(limit {self.limits.max_parts})",
                code="too_many_parts",
            )
        if depth > self.limits.max_depth:
            raise MessageRejected(
                f"MIME parts are nested more than {self.limits.max_depth} levels deep "
                f"(limit {self.limits.max_depth})",
                code="too_deep",
            )
        if depth:
            for name, value in part.raw_items():
                # Only Content-* fields of inner parts reach the stdlib's header parser.
                if len(value) > self.limits.max_header_line and name.lower().startswith("content-"):
                    raise MessageRejected(
                        f"header {name!r} of a MIME part is over {self.limits.max_header_line} "
                        f"bytes long (limit {self.limits.max_header_line} bytes per header field)",
                        code="header_too_long",
                    )
            self.defects.extend(type(d).__name__ for d in part.defects)

    def _walk(self, part: Message, depth: int, info: _PartInfo | None = None) -> None:
        if info is None:
            self._count(part, depth)
            info = _part_info(part, self.hint)
        self.defects.extend(info.defects)
        payload = part.get_payload()
        if isinstance(payload, list):
            children = [p for p in payload if isinstance(p, Message)]
            if info.content_type in ("message/rfc822", "message/global"):
                self._count_tree(children, depth + 1)
                self._attach_message(part, children, info)
            elif info.content_type == "multipart/alternative":
                self._walk_alternative(children, depth + 1)
            elif info.maintype == "multipart":
                for child in children:
                    self._walk(child, depth + 1)
            else:
                # message/delivery-status and its kin: the parser splits them into blocks.
                self._count_tree(children, depth + 1)
                data = b"\n".join(_serialise(child) for child in children)
                self._attach(info, data)
        elif info.is_body:
            body = _decode_bytes(_payload_bytes(part), info.charset)
            self.defects.extend(body.notes)
            (self.htmls if info.subtype == "html" else self.texts).append(body.text)
        else:
            self._attach(info, _payload_bytes(part))

    def _walk_alternative(self, children: list[Message], depth: int) -> None:
        """Keep one plain-text alternative as the text, the richer ones for HTML and images."""
        infos = []
        for child in children:
            self._count(child, depth)
            infos.append(_part_info(child, self.hint))
        plain = next(
            (i for i, info in enumerate(infos) if info.is_body and info.subtype == "plain"), None
        )
        for index, (child, info) in enumerate(zip(children, infos, strict=True)):
            if info.is_body and info.subtype == "plain" and index != plain:
                continue
            before = len(self.texts)
            self._walk(child, depth, info)
            if plain is not None and index != plain:
                del self.texts[before:]  # plain text inside the HTML branch would double it

    def _count_tree(self, children: list[Message], depth: int) -> None:
        for child in children:
            self._count(child, depth)
            inner = child.get_payload()
            if isinstance(inner, list):
                self._count_tree([p for p in inner if isinstance(p, Message)], depth + 1)

    def _attach_message(self, part: Message, children: list[Message], info: _PartInfo) -> None:
        if not children:
            self._attach(info, _payload_bytes(part))
            return
        inner = children[0]
        raw_subject = _raw_header(inner, "subject")
        subject = _decode_header(raw_subject, self.hint)[0] if raw_subject else ""
        name = info.filename
        if not name and subject:
            name = subject.replace("/", "_").replace("\\", "_") + ".eml"
        self.attachments.append(
            Attachment(
                filename=safe_filename(name, fallback="message.eml"),
                content_type="message/rfc822",
                data=_serialise(inner),
                inline=False,
                content_id=info.content_id,
            )
        )

    def _attach(self, info: _PartInfo, data: bytes) -> None:
        if not data and not info.filename:
            return
        self.attachments.append(
            Attachment(
                filename=safe_filename(info.filename, fallback=_default_name(info.content_type)),
                content_type=info.content_type,
                data=data,
                inline=info.inline,
                content_id=info.content_id,
            )
        )


# ------------------------------------------------------------------------- small header values


def _ids(value: str) -> tuple[str, ...]:
    """Message-ids as ``<id>``; a bare ``id@host`` without brackets is accepted too."""
    found = ["".join(m.split()) for m in _MSG_ID.findall(value)]
    if not found:
        found = _BARE_ID.findall(value)
    return tuple(dict.fromkeys(f"<{i}>" for i in found if i))


def _date(value: str | None) -> datetime | None:
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


def _return_path(value: str | None) -> str | None:
    if value is None:
        return None
    inner = value.strip()
    if inner.startswith("<"):
        inner = inner[1:].split(">", 1)[0]
    found = _loose_addresses(inner)
    # "<>" is the null reverse path of bounces and auto-replies: there is nobody to answer.
    return found[0] if found else inner.strip().lower()


def _loose_addresses(text: str) -> list[str]:
    """Whole tokens that look like addresses; ``a@b@c`` is none (no part of it is trusted)."""
    return [t.lower() for t in _TOKEN_SPLIT.split(text) if _LOOSE_ADDR.fullmatch(t)]
