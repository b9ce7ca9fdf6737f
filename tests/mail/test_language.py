"""Tests for the script-based language guess."""

from __future__ import annotations

import pytest

from pixbridge.mail.language import detect


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Здравствуйте, у нас не запускается робот после обновления.", "ru"),
        ("Hello, the robot does not start after the update.", "en"),
        ("Re: Ошибка лицензии PIX Task Mining 2.4", "ru"),
        ("Grüße aus München, das Programm stürzt ab", "en"),  # Latin script: the "en" bucket
        ("", ""),
        ("12345 !!! --- 2024-01-01", ""),
        ("发现最美车间主任", ""),
        ("Hi 发现最美车间主任发现最美车间主任", ""),
    ],
)
def test_detect(text: str, expected: str) -> None:
    assert detect(text) == expected


def test_mostly_cyrillic_with_english_terms_is_russian() -> None:
    text = "Добрый день! После установки build 2.4.117 на Windows 10 робот пишет ошибку в логах."
    assert detect(text) == "ru"


def test_only_the_start_of_a_long_text_is_read() -> None:
    assert detect("Привет " * 1000 + "hello " * 100_000) == "ru"
