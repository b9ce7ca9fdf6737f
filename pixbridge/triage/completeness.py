"""Which of the required items a request carries: description, logs or screenshots, OS, serial.

Facts found in earlier messages of the request (``Intake.known``) count as found, so a reply only
has to supply what was missing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from pixbridge.models import Attachment, Completeness, ParsedMessage
from pixbridge.triage.os_version import find_os_version
from pixbridge.triage.serial import find_serial
from pixbridge.triage.settings import ITEMS, TriageSettings

__all__ = ["EVIDENCE_EXTENSIONS", "check", "description_words", "evidence_files"]

EVIDENCE_EXTENSIONS = (
    ".log", ".txt", ".nfo", ".zip", ".7z", ".gz", ".tgz", ".tar", ".rar", ".xz", ".bz2",
    ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".heic",
    ".evtx", ".etl", ".dmp", ".mdmp", ".csv", ".json", ".xml",
)  # fmt: skip
"""File types that count as logs or screenshots."""

_ARCHIVE_TYPES = (
    "application/zip",
    "application/x-zip-compressed",
    "application/x-7z-compressed",
    "application/gzip",
    "application/x-gzip",
    "application/x-tar",
    "application/vnd.rar",
    "application/x-rar-compressed",
)
_WORD = re.compile(r"[^\W\d_]{2,}")
"""A word: two or more letters (a letter being a word character that is no digit and no "_")."""
_COUNT_CHARS = 8_000


def evidence_files(attachments: Iterable[Attachment]) -> list[str]:
    """Names of the attachments that are logs, screenshots or archives of them (inline too)."""
    names = []
    for attachment in attachments:
        kind = attachment.content_type.lower()
        name = attachment.filename.lower()
        if (
            kind.startswith(("text/", "image/"))
            or kind in _ARCHIVE_TYPES
            or name.endswith(EVIDENCE_EXTENSIONS)
        ) and attachment.data:
            names.append(attachment.filename or f"(inline {kind})")
    return names


def description_words(text: str) -> int:
    """Words the customer wrote themselves: quoted lines and the signature do not count."""
    own = []
    for line in text.splitlines():
        if line.rstrip() in {"--", "-- "}:
            break
        if not line.lstrip().startswith(">"):
            own.append(line)
    return sum(_words_in(token) for token in "\n".join(own).split())


def _words_in(token: str) -> int:
    """How many :data:`_WORD` matches *token* (no white space in it) holds.

    Most tokens are plain words, which ``isalpha()`` recognises far faster than the regex
    engine, checking each character's class, does (the regex alone was a few per cent of intake). A
    letters-only token is exactly one match (letters are word characters, no digit, no "_").
    """
    if token.isalpha():
        return 1 if len(token) > 1 else 0
    return len(_WORD.findall(token))


def check(
    message: ParsedMessage,
    customer: str,
    settings: TriageSettings,
    known: Mapping[str, str] | None = None,
) -> Completeness:
    """What *message* (with the *known* facts of earlier messages) lacks of the required items."""
    found: dict[str, str] = {k: v for k, v in (known or {}).items() if v}
    if "description" not in found:
        # The start of the text decides: counting every word of a pasted 5 MB log would only
        # cost time, and the note then says "at least".
        words = description_words(message.text[:_COUNT_CHARS])
        if words >= settings.min_description_words:
            at_least = "at least " if len(message.text) > _COUNT_CHARS else ""
            found["description"] = f"{at_least}{words} words"
    if "attachments" not in found:
        files = evidence_files(message.attachments)
        if files:
            found["attachments"] = ", ".join(files)[:200]
    if "os_version" not in found:
        os_version = find_os_version(message.text, message.attachments)
        if os_version:
            found["os_version"] = os_version
    # A serial in this message wins over an earlier one: customers correct a wrong serial.
    serial = find_serial(f"{message.subject}\n{message.text}", customer, settings)
    if serial and (serial[1] == "the message" or "serial" not in found):
        found["serial"] = serial[0]
    missing = tuple(item for item in ITEMS if item in settings.required and item not in found)
    return Completeness(missing=missing, found=found)
