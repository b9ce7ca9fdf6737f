"""Recognising the customer's operating system in text and in system-information files.

Understood: Windows 7/8/8.1/10/11 and Windows Server 2008-2025 with editions, feature updates
(22H2) and builds; Astra Linux, RED OS, ALT, Ubuntu, Debian, CentOS, RHEL, macOS; phrasing in
English and Russian ("OS:", "операционная система", "сборка 19045"); and the output of
``systeminfo``, msinfo32 exports (.txt and .nfo), ``/etc/os-release``, ``uname -a`` and
``sw_vers``. The result is one normalised string, e.g. ``Windows 10 Pro 22H2 (build 19045)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pixbridge.models import Attachment
from pixbridge.triage.finder import Finder

__all__ = ["find_os_version", "os_from_attachments", "os_from_text"]

_MAX_SCAN = 2 * 1024 * 1024
"""Characters of a text or attachment looked at; system-information files are far smaller."""

_EDITION_WORDS = (
    r"Pro(?:fessional)?(?:\s+for\s+Workstations)?|Home(?:\s+Single\s+Language)?|Enterprise"
    r"(?:\s+LTSC(?:\s+\d{4})?|\s+N)?|Education|Ultimate|Starter|IoT(?:\s+Enterprise)?(?:\s+LTSC)?"
    r"|LTSC|LTSB|Standard|Datacenter|Essentials|Foundation|Web|Core|"
    r"Корпоративная(?:\s+LTSC)?|Профессиональная|Домашняя(?:\s+для\s+одного\s+языка)?|"
    r"Максимальная|Для\s+образовательных\s+учреждений|Стандартная"
)
_WINDOWS = re.compile(
    r"(?<![\w.])(?:Microsoft\s+|Майкрософт\s+)?Win(?:dows)?\s*"
    r"(?:(?P<server>Server)\s*(?P<sver>2025|2022|2019|2016|2012\s*R2|2012|2008\s*R2|2008)"
    r"|(?P<ver>11|10|8\.1|8|7))(?![\d.])"
    rf"(?P<edition>(?:\s+(?:{_EDITION_WORDS}))*)"
    r"(?:[\s,]+(?:version\s+|версия\s+)?(?P<feature>\d{2}H\d|\d{4}|SP\d))?"
    r"(?:[\s,(]+(?:build|сборка|построение|OS\s+build)\s*(?P<build>\d{4,5}(?:\.\d+)?)\)?"
    r"|\s*\((?P<pbuild>(?:10\.0\.)?\d{4,5}(?:\.\d+)?)\))?",
    re.IGNORECASE,
)
_WINDOWS_BUILD_LINE = re.compile(
    r"(?:OS\s+Version|Version|Версия\s+ОС|Версия)"
    r"(?:[ \t]*[:\t][ \t]*|\]\]></Item>\s*<Value><!\[CDATA\[)"
    r"\d+\.\d+\.(?P<build>\d{4,5})",
    re.IGNORECASE,
)
_LINUX = [
    re.compile(
        r"(?<!\w)(?:Astra\s*Linux|Астра\s*Линукс)(?:\s+(?:Special|Common)\s+Edition|\s+SE|\s+CE)?"
        r"(?:\s+\d+(?:\.\d+){0,3})?"
        r"(?:\s+\(?[«\"]?(?:Смоленск|Орёл|Орел|Воронеж|Брянск|Новороссийск)[»\"]?\)?)?",
        re.IGNORECASE,
    ),
    re.compile(
        r"(?<!\w)(?:RED\s*OS|РЕД\s*ОС|РЕДОС)(?:\s+(?:MUROM|Муром))?(?:\s+\d+(?:\.\d+)*)?"
        r"(?:\s+(?:MUROM|Муром|Server|Сервер|Workstation|Рабочая\s+станция|Standard|Стандартная"
        r"|Конфигурация\s+Сервер))*",
        re.IGNORECASE,
    ),
    re.compile(
        r"(?<!\w)(?:ALT|Альт)(?:\s+Linux|\s+Линукс)?(?:\s+(?:SP|СП))?"
        r"(?:\s+(?:Workstation|Server|Рабочая\s+станция|Сервер|Образование|Education|Simply"
        r"|Starterkit|Virtualization))+(?:\s+K)?(?:\s+\d+(?:\.\d+)*)?"
        r"|(?<!\w)(?:ALT\s+Linux|Альт\s+Линукс)(?:\s+\d+(?:\.\d+)*)?",
        re.IGNORECASE,
    ),
    re.compile(r"(?<!\w)Ubuntu(?:\s+Server)?(?:\s+\d{2}\.\d{2}(?:\.\d+)?(?:\s+LTS)?)?", re.I),
    re.compile(
        r"(?<!\w)Debian(?:\s+GNU/Linux)?(?:\s+\d+(?:\.\d+)*)?(?:\s+\((?:[a-z]+)\))?", re.IGNORECASE
    ),
    re.compile(r"(?<!\w)CentOS(?:\s+Linux|\s+Stream)?(?:\s+(?:release\s+)?\d+(?:\.\d+)*)?", re.I),
    re.compile(
        r"(?<!\w)(?:Red\s*Hat\s+Enterprise\s+Linux|RHEL)(?:\s+(?:Server|Workstation))?"
        r"(?:\s+(?:release\s+)?\d+(?:\.\d+)*)?",
        re.IGNORECASE,
    ),
]
_MACOS = re.compile(
    r"(?<!\w)(?:mac\s*OS(?:\s*X(?!\w))?|OS\s+X(?!\w))"
    r"(?:\s+(?:Sequoia|Sonoma|Ventura|Monterey|Big\s+Sur|Catalina|Mojave|High\s+Sierra|Tahoe))?"
    r"(?:\s+(?P<ver>\d{2}(?:\.\d+){0,2}))?",
    re.IGNORECASE,
)
_SW_VERS = re.compile(
    r"ProductName:\s*(?P<name>mac\s*OS(?:\s*X)?)\s*\n\s*ProductVersion:\s*(?P<ver>[\d.]+)"
    r"(?:\s*\n\s*(?:ProductVersionExtra:[^\n]*\n\s*)?BuildVersion:\s*(?P<build>\w+))?",
    re.IGNORECASE,
)
_OS_RELEASE = re.compile(r'^PRETTY_NAME\s*=\s*"?(?P<name>[^"\n]+)"?\s*$', re.MULTILINE)
_UNAME = re.compile(
    r"^(?P<kernel>Linux|Darwin)\s+\S+\s+(?P<release>\d+\.\d+[\w.+~-]*)\s+(?P<rest>.*)$",
    re.MULTILINE,
)
_LABEL = re.compile(
    r"^\s*(?:OS|O/S|Operating\s+system|ОС|Операционная\s+система|Версия\s+ОС|OS\s+version)"
    r"\s*[:=—-]\s*(?P<value>\S[^\n]{0,120})$",
    re.IGNORECASE | re.MULTILINE,
)
_UNAME_DISTROS = (
    ("ubuntu", "Ubuntu"),
    ("astra", "Astra Linux"),
    ("red80", "RED OS 8"),
    ("el7.3", "RED OS 7.3"),
    ("el7", "CentOS/RHEL 7"),
    ("el8", "RHEL 8"),
    ("el9", "RHEL 9"),
    ("debian", "Debian"),
    ("-alt", "ALT"),
)
_DARWIN_TO_MACOS = {25: "26", 24: "15", 23: "14", 22: "13", 21: "12", 20: "11", 19: "10.15"}
_TEXT_EXTENSIONS = (".txt", ".nfo", ".log", ".ini", ".cfg", ".conf", ".csv", ".xml", ".json")


def _squash(value: str) -> str:
    return re.sub(r"\s+", " ", value).strip(" ,;.")


def _windows(match: re.Match[str], text: str) -> str:
    if match.group("server"):
        version = "Server " + re.sub(r"\s*R2", " R2", match.group("sver"), flags=re.I)
    else:
        version = match.group("ver")
    parts = [f"Windows {version}"]
    edition = _squash(match.group("edition") or "")
    if edition:
        parts.append(edition)
    feature = match.group("feature")
    if feature:
        parts.append(feature.upper())
    build = match.group("build") or match.group("pbuild")
    if not build:
        # systeminfo / msinfo32 put the build on its own line ("OS Version: 10.0.19045 ...").
        line = _WINDOWS_BUILD_LINE.search(text, match.end(), match.end() + 400)
        build = line.group("build") if line else None
    if build:
        parts.append(f"(build {build.removeprefix('10.0.')})")
    return " ".join(parts)


def _uname(match: re.Match[str]) -> str:
    release = match.group("release")
    if match.group("kernel") == "Darwin":
        macos = _DARWIN_TO_MACOS.get(int(release.split(".")[0]))
        return f"macOS {macos} (Darwin {release})" if macos else f"macOS (Darwin {release})"
    hint = (release + " " + match.group("rest")).lower()
    for needle, distro in _UNAME_DISTROS:
        if needle in hint:
            return f"{distro} (Linux {release})"
    return f"Linux {release}"


# The needles are lower-case and search ``text.lower()``. Where a match starts can differ from
# ``pattern.search``, and nothing reads it: the Windows match starts at "Win", after an optional
# "Microsoft", and a label's on its own line, past blank lines.
_WINDOWS_FINDER = Finder.of(_WINDOWS, r"win(?:dows)?\s*(?:server|\d)")
_LINUX_FINDERS = tuple(
    Finder.of(pattern, *needles)
    for pattern, needles in zip(
        _LINUX,
        (
            (r"astra\s*linux", r"астра\s*линукс"),
            (r"red\s*os", r"ред\s*ос"),
            ("alt", "альт"),
            ("ubuntu",),
            ("debian",),
            ("centos",),
            (r"red\s*hat", "rhel"),
        ),
        strict=True,
    )
)
_MACOS_FINDER = Finder.of(_MACOS, r"mac\s*os", r"os\s+x")
_UNAME_FINDER = Finder.of(_UNAME, "linux", "darwin")
# A label opens a line: the needle starts with the line break before it (the text is searched
# with a line break in front, so the first line counts too).
_LABEL_FINDER = Finder.of(_LABEL, r"\n\s*[oов]", skip=1)


def os_from_text(text: str) -> str | None:
    """The operating system named in *text*, normalised; ``None`` if none is recognised."""
    text = text[:_MAX_SCAN]
    if not text.strip():
        return None
    lower = text.lower()
    sw_vers = _SW_VERS.search(text) if "productname" in lower else None
    if sw_vers:
        build = f" ({sw_vers.group('build')})" if sw_vers.group("build") else ""
        return f"macOS {sw_vers.group('ver')}{build}"
    release = _OS_RELEASE.search(text) if "pretty_name" in lower else None
    if release:
        return _squash(release.group("name"))
    uname = _UNAME_FINDER.search(text, lower)
    if uname:
        return _uname(uname)
    # The earliest OS named wins: a customer names their own system before anything else.
    found: list[tuple[int, str]] = []
    windows = _WINDOWS_FINDER.search(text, lower)
    if windows:
        found.append((windows.start(), _windows(windows, text)))
    for finder in _LINUX_FINDERS:
        match = finder.search(text, lower)
        if match:
            found.append((match.start(), _squash(match.group(0))))
    macos = _MACOS_FINDER.search(text, lower)
    if macos:
        version = f" {macos.group('ver')}" if macos.group("ver") else ""
        name = _squash(macos.group(0))
        found.append((macos.start(), name if not version else f"macOS{version}"))
    if found:
        return min(found)[1]
    labelled = _LABEL_FINDER.search("\n" + text, "\n" + lower)
    if labelled:
        # A labelled value we do not know (e.g. "ОС: Эльбрус 7.2") still answers the question.
        value = _squash(labelled.group("value"))
        if re.search(r"\d|[A-Za-zА-я]{3,}", value):
            return value[:80]
    return None


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    if len(data) > 3 and data[1:2] == b"\x00" and data[3:4] == b"\x00":
        return data.decode("utf-16-le", errors="replace")  # msinfo32 .nfo without a BOM
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1251", errors="replace")


def _is_textual(attachment: Attachment) -> bool:
    name = attachment.filename.lower()
    return (
        attachment.content_type.startswith("text/")
        or name.endswith(_TEXT_EXTENSIONS)
        or name in {"os-release", "lsb-release", "uname", "sw_vers"}
        or name.endswith(("os-release", "issue"))
    )


def os_from_attachments(attachments: Iterable[Attachment]) -> str | None:
    """The operating system named in a textual attachment (system-information files first)."""
    textual = [a for a in attachments if _is_textual(a)]
    preferred = sorted(
        textual,
        key=lambda a: (
            0
            if re.search(
                r"msinfo|systeminfo|sysinfo|os-release|uname|sw_vers|system", a.filename, re.I
            )
            else 1
        ),
    )
    for attachment in preferred:
        found = os_from_text(_decode(attachment.data[:_MAX_SCAN]))
        if found:
            return found
    return None


def find_os_version(text: str, attachments: Iterable[Attachment] = ()) -> str | None:
    """The operating system named in the body, else in an attached system-information file."""
    return os_from_text(text) or os_from_attachments(attachments)
