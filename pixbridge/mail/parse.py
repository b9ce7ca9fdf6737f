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

import email.utils
import re
from dataclasses import dataclass, field
from email.message import Message

from pixbridge.errors import MessageRejected
from pixbridge.mail._body import html_to_text
from pixbridge.mail._charset import codec_for, decode_bytes
from pixbridge.mail._headers import (
    ADDR_SPEC,
    ENCODED_WORD,
    date,
    decode_header,
    ids,
    loose_addresses,
    return_path,
)
from pixbridge.mail._mime import (
    PARSER,
    PartInfo,
    default_name,
    part_info,
    payload_bytes,
    raw_header,
    serialise,
)
from pixbridge.mail._raw import (
    DEFAULT_LIMITS,
    ParseLimits,
    check_header_block,
    normalise,
    repair_header_block,
)
from pixbridge.mail._tnef import is_tnef, unpack_tnef
from pixbridge.mail.filenames import safe_filename
from pixbridge.mail.language import detect
from pixbridge.models import Attachment, ParsedMessage

__all__ = ["ParseLimits", "parse_head", "parse_message"]


def parse_message(raw: bytes, *, limits: ParseLimits | None = None) -> ParsedMessage:
    """Parse one raw RFC 5322 message.

    Copes with an mbox ``From `` first line and mixed LF/CRLF line endings. Raises
    :class:`~pixbridge.errors.MessageRejected` and nothing else: its ``code`` is ``too_large``,
    ``header_too_long``, ``too_many_parts`` or ``too_deep`` when a limit of *limits* is exceeded,
    ``unparseable`` for any other input that is not a usable message.
    """
    limits = limits or DEFAULT_LIMITS
    try:
        raw = bytes(raw)
    except (TypeError, ValueError) as exc:
        raise MessageRejected(f"not a raw message: {exc}", code="unparseable") from exc
    if len(raw) > limits.max_bytes:
        raise MessageRejected(
            f"message is {len(raw)} bytes, over the limit of {limits.max_bytes} bytes",
            code="too_large",
        )
    data = repair_header_block(normalise(raw))
    check_header_block(data, limits)
    try:
        return _Builder(limits).build(PARSER.parsebytes(data))
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


def parse_head(raw: bytes, *, limits: ParseLimits | None = None) -> ParsedMessage | None:
    """The header fields of a message the full parse refused (too large, too many parts...).

    Only the top-level header block is read, within the header limits, so the sender of a
    quarantined message can be screened and told what to do. ``None`` when even the headers are
    unusable.
    """
    limits = limits or DEFAULT_LIMITS
    data = normalise(bytes(raw[: limits.max_header_bytes + 4096]))
    end = data.find(b"\n\n")
    head = data[: end + 1] if end >= 0 else data
    try:
        return parse_message(head + b"\n", limits=limits)
    except MessageRejected:
        return None


@dataclass
class _Builder:
    limits: ParseLimits
    parts: int = 0
    texts: list[str] = field(default_factory=list)
    htmls: list[str] = field(default_factory=list)
    tnef_texts: list[str] = field(default_factory=list)
    tnef_htmls: list[str] = field(default_factory=list)
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
                if codec_for(charset):
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
            decoded, notes = decode_header(value, self.hint)
            self.defects.extend(notes)
            headers.append((clean_name.strip().lower(), decoded))
        first: dict[str, str] = {}
        raw_first: dict[str, str] = {}
        for (name, value), (_, raw_value) in zip(headers, raw_items, strict=True):
            first.setdefault(name, value)
            raw_first.setdefault(name, raw_value)

        self.defects.extend(type(d).__name__ for d in msg.defects)
        self._walk(msg, depth=0)
        texts = self.texts if any(t.strip() for t in self.texts) else self.tnef_texts
        text = "\n\n".join(t.strip("\n") for t in texts if t.strip())
        htmls = self.htmls or self.tnef_htmls
        html = "\n".join(htmls) if htmls else None
        if not text and html:
            text = html_to_text(html)
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
            message_id=next(iter(ids(first.get("message-id", ""))), None),
            subject=subject,
            sender=sender,
            sender_name=sender_name,
            recipients=tuple(dict.fromkeys(a for _, a in self._addresses(recipients))),
            date=date(first.get("date")),
            in_reply_to=ids(first.get("in-reply-to", "")),
            references=ids(" ".join(v for k, v in headers if k == "references")),
            text=text,
            html=html,
            attachments=tuple(self.attachments),
            headers=tuple(headers),
            content_type=content_type,
            return_path=return_path(first.get("return-path")),
            language=detect(f"{subject}\n{text[:4000]}"),
            defects=tuple(dict.fromkeys(self.defects))[:50],
        )

    def _addresses(self, values: list[str]) -> list[tuple[str, str]]:
        # Split the raw text into addresses first and decode display names afterwards: an
        # encoded "Doe, John" must not become two addresses.
        texts = [decode_header(v, self.hint, words=False)[0] for v in values]
        # Encoded words holding a comma or other specials (illegal, yet common) are hidden
        # from the address splitter behind placeholder atoms.
        words: dict[str, str] = {}

        def hide(match: re.Match[str]) -> str:
            key = f"pbencword{len(words)}x"
            words[key] = match.group(0)
            return key

        hidden = [ENCODED_WORD.sub(hide, t) if "=?" in t else t for t in texts]
        found: list[tuple[str, str]] = []
        for name, addr in email.utils.getaddresses(hidden):
            addr = " ".join(addr.split()).lower()
            if not addr:
                continue
            # What the stdlib splits wrongly (CVE-2023-27043: "a@b@c") is no address. Spaces
            # ("<power quadrant system@example.com>") are kept: the last word alone would name
            # somebody else.
            if not ADDR_SPEC.fullmatch(addr.replace(" ", "")) or " " in addr:
                self.defects.append("invalid-address")
                if " " not in addr:
                    continue
            for key, word in words.items():
                name = name.replace(key, word)
            found.append((decode_header(name, self.hint)[0], addr))
        if not found:
            for text in texts:
                found.extend(("", a) for a in loose_addresses(text))
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

    def _walk(self, part: Message, depth: int, info: PartInfo | None = None) -> None:
        if info is None:
            self._count(part, depth)
            info = part_info(part, self.hint)
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
                data = b"\n".join(serialise(child) for child in children)
                self._attach(info, data)
        elif info.is_body:
            body = decode_bytes(payload_bytes(part), info.charset)
            self.defects.extend(body.notes)
            (self.htmls if info.subtype == "html" else self.texts).append(body.text)
        else:
            self._attach(info, payload_bytes(part))

    def _walk_alternative(self, children: list[Message], depth: int) -> None:
        """Keep one plain-text alternative as the text, the richer ones for HTML and images."""
        infos = []
        for child in children:
            self._count(child, depth)
            infos.append(part_info(child, self.hint))
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

    def _attach_message(self, part: Message, children: list[Message], info: PartInfo) -> None:
        if not children:
            self._attach(info, payload_bytes(part))
            return
        inner = children[0]
        raw_subject = raw_header(inner, "subject")
        subject = decode_header(raw_subject, self.hint)[0] if raw_subject else ""
        name = info.filename
        if not name and subject:
            name = subject.replace("/", "_").replace("\\", "_") + ".eml"
        self.attachments.append(
            Attachment(
                filename=safe_filename(name, fallback="message.eml"),
                content_type="message/rfc822",
                data=serialise(inner),
                inline=False,
                content_id=info.content_id,
            )
        )

    def _attach(self, info: PartInfo, data: bytes) -> None:
        if not data and not info.filename:
            return
        if is_tnef(info.content_type, info.filename, data) and self._unpack_tnef(data):
            return
        self.attachments.append(
            Attachment(
                filename=safe_filename(info.filename, fallback=default_name(info.content_type)),
                content_type=info.content_type,
                data=data,
                inline=info.inline,
                content_id=info.content_id,
            )
        )

    def _unpack_tnef(self, data: bytes) -> bool:
        """Replace a ``winmail.dat`` by the files and body it wraps; False to keep it as is."""
        unpacked = unpack_tnef(data, max_files=self.limits.max_parts - self.parts)
        if unpacked is None:
            self.defects.append("bad-tnef")
            return False
        self.parts += len(unpacked.files)
        for name, content_type, content in unpacked.files:
            self.attachments.append(
                Attachment(
                    filename=safe_filename(name, fallback=default_name(content_type)),
                    content_type=content_type,
                    data=content,
                )
            )
        # The wrapper repeats the body the MIME text part usually carries already.
        if unpacked.text:
            self.tnef_texts.append(unpacked.text)
        if unpacked.html:
            self.tnef_htmls.append(unpacked.html)
        return True
