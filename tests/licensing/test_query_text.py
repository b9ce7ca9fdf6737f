"""What the licence query takes from the mail itself: the serial (fallback) and the dongle id."""

from __future__ import annotations

import re
import string
import sys
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pixbridge.licensing.policy import _DONGLE, _dongle, _serial
from pixbridge.mail.parse import parse_message
from pixbridge.models import Intake


def _intake(body: str, subject: str = "Export fails") -> Intake:
    msg = EmailMessage()
    msg["From"] = "anna@customer.example"
    msg["To"] = "support@pix.example"
    msg["Subject"] = subject
    msg["Message-ID"] = "<q1@customer.example>"
    msg.set_content(body)
    message = parse_message(msg.as_bytes())
    return Intake(message, datetime(2026, 1, 15, tzinfo=UTC), message.sender, "en")


@pytest.mark.parametrize(
    ("subject", "body", "expected"),
    [
        ("Export fails", "Our kit PTM-2024-0017 crashes.", "PTM-2024-0017"),
        ("Kit PPS-2023-01942 crashes", "See subject.", "PPS-2023-01942"),
        ("Export fails", "S/N: ptm 2024 00173", "PTM-2024-00173"),
        ("Export fails", "Серийный номер: 7781-AK", "7781-AK"),
        ("Export fails", "> Serial number: PTM-2024-00173\nThanks", None),  # quoted
        ("Export fails", "No serial here.", None),
    ],
)
def test_the_serial_falls_back_to_triages_default_patterns(
    subject: str, body: str, expected: str | None
) -> None:
    assert _serial(_intake(body, subject), {}) == expected


def test_triages_serial_wins() -> None:
    assert _serial(_intake("Our kit PTM-2024-0017 crashes."), {"serial": "PPS-2022-0042"}) == (
        "PPS-2022-0042"
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Dongle Guardant: 0x1A2B3C4D, Windows 11", "Guardant:0x1A2B3C4D"),
        ("key SENTINEL:1847503921.", "SENTINEL:1847503921"),
        ("key ſentinel: 42", "ſentinel:42"),  # (?i) takes ſ for s
        ("xguardant: 0x1A2B", None),  # not at a word's start
        ("guardant 0x1A2B", None),
    ],
)
def test_the_dongle_id(body: str, expected: str | None) -> None:
    assert _dongle(_intake(body)) == expected


# Letters (?i) takes for another: ſ for s, the Kelvin sign for k, İ and ı for i.
_ODD = {"s": "ſ", "S": "ſ", "k": "\u212a", "i": "İı"}
_LETTERS = string.ascii_letters + string.digits + " :\n.x_" + "".join(_ODD.values()) + "дс"
_NOISE = st.lists(
    st.sampled_from(["g", "G", "s", "S", "ſ", "guardant", "sentinel", ":", "0x", "_", "\n"])
    | st.text(alphabet=_LETTERS, max_size=6),
    max_size=6,
).map("".join)


def _seen(match: re.Match[str] | None) -> tuple[int, int] | None:
    return match.span() if match else None


@settings(max_examples=500, deadline=None)
@given(data=st.data())
def test_the_dongle_needles_find_what_the_pattern_finds(data: st.DataObject) -> None:
    pattern = _DONGLE.pattern
    text = data.draw(_NOISE)
    for _ in range(data.draw(st.integers(0, 2))):
        drawn = data.draw(st.from_regex(pattern, fullmatch=True, alphabet=_LETTERS))
        odd = "".join(data.draw(st.sampled_from(c + _ODD.get(c, ""))) for c in drawn)
        text += data.draw(st.sampled_from(["", " ", "\n"])) + odd + data.draw(_NOISE)
    assert _seen(_DONGLE.search(text)) == _seen(pattern.search(text)), text


def test_a_needle_for_every_letter_a_dongle_id_can_start_with() -> None:
    every = "".join(chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c < 0xE000)
    letters = set(re.findall("(?i)[gs]", every))
    assert letters == {needle.pattern[0] for needle in _DONGLE.needles}
