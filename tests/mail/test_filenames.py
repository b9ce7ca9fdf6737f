"""Tests for attachment file-name sanitising."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pixbridge.mail.filenames import MAX_FILENAME_LENGTH, safe_filename

_FORBIDDEN = {"/", "\\", "\x00"}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Windows\\System32\\evil.dll", "evil.dll"),
        ("/absolute/path/x.txt", "x.txt"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),
        ("zero\u200bwidth\u2066.png", "zerowidth.png"),
        ("  .hidden  ", "hidden"),
        ("...", "attachment"),
        ("", "attachment"),
        (None, "attachment"),
        ("a\x00b\r\nc.txt", "abc.txt"),
        ("ｆｕｌｌｗｉｄｔｈ．ｔｘｔ", "fullwidth.txt"),
        ("dir\uff0fname.txt", "name.txt"),  # fullwidth solidus becomes a real separator
        ('what?<is>"this"|*.log', "what__is__this___.log"),
        ("Отчёт об ошибке.docx", "Отчёт об ошибке.docx"),
        ("../..", "attachment"),
    ],
)
def test_examples(name: str | None, expected: str) -> None:
    assert safe_filename(name) == expected


def test_fallback_is_sanitised_too() -> None:
    assert safe_filename("", fallback="../image.png") == "image.png"
    assert safe_filename(None, fallback="\u202e") == "attachment"


def test_long_name_keeps_its_extension() -> None:
    result = safe_filename("x" * 300 + ".tar.gz")
    assert len(result) == MAX_FILENAME_LENGTH
    assert result.endswith("x.gz")
    assert safe_filename("y" * 500) == "y" * MAX_FILENAME_LENGTH


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.none(), st.text(max_size=400)))
def test_properties(name: str | None) -> None:
    result = safe_filename(name)
    assert result
    assert len(result) <= MAX_FILENAME_LENGTH
    assert safe_filename(result) == result
    assert not _FORBIDDEN & set(result)
    assert result not in (".", "..")
    assert not result.startswith(".")
    assert result == result.strip(" ")
    for ch in result:
        assert unicodedata.category(ch) not in {"Cc", "Cf", "Cs", "Zl", "Zp"}, repr(ch)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["..", ".", "a", "b.txt", "\u202e", "\u200b", " ", "\\", "/", "é", "\u0301"]
        ),
        max_size=30,
    )
)
def test_properties_on_path_like_names(pieces: list[str]) -> None:
    name = "".join(pieces)
    result = safe_filename(name)
    assert safe_filename(result) == result
    assert "/" not in result and "\\" not in result
    assert not result.startswith(".")
