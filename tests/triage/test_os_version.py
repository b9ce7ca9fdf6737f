"""OS versions in English and Russian phrasing, and in system-information files."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pixbridge.models import Attachment
from pixbridge.triage.finder import Finder
from pixbridge.triage.os_version import (
    _LABEL_FINDER,
    _LINUX_FINDERS,
    _MACOS_FINDER,
    _UNAME_FINDER,
    _WINDOWS_FINDER,
    find_os_version,
    os_from_attachments,
    os_from_text,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "System: Windows 11 Pro 23H2 (build 22631.4602), 16 GB RAM.",
            "Windows 11 Pro 23H2 (build 22631.4602)",
        ),
        ("ОС: Windows 10 Pro 22H2 (сборка 19045)", "Windows 10 Pro 22H2 (build 19045)"),
        (
            "Операционная система — Windows 10 Корпоративная LTSC, версия 21H2",
            "Windows 10 Корпоративная LTSC 21H2",
        ),
        ("we run it on Win10 Enterprise", "Windows 10 Enterprise"),
        ("Windows 7 SP1", "Windows 7 SP1"),
        ("on Windows 8.1 Pro", "Windows 8.1 Pro"),
        ("Windows Server 2012 R2 Datacenter", "Windows Server 2012 R2 Datacenter"),
        ("Windows Server 2016 Standard", "Windows Server 2016 Standard"),
        (
            "сервер: Windows Server 2022 Datacenter, build 20348",
            "Windows Server 2022 Datacenter (build 20348)",
        ),
        (
            "Windows Server 2025 Standard (26100.2314)",
            "Windows Server 2025 Standard (build 26100.2314)",
        ),
        ("OS: Astra Linux Special Edition 1.7.5", "Astra Linux Special Edition 1.7.5"),
        ("ОС Astra Linux SE 1.8 «Смоленск»", "Astra Linux SE 1.8 «Смоленск»"),
        ("у нас РЕД ОС 7.3 Муром", "РЕД ОС 7.3 Муром"),
        ("RED OS 8 Server", "RED OS 8 Server"),
        ("Альт Рабочая станция 10.2", "Альт Рабочая станция 10.2"),
        ("ALT Server 10", "ALT Server 10"),
        ("Ubuntu 22.04.4 LTS", "Ubuntu 22.04.4 LTS"),
        ("Debian GNU/Linux 12 (bookworm)", "Debian GNU/Linux 12 (bookworm)"),
        ("CentOS Linux release 7.9.2009", "CentOS Linux release 7.9.2009"),
        ("Red Hat Enterprise Linux 9.3", "Red Hat Enterprise Linux 9.3"),
        ("RHEL 8.6", "RHEL 8.6"),
        ("MacBook with macOS Sonoma 14.2", "macOS 14.2"),
        ("Mac OS X 10.15.7", "macOS 10.15.7"),
        ("ОС: Эльбрус 7.2", "Эльбрус 7.2"),
    ],
)
def test_os_in_text(text: str, expected: str) -> None:
    assert os_from_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "The export crashes every time.",
        "Sent from Mail for Windows",
        "Please see the attached log; all of Windows' updates are installed.",
        "",
    ],
)
def test_no_os_in_text(text: str) -> None:
    assert os_from_text(text) is None


def test_systeminfo_english() -> None:
    text = (
        "Host Name:                 PC-0042\n"
        "OS Name:                   Microsoft Windows 10 Pro\n"
        "OS Version:                10.0.19045 N/A Build 19045\n"
    )
    assert os_from_text(text) == "Windows 10 Pro (build 19045)"


def test_systeminfo_russian() -> None:
    text = (
        "Название ОС:                      Майкрософт Windows 10 Корпоративная\n"
        "Версия ОС:                        10.0.19045 Н/Д построение 19045\n"
    )
    assert os_from_text(text) == "Windows 10 Корпоративная (build 19045)"


def test_msinfo32_text_export_in_utf16() -> None:
    data = (
        "[System Summary]\r\n\r\nItem\tValue\t\r\nOS Name\tMicrosoft Windows 11 Pro\t\r\n"
        "Version\t10.0.22631 Build 22631\t\r\n"
    ).encode("utf-16")
    found = os_from_attachments([Attachment("msinfo32.txt", "text/plain", data)])
    assert found == "Windows 11 Pro (build 22631)"


def test_msinfo32_nfo_xml() -> None:
    xml = (
        '<?xml version="1.0"?><MsInfo><Category name="System Summary">'
        "<Data><Item><![CDATA[OS Name]]></Item><Value><![CDATA[Microsoft Windows 10 Enterprise]]>"
        "</Value></Data><Data><Item><![CDATA[Version]]></Item>"
        "<Value><![CDATA[10.0.19044 Build 19044]]></Value></Data></Category></MsInfo>"
    )
    found = os_from_attachments(
        [Attachment("report.nfo", "application/octet-stream", xml.encode("utf-16-le"))]
    )
    assert found == "Windows 10 Enterprise (build 19044)"


def test_os_release_file() -> None:
    data = b'NAME="Astra Linux"\nPRETTY_NAME="Astra Linux 1.7 x86-64"\nID=astra\n'
    assert os_from_attachments([Attachment("os-release", "text/plain", data)]) == (
        "Astra Linux 1.7 x86-64"
    )


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "Linux srv01 5.15.0-91-generic #101-Ubuntu SMP Tue Nov 14 13:30:08 UTC 2023 x86_64 GNU/Linux",
            "Ubuntu (Linux 5.15.0-91-generic)",
        ),
        (
            "Linux astra 6.1.50-1-generic #astra2+ci12 SMP PREEMPT_DYNAMIC x86_64 GNU/Linux",
            "Astra Linux (Linux 6.1.50-1-generic)",
        ),
        ("Linux box 6.6.8 #1 SMP x86_64 GNU/Linux", "Linux 6.6.8"),
        (
            "Darwin mac.local 23.1.0 Darwin Kernel Version 23.1.0: Mon Oct 9 21:27:24 PDT 2023",
            "macOS 14 (Darwin 23.1.0)",
        ),
    ],
)
def test_uname(line: str, expected: str) -> None:
    assert os_from_text(line) == expected


def test_sw_vers() -> None:
    text = "ProductName:\t\tmacOS\nProductVersion:\t\t14.2.1\nBuildVersion:\t\t23C71\n"
    assert os_from_text(text) == "macOS 14.2.1 (23C71)"


def test_cp1251_attachment() -> None:
    data = "ОС: Windows 10 Pro, сборка 19045".encode("cp1251")
    assert os_from_attachments([Attachment("info.txt", "text/plain", data)]) == (
        "Windows 10 Pro (build 19045)"
    )


def test_body_wins_over_attachments_and_binary_files_are_not_read() -> None:
    sysinfo = Attachment("systeminfo.txt", "text/plain", b"OS Name: Microsoft Windows 11 Pro\n")
    image = Attachment("shot.png", "image/png", b"\x89PNG Windows 7")
    assert find_os_version("We use Ubuntu 20.04", [sysinfo]) == "Ubuntu 20.04"
    assert find_os_version("no os here", [image, sysinfo]) == "Windows 11 Pro"
    assert find_os_version("no os here", [image]) is None


# Letters whose lower case is what the regex engine compares with (``str.lower``); the engine
# also folds a few rare letters (ſ, ı, K, archaic Cyrillic) that no real mail spells an OS with.
_LETTERS = (
    string.ascii_letters
    + string.digits
    + string.punctuation
    + " \t\n\r\u00a0\u2028«»—"
    + "".join(chr(c) for c in range(ord("А"), ord("я") + 1))
    + "Ёё"
)
_NOISE = st.lists(
    st.sampled_from(["window", "Win", "Microsoft ", "process", "os ", "red", "alt", "\n", " "])
    | st.text(alphabet=_LETTERS, max_size=8),
    max_size=6,
).map("".join)
_FINDERS = [
    _WINDOWS_FINDER,
    *_LINUX_FINDERS,
    _MACOS_FINDER,
    _UNAME_FINDER,
    _LABEL_FINDER,
]


@pytest.mark.parametrize("finder", _FINDERS, ids=lambda f: f.needles[0].pattern)
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_needles_find_what_the_pattern_finds(finder: Finder, data: st.DataObject) -> None:
    # The patterns are tried only where a needle matches in the lower-cased text (finder.py,
    # Finder): a needle that misses a place a match can start would lose that OS.
    drawn = data.draw(st.from_regex(finder.pattern, fullmatch=True, alphabet=_LETTERS))
    text = data.draw(_NOISE) + drawn + data.draw(_NOISE)
    if finder is _LABEL_FINDER:
        text = "\n" + text
    expected = finder.pattern.search(text)
    found = finder.search(text, text.lower())
    assert (found is None) == (expected is None), text
    if found is not None and expected is not None:
        # The Windows match starts at "Win", past an optional "Microsoft", and a label's on its
        # own line, past blank lines; the rest is the same.
        assert (found.end(), found.groupdict()) == (expected.end(), expected.groupdict()), text
        if finder not in (_WINDOWS_FINDER, _LABEL_FINDER):
            assert found.start() == expected.start(), text
