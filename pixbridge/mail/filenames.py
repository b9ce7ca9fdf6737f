"""Attachment file names that are safe to store, show and send on.

A MIME file name is attacker-controlled text: it can carry a path (``../../etc/passwd``,
``C:\\Windows\\x.dll``), control characters, or bidi overrides that make ``invoice\u202efdp.exe``
display as ``invoiceexe.pdf`` (see notes/reliability-security.md §4.1).
"""

from __future__ import annotations

import unicodedata

__all__ = ["MAX_FILENAME_LENGTH", "safe_filename"]

MAX_FILENAME_LENGTH = 120

# Cc control, Cf format (bidi overrides and isolates, zero-width characters, BOM), Cs lone
# surrogates (left by undecodable bytes), Zl/Zp line and paragraph separators.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
# Characters Windows refuses in a file name; agents download attachments on Windows too.
_RESERVED = str.maketrans(dict.fromkeys('<>:"|?*', "_"))
# An "extension" longer than this is more likely part of the name than a real file type.
_MAX_EXTENSION = 16


def safe_filename(name: str | None, *, fallback: str = "attachment") -> str:
    """Turn an untrusted file name into a safe base name; never returns an empty string.

    NFKC-normalises, drops control and format characters (bidi overrides, zero-width
    characters...), keeps only the last path component, strips leading dots and surrounding
    spaces, replaces characters Windows reserves with ``_`` and shortens the name to
    :data:`MAX_FILENAME_LENGTH` characters keeping its extension. When nothing is left,
    *fallback* (sanitised the same way) is used, and ``"attachment"`` if that is empty too.
    The function is idempotent: ``safe_filename(safe_filename(x)) == safe_filename(x)``.
    """
    cleaned = _fixpoint(name or "")
    if cleaned:
        return cleaned
    return _fixpoint(fallback) or "attachment"


def _fixpoint(name: str) -> str:
    # Removing a character can make a new normalisable sequence appear (a zero-width joiner
    # between a letter and a combining accent), so repeat until nothing changes.
    for _ in range(8):
        cleaned = _clean_once(name)
        if cleaned == name:
            break
        name = cleaned
    return name


def _clean_once(name: str) -> str:
    text = unicodedata.normalize("NFKC", name)
    text = "".join(ch for ch in text if unicodedata.category(ch) not in _DROPPED_CATEGORIES)
    # NFKC folds look-alikes such as U+FF0F (fullwidth solidus) into real separators first.
    parts = [p for p in text.replace("\\", "/").split("/") if p.strip(" .")]
    text = parts[-1] if parts else ""
    text = text.translate(_RESERVED).strip(" ").lstrip(".").strip(" ")
    if len(text) > MAX_FILENAME_LENGTH:
        text = _shorten(text)
    return text


def _shorten(text: str) -> str:
    stem, dot, extension = text.rpartition(".")
    if dot and stem and 0 < len(extension) <= _MAX_EXTENSION:
        keep = MAX_FILENAME_LENGTH - len(extension) - 1
        return f"{stem[:keep].rstrip(' .')}.{extension}"
    return text[:MAX_FILENAME_LENGTH].rstrip(" ")
