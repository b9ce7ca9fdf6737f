"""Decoding bytes in the charset a message declares, and in the ones senders really mean."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["Decoded", "codec_for", "decode_bytes"]

_CYRILLIC_RUN = re.compile(rb"[\xc0-\xff]{3,}")

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


@dataclass(frozen=True)
class Decoded:
    text: str
    notes: tuple[str, ...] = ()


@lru_cache(maxsize=256)
def codec_for(charset: str | None) -> str | None:
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


def decode_bytes(data: bytes, charset: str | None) -> Decoded:
    """Decode *data* in its declared *charset*, falling back sensibly when that fails."""
    codec = codec_for(charset)
    notes: list[str] = []
    if charset and codec is None and charset.strip().lower() not in _NO_CHARSET:
        notes.append(f"unknown-charset:{charset.strip().lower()[:40]}")
    tries = [codec] if codec else []
    if codec == "iso2022_jp":
        tries.extend(_ISO2022JP_VARIANTS)
    for name in tries:
        try:
            return Decoded(data.decode(name), tuple(notes))
        except (UnicodeError, LookupError, ValueError):
            continue
    if codec:
        notes.append(f"charset-mismatch:{codec}")
    for name in ("utf-8", *_EIGHT_BIT_SIBLINGS.get(codec or "", ())):
        try:
            return Decoded(data.decode(name), tuple(notes))
        except UnicodeDecodeError:
            continue
    return Decoded(guess_8bit(data), tuple(notes))


def guess_8bit(data: bytes) -> str:
    # Russian words in windows-1251 are runs of bytes 0xC0-0xFF; West European text has single
    # accented letters between ASCII ones, so a run of three tells the two apart well enough.
    if _CYRILLIC_RUN.search(data):
        return data.decode("cp1251", "replace")
    return data.decode("cp1252", "replace")
