"""Serial numbers: the vendor's format, labelled serials in two languages, known contacts."""

from __future__ import annotations

import pytest

from pixbridge.triage.serial import find_serial, serial_from_text
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
