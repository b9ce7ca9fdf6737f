"""Serial numbers: the vendor's format, labelled serials in two languages, known contacts."""

from __future__ import annotations

import re
import string
import sys
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pixbridge.triage.serial import (
    _FINDERS,
    find_serial,
    serial_from_text,
)
from pixbridge.triage.settings import TriageSettings

DEFAULTS = TriageSettings()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Serial number: PTM-2024-00173", "PTM-2024-00173"),
        ("our kit PPS-2023-01942 stopped", "PPS-2023-01942"),
        ("S/N: ptm 2024 00173", "PTM-2024-00173"),
        ("Серийный номер: PPS-2023-01942", "PPS-2023-01942"),
        ("серийник XK-4471-22", "XK-4471-22"),
        ("Заводской номер № 7781-A", "7781-A"),
        ("S/N ABC12345", "ABC12345"),
        ("Regards,\nJohn\n--\nCustomer Ltd\nSN: PTM-2022-00007\n", "PTM-2022-00007"),
        # A label whose value is a word is no serial: the search goes on.
        ("Which serial numbers do you need? Serial: AB12CD34", "AB12CD34"),
        ("serial number unknown to me; S/N X7700-12", "X7700-12"),
        ("Serial number: see below\nS/N: K1234567", "K1234567"),
        ("S/N serial AB12", "AB12"),  # the next try starts inside the match before
    ],
)
def test_serial_in_text(text: str, expected: str) -> None:
    assert serial_from_text(text, DEFAULTS.serial_patterns) == expected


@pytest.mark.parametrize(
    "text",
    [
        "No serial here, sorry.",
        "serial number: unknown",  # a label without anything that looks like a serial
        "> Serial number: PTM-2024-00173",  # quoted from an earlier mail
    ],
)
def test_no_serial(text: str) -> None:
    assert serial_from_text(text, DEFAULTS.serial_patterns) is None


def test_patterns_come_from_settings() -> None:
    settings = TriageSettings(serial_patterns=[r"KIT#(?P<serial>\d{6})"])
    assert serial_from_text("KIT#123456", settings.serial_patterns) == "123456"
    assert serial_from_text("PTM-2024-00173", settings.serial_patterns) is None


def test_known_contacts_by_address_then_domain_and_text_wins() -> None:
    settings = TriageSettings(
        contacts={"Anna@Customer.example": "PTM-2024-00001", "@customer.example": "PTM-2024-00002"}
    )
    assert find_serial("hello", "anna@customer.example", settings) == (
        "PTM-2024-00001",
        "known contact anna@customer.example",
    )
    assert find_serial("hello", "bob@customer.example", settings) == (
        "PTM-2024-00002",
        "known contact customer.example",
    )
    assert find_serial("S/N PTM-2024-00999", "bob@customer.example", settings) == (
        "PTM-2024-00999",
        "the message",
    )
    assert find_serial("hello", "eve@other.example", settings) is None


def test_a_long_mail_is_searched_at_its_top_and_its_signature_not_in_its_pasted_log() -> None:
    log = "\n".join(f"12:00:{n % 60:02d} worker {n} exported the map, ok" for n in range(600))
    assert len(log) > 20_000
    top = "Serial number: PTM-2024-00173\nThe export fails, log below.\n"
    signature = "\n--\nCustomer Ltd\nSN: PTM-2022-00007\n"
    assert serial_from_text(top + log, DEFAULTS.serial_patterns) == "PTM-2024-00173"
    assert serial_from_text("Log below.\n" + log + signature, DEFAULTS.serial_patterns) == (
        "PTM-2022-00007"
    )
    # What looks like a serial in the middle of a pasted log is not taken for the customer's kit.
    middle = "Log below.\n" + log[:10_000] + "\nworker sn PPS-2023-01942\n" + log[10_000:]
    assert serial_from_text(middle, DEFAULTS.serial_patterns) is None


def _plain_serial_from_text(text: str, patterns: Sequence[str]) -> str | None:
    # serial_from_text without needles: an empty group at the end changes no match, but a
    # pattern not spelled as a built-in one is searched plainly (serial.py, _FINDERS).
    assert not any(f"{p}(?:)" in _FINDERS for p in patterns)
    return serial_from_text(text, [f"{p}(?:)" for p in patterns])


def test_an_earlier_pattern_wins_over_an_earlier_place() -> None:
    # The vendor's format is the first pattern: it wins though the labelled serial comes first.
    text = "S/N: 7731-XK\nThe licence is for PTM-2024-00173.\n"
    assert serial_from_text(text, DEFAULTS.serial_patterns) == "PTM-2024-00173"
    assert serial_from_text(text, DEFAULTS.serial_patterns[1:]) == "7731-XK"


# What (?i) takes for a letter besides its two cases: İ and ı for i, ſ for s, the Kelvin sign for
# k, and the old Cyrillic shapes for в, д, о, с. A needle that leaves one out misses a serial.
_ODD_CASES = {
    "i": "İı",
    "I": "İı",
    "s": "ſ",
    "S": "ſ",
    "k": "\u212a",
    "K": "\u212a",
    "в": "ᲀ",
    "д": "ᲁ",
    "о": "ᲂ",
    "с": "ᲃ",
    "С": "ᲃ",
}
_LETTERS = (
    string.ascii_letters
    + string.digits
    + string.punctuation
    + " \t\n\r\u00a0\u2028№"
    + "".join(chr(c) for c in range(ord("А"), ord("я") + 1))
    + "Ёё"
    + "".join(_ODD_CASES.values())
)
_NOISE = st.lists(
    st.sampled_from(
        ["p", "P", "s", "S", "ſ", "sn", "serial", "с", "з", "ерийн", "аводск", "PTM", "\n", "> "]
    )
    | st.text(alphabet=_LETTERS, max_size=8),
    max_size=6,
).map("".join)


def _odd_cased(data: st.DataObject, text: str) -> str:
    return "".join(data.draw(st.sampled_from(c + _ODD_CASES.get(c, ""))) for c in text)


def _seen(match: re.Match[str] | None) -> tuple[tuple[int, int], dict[str, str | None]] | None:
    return (match.span(), match.groupdict()) if match else None


@settings(max_examples=500, deadline=None)
@given(data=st.data())
def test_needles_find_what_the_patterns_find(data: st.DataObject) -> None:
    patterns = DEFAULTS.serial_patterns
    drawn = [data.draw(st.from_regex(p, fullmatch=True, alphabet=_LETTERS)) for p in patterns]
    text = data.draw(_NOISE)
    for part in data.draw(st.permutations(drawn)):
        # Spaces around a serial often keep one pattern's match from swallowing the other's.
        gaps = [data.draw(st.sampled_from(["", " ", "\n", ". "])) for _ in range(2)]
        text += gaps[0] + _odd_cased(data, part) + gaps[1] + data.draw(_NOISE)
    # A default pattern is tried only where one of its needles matches (serial.py, _FINDERS).
    pos = data.draw(st.integers(0, len(text)))
    for pattern in patterns:
        assert _seen(_FINDERS[pattern].search(text)) == _seen(re.search(pattern, text)), text
        found = _FINDERS[pattern].search(text, pos=pos)
        assert _seen(found) == _seen(re.compile(pattern).search(text, pos)), (text, pos)
    assert serial_from_text(text, patterns) == _plain_serial_from_text(text, patterns), text


def test_a_needle_for_every_letter_a_match_can_start_with() -> None:
    # Hypothesis draws the odd cases listed above; this asks the regex engine for all of them.
    every = "".join(chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c < 0xE000)
    for pattern, starts in zip(DEFAULTS.serial_patterns, ("p", "sсз"), strict=True):
        letters = set(re.findall(f"(?i)[{starts}]", every))
        assert letters == {needle.pattern[0] for needle in _FINDERS[pattern].needles}
