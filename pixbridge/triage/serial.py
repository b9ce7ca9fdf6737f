"""Finding the product's serial number: in the text (patterns in settings) or by the sender.

The text wins over the sender: a customer with two kits names the one the request is about.
When the text names none, ``[triage.contacts]`` maps the sender's address, then its mail domain,
to the serial of their kit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from pixbridge.triage.finder import Finder, case_needles
from pixbridge.triage.settings import DEFAULT_SERIAL_PATTERNS, TriageSettings

__all__ = ["find_serial", "serial_from_contacts", "serial_from_text"]


@lru_cache(maxsize=64)
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)


# The default patterns start with \b or a look-behind under (?i): re would try them at every
# character (more than half a millisecond for 10 KB of mail). A pattern a site configures itself
# is searched as it is. tests/triage/test_serial.py checks that the needles find every match.
_VENDOR, _LABELLED = (re.compile(pattern) for pattern in DEFAULT_SERIAL_PATTERNS)
_FINDERS = {
    found.pattern.pattern: found
    for found in (
        Finder.of(_VENDOR, *case_needles("pP", r"[A-Z]{2}[-\s]?\d")),
        Finder.of(
            _LABELLED,
            *case_needles("sSſ", "erial|/n|n"),  # ſ (long s) is an s to (?i)
            *case_needles("сСᲃ", "ерийн"),  # and ᲃ (wide es) a Cyrillic с
            *case_needles("зЗ", "аводск"),
        ),
    )
}


def _search(pattern: re.Pattern[str], text: str, pos: int) -> re.Match[str] | None:
    found = _FINDERS.get(pattern.pattern)
    return found.search(text, pos=pos) if found else pattern.search(text, pos)


def _normalise(value: str) -> str:
    # "ptm 2024 00173" and "PTM-2024-00173" are the same kit.
    return re.sub(r"[\s-]+", "-", value.strip().strip(".,;")).upper()


# Customers name their serial near the top or in their signature; the middle of a long mail is
# mostly a pasted log, where "sn 1234" is more likely noise than a kit, and scanning 40 KB of it
# with the labelled pattern (which starts with a look-behind) was a large part of intake's cost.
_HEAD_CHARS = 8_000
_TAIL_CHARS = 2_000


def _window(text: str) -> str:
    if len(text) <= _HEAD_CHARS + _TAIL_CHARS:
        return text
    return f"{text[:_HEAD_CHARS]}\n{text[-_TAIL_CHARS:]}"


def serial_from_text(text: str, patterns: Sequence[str]) -> str | None:
    """The first serial any of *patterns* finds in *text* (earlier patterns win), normalised.

    A match without a digit is no serial ("serial number: unknown"); the search goes on after it.

    Only the first 8,000 and the last 2,000 characters of a longer text are searched.
    """
    lines = [line for line in _window(text).splitlines() if not line.lstrip().startswith(">")]
    body = "\n".join(lines)
    for pattern in _compiled(tuple(patterns)):
        pos = 0
        while (match := _search(pattern, body, pos)) is not None and match.start() >= pos:
            value = match.groupdict().get("serial") or match.group(0)
            if value and re.search(r"\d", value):
                return _normalise(value)
            # "Which serial numbers do you need? Serial: AB12CD34": the first label took a word
            # for its value; a serial has a digit, so look on, from just after where it began.
            pos = match.start() + 1
    return None


def serial_from_contacts(sender: str, settings: TriageSettings) -> tuple[str, str] | None:
    """(serial, the address or domain it was found by) from ``[triage.contacts]``."""
    found = settings.for_sender(settings.contacts, sender)
    if found is None:
        return None
    key, serial = found
    return _normalise(serial), key


def find_serial(text: str, sender: str, settings: TriageSettings) -> tuple[str, str] | None:
    """(serial, where it came from) or ``None``: the text first, then the sender's contacts."""
    serial = serial_from_text(text, settings.serial_patterns)
    if serial:
        return serial, "the message"
    by_contact = serial_from_contacts(sender, settings)
    if by_contact:
        return by_contact[0], f"known contact {by_contact[1]}"
    return None
