"""Change entries: one TOML file per change, collected into a build's release notes.

A change entry (towncrier's "news fragment" idea, Keep a Changelog's sections) looks like::

    # changes/export-large-projects.toml
    kind = "fixed"                  # added | changed | deprecated | removed | fixed | security
    requests = ["SUP-1"]            # optional: the tracker requests this change answers
    [title]
    en = "Exporting a process map of more than 1000 steps no longer crashes"
    ru = "Экспорт карты процесса более чем из 1000 шагов больше не завершается с ошибкой"

Every entry has a title in English and in Russian, because the notes are published in both.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from pixbridge.releases.problems import Code, ReleaseProblem

__all__ = ["LANGUAGES", "ChangeEntry", "Kind", "load_changes"]

LANGUAGES = ("en", "ru")
"""The languages every change entry's title and the release notes are written in."""
_KEY = re.compile(r"[A-Z][A-Z0-9_]*-[1-9][0-9]*")
_ALLOWED = {"kind", "title", "requests"}


class Kind(StrEnum):
    """The Keep a Changelog sections, in the order the notes show them."""

    ADDED = "added"
    CHANGED = "changed"
    DEPRECATED = "deprecated"
    REMOVED = "removed"
    FIXED = "fixed"
    SECURITY = "security"


@dataclass(frozen=True)
class ChangeEntry:
    """One change of a build, read from its file."""

    name: str
    """The file name, e.g. ``export-large-projects.toml``."""
    kind: Kind
    title: Mapping[str, str]
    """The title by language (``en``, ``ru``)."""
    requests: tuple[str, ...] = ()
    sha256: str = field(default="", compare=False)
    """Checksum of the file: the same entry cannot ship in two builds."""


def _entry(path: Path, problems: list[ReleaseProblem]) -> ChangeEntry | None:
    def bad(message: str) -> None:
        problems.append(ReleaseProblem(Code.BAD_CHANGE_ENTRY, f"{path}: {message}"))

    try:
        raw = path.read_bytes()
        data: dict[str, Any] = tomllib.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        bad(f"cannot be read as UTF-8 TOML ({exc})")
        return None
    before = len(problems)
    for key in sorted(set(data) - _ALLOWED):
        bad(f"unknown key {key!r}; a change entry has only kind, title and requests")
    kinds = ", ".join(k.value for k in Kind)
    kind = data.get("kind")
    if kind not in {k.value for k in Kind}:
        bad(f'kind = {kind!r} is not one of {kinds}; add e.g. kind = "fixed"')
    title = data.get("title")
    titles: dict[str, str] = {}
    if not isinstance(title, dict):
        bad('has no [title] table; add [title] with en = "..." and ru = "..."')
    else:
        for language in LANGUAGES:
            text = title.get(language)
            if not isinstance(text, str) or not text.strip():
                bad(f"[title] {language} is missing or empty; write the change in that language")
            else:
                titles[language] = " ".join(text.split())
        for extra in sorted(set(title) - set(LANGUAGES)):
            bad(f"[title] {extra} is not a language of the notes ({', '.join(LANGUAGES)})")
    requests = data.get("requests", [])
    if not isinstance(requests, list) or not all(isinstance(r, str) for r in requests):
        bad('requests must be a list of request keys, e.g. requests = ["SUP-1"]')
        requests = []
    for key in requests:
        if not _KEY.fullmatch(key):
            bad(f"{key!r} is not a request key like SUP-1")
    if len(problems) > before:
        return None
    return ChangeEntry(
        name=path.name,
        kind=Kind(str(kind)),
        title=titles,
        requests=tuple(dict.fromkeys(requests)),
        sha256=hashlib.sha256(raw).hexdigest(),
    )


def load_changes(folder: Path) -> tuple[list[ChangeEntry], list[ReleaseProblem]]:
    """Every change entry in *folder* (``*.toml``), by file name, and every problem found.

    ``README*`` and hidden files are skipped; any other file is a problem rather than silently
    left out of the notes. A missing folder holds no entries.
    """
    if not folder.is_dir():
        return [], []
    entries: list[ChangeEntry] = []
    problems: list[ReleaseProblem] = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.name.upper().startswith("README"):
            continue
        if not path.is_file() or path.suffix != ".toml":
            problems.append(
                ReleaseProblem(
                    Code.BAD_CHANGE_ENTRY,
                    f"{path}: only change entries (*.toml files) belong in {folder}; move it",
                )
            )
            continue
        entry = _entry(path, problems)
        if entry is not None:
            entries.append(entry)
    return entries, problems
