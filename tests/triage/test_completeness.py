"""The completeness check: each required item, known facts merged, settings respected."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pixbridge.models import Attachment, ParsedMessage
from pixbridge.triage.completeness import check, description_words, evidence_files
from pixbridge.triage.settings import TriageSettings

DEFAULTS = TriageSettings()
LOG = Attachment("pixtm.log", "application/octet-stream", b"ERROR\n")
COMPLETE = (
    "The export of a process map crashes every time we press Save.\n"
    "OS: Windows 10 Pro 22H2 (build 19045)\nSerial number: PTM-2024-00173\n"
)


def test_a_complete_request_lacks_nothing(make_message: Callable[..., ParsedMessage]) -> None:
    result = check(make_message(COMPLETE, attachments=(LOG,)), "a@b.example", DEFAULTS)
    assert result.missing == ()
    assert result.found["os_version"] == "Windows 10 Pro 22H2 (build 19045)"
    assert result.found["serial"] == "PTM-2024-00173"
    assert result.found["attachments"] == "pixtm.log"
    assert result.found["description"].endswith("words")


def test_an_empty_message_lacks_everything(make_message: Callable[..., ParsedMessage]) -> None:
    result = check(make_message("Help"), "a@b.example", DEFAULTS)
    assert result.missing == ("description", "attachments", "os_version", "serial")
    assert result.found == {}


def test_known_facts_count_as_found(make_message: Callable[..., ParsedMessage]) -> None:
    known = {"description": "20 words", "attachments": "a.log", "os_version": "Windows 11"}
    result = check(make_message("S/N PTM-2024-00001"), "a@b.example", DEFAULTS, known)
    assert result.missing == ()
    assert result.found["os_version"] == "Windows 11"
    assert result.found["serial"] == "PTM-2024-00001"


def test_serial_from_a_known_contact(make_message: Callable[..., ParsedMessage]) -> None:
    settings = TriageSettings(contacts={"b.example": "PTM-2024-00042"})
    result = check(make_message(COMPLETE.replace("Serial", "x")), "a@b.example", settings)
    assert result.found["serial"] == "PTM-2024-00173"  # the text wins over the contact
    result = check(
        make_message("Windows 11, a long enough description here"), "a@b.example", settings
    )
    assert result.found["serial"] == "PTM-2024-00042"


def test_required_items_come_from_settings(make_message: Callable[..., ParsedMessage]) -> None:
    settings = TriageSettings(required=["os_version"])
    assert check(make_message("Help"), "a@b.example", settings).missing == ("os_version",)
    assert check(make_message("Windows 11"), "a@b.example", settings).missing == ()


@pytest.mark.parametrize(
    ("attachment", "counts"),
    [
        (Attachment("shot.png", "image/png", b"png"), True),
        (Attachment("", "image/jpeg", b"jpg", inline=True, content_id="x@y"), True),
        (Attachment("logs.zip", "application/zip", b"PK"), True),
        (Attachment("trace.txt", "text/plain", b"trace"), True),
        (Attachment("dump.7z", "application/octet-stream", b"7z"), True),
        (Attachment("contract.pdf", "application/pdf", b"%PDF"), False),
        (Attachment("setup.exe", "application/octet-stream", b"MZ"), False),
        (Attachment("empty.log", "text/plain", b""), False),
    ],
)
def test_what_counts_as_logs_or_screenshots(attachment: Attachment, counts: bool) -> None:
    assert bool(evidence_files([attachment])) is counts


def test_description_counts_only_the_customers_own_words() -> None:
    assert description_words("one two three\n> quoted words do not count\n-- \nSignature Name") == 3


_ODD_CHARACTERS = (
    "ab_Z9²½Ⅻйё"  # letters, a digit, "_", numbers that are no digits (Ⅻ is a word character)
    "\u0301\u0306"  # combining accents: word characters? (no: marks are not alphanumeric)
    " \t\xa0\u2028\x1c\u3000.,-'’>"  # white space of several kinds, punctuation
)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=_ODD_CHARACTERS, max_size=60))
def test_word_count_matches_the_word_pattern(text: str) -> None:
    # The count splits on white space and recognises plain words with isalpha(); it must count
    # exactly what the pattern finds in the text the customer wrote.
    own = [line for line in text.splitlines() if not line.lstrip().startswith(">")]
    if any(line.rstrip() in {"--", "-- "} for line in text.splitlines()):
        return  # the signature cut is tested above
    expected = len(re.findall(r"[^\W\d_]{2,}", "\n".join(own)))
    assert description_words(text) == expected
