"""Reading a distribution folder: its files with checksums, the generation documents, the changes.

``DIST_DIR`` holds the installer files, flat (publishers put every file at one level). Beside
them, in ``DIST_DIR`` itself or in the folder that contains it, may be the three documents a new
generation needs; they are published with the installers:

========================  ===============================================================
``CHANGES.<ext>``         the general list of changes of the generation
``COMPATIBILITY.<ext>``   compatibility with earlier versions (data, licences, plug-ins, OS)
``INSTALL.<ext>``         installation and upgrade instructions
========================  ===============================================================

``<ext>`` is one of md, txt, pdf, html, htm, docx, odt, rtf, optionally after a language tag
(``INSTALL.ru.md``). pixbridge writes ``SHA256SUMS`` and ``RELEASE-NOTES.<lang>.<md|txt>`` into
``DIST_DIR``; those names are its own and are never read back as distribution files. The change
entries are in ``DIST_DIR/changes/`` unless another folder is given.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pixbridge.models import ReleaseFile
from pixbridge.releases.changes import ChangeEntry, load_changes
from pixbridge.releases.problems import Code, ReleaseProblem
from pixbridge.releases.version import Version

__all__ = [
    "DOCUMENTS",
    "GENERATED",
    "SUMS",
    "Distribution",
    "notes_file_name",
    "read_distribution",
    "sha256sums",
]

SUMS = "SHA256SUMS"
CHANGES_FOLDER = "changes"
DOCUMENTS: Mapping[str, str] = {
    "CHANGES": "the general list of changes of the generation",
    "COMPATIBILITY": "compatibility with earlier versions",
    "INSTALL": "installation and upgrade instructions",
}
"""Base name of each document a new generation needs, and what it holds."""
_DOC = re.compile(
    r"(CHANGES|COMPATIBILITY|INSTALL)(\.[a-z]{2})?\.(md|txt|pdf|html|htm|docx|odt|rtf)",
    re.IGNORECASE,
)
_NOTES = re.compile(r"RELEASE-NOTES\.[a-z]{2}\.(md|txt)")
GENERATED = frozenset({SUMS, "manifest.json"})
"""Names pixbridge or a publisher writes; a distribution file may not have them."""


def notes_file_name(language: str, fmt: str) -> str:
    """``RELEASE-NOTES.en.md`` and the like."""
    return f"RELEASE-NOTES.{language}.{fmt}"


def _is_generated(name: str) -> bool:
    return name in GENERATED or _NOTES.fullmatch(name) is not None


def _describe(path: Path) -> ReleaseFile:
    with path.open("rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    return ReleaseFile(path.name, digest, path.stat().st_size, path)


@dataclass(frozen=True)
class Distribution:
    """What ``release publish`` found: files with checksums, documents and change entries."""

    product: str
    version: Version
    dist_dir: Path
    changes_dir: Path
    files: tuple[ReleaseFile, ...]
    """Installers and documents, by name (the release notes are added when rendered)."""
    documents: Mapping[str, tuple[str, ...]]
    """For each of :data:`DOCUMENTS`, the non-empty files found (names)."""
    changes: tuple[ChangeEntry, ...]
    problems: tuple[ReleaseProblem, ...] = field(default=())
    """What is wrong with the folder or the change entries (the rules add their own)."""

    @property
    def installers(self) -> tuple[ReleaseFile, ...]:
        """The files that are not documents."""
        return tuple(f for f in self.files if not _DOC.fullmatch(f.name))

    @property
    def identity(self) -> str:
        """SHA-256 of what may not change under a version: the files and the change entries."""
        payload = {
            "product": self.product,
            "version": str(self.version),
            "files": [[f.name, f.sha256, f.size] for f in self.files],
            "changes": [[c.name, c.sha256] for c in self.changes],
        }
        text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def read_distribution(
    dist_dir: Path, product: str, version: Version, changes_dir: Path | None = None
) -> Distribution:
    """Scan *dist_dir* (and the folder beside it for documents); never raises for bad content."""
    problems: list[ReleaseProblem] = []
    changes_dir = changes_dir or dist_dir / CHANGES_FOLDER
    files: dict[str, ReleaseFile] = {}
    if not dist_dir.is_dir():
        problems.append(
            ReleaseProblem(Code.DIST_MISSING, f"{dist_dir} is not a folder of installer files")
        )
    else:
        for path in sorted(dist_dir.iterdir()):
            if _is_generated(path.name) or path.resolve() == changes_dir.resolve():
                continue
            if path.name == CHANGES_FOLDER and path.is_dir():
                continue  # the default place of change entries, even when --changes says another
            if path.name.startswith("."):
                problems.append(
                    ReleaseProblem(
                        Code.DIST_BAD_FILE, f"{path}: hidden files are not published; remove it"
                    )
                )
            elif not path.is_file():
                problems.append(
                    ReleaseProblem(
                        Code.DIST_BAD_FILE,
                        f"{path}: a distribution is flat; move this folder's files up or pack it",
                    )
                )
            else:
                files[path.name] = _describe(path)
        beside = dist_dir.parent
        for path in sorted(beside.iterdir()):
            if _DOC.fullmatch(path.name) and path.is_file() and path.name not in files:
                files[path.name] = _describe(path)
    documents = {
        base: tuple(
            name
            for name, f in files.items()
            if f.size > 0 and name.upper().startswith(base + ".") and _DOC.fullmatch(name)
        )
        for base in DOCUMENTS
    }
    changes, change_problems = load_changes(changes_dir)
    return Distribution(
        product=product,
        version=version,
        dist_dir=dist_dir,
        changes_dir=changes_dir,
        files=tuple(files[name] for name in sorted(files)),
        documents=documents,
        changes=tuple(changes),
        problems=(*problems, *change_problems),
    )


def sha256sums(files: tuple[ReleaseFile, ...]) -> bytes:
    """The ``SHA256SUMS`` file of *files* (``sha256sum -c`` format)."""
    return "".join(f"{f.sha256}  {f.name}\n" for f in files).encode()
