"""Why a release is refused: every problem at once, each saying what to add or change."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pixbridge.errors import PixbridgeError

__all__ = ["Code", "ReleaseConflict", "ReleaseProblem", "ReleaseRefused"]


class Code(StrEnum):
    """The rule a release breaks (stable names, for scripts reading ``--json``)."""

    BAD_VERSION = "bad_version"
    BAD_PRODUCT = "bad_product"
    BUILD_NOT_INCREASING = "build_not_increasing"
    GENERATION_REGRESSION = "generation_regression"
    GENERATION_DOCS_MISSING = "generation_docs_missing"
    NO_CHANGES = "no_changes"
    CHANGE_ALREADY_RELEASED = "change_already_released"
    BAD_CHANGE_ENTRY = "bad_change_entry"
    DIST_MISSING = "dist_missing"
    DIST_EMPTY = "dist_empty"
    DIST_BAD_FILE = "dist_bad_file"


@dataclass(frozen=True)
class ReleaseProblem:
    """One broken rule and what to do about it."""

    code: Code
    message: str

    def __str__(self) -> str:
        return f"[{self.code.value}] {self.message}"


class ReleaseRefused(PixbridgeError):
    """The release breaks one or more rules; :attr:`problems` lists all of them."""

    def __init__(self, problems: list[ReleaseProblem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"the release is refused, {len(problems)} problem(s):\n{lines}")


class ReleaseConflict(PixbridgeError):
    """The version was already recorded with other files or change entries."""
