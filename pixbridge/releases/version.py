"""The version model: ``generation.build``.

The build number is a plain counter, unique and strictly increasing per product across all
generations, so builds are ordered by it alone. The generation is a product decision (functions,
algorithms or the UI changed substantially) and never goes backwards in build order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pixbridge.releases.problems import Code, ReleaseProblem, ReleaseRefused

__all__ = ["Version", "check_product"]

_VERSION = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")
# Products become path components, URL segments and parts of outbox causes ("build:P:4.13:KEY").
_PRODUCT = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._+()-]{0,127}")


@dataclass(frozen=True, order=False)
class Version:
    """One version of a product: ``generation.build``, e.g. ``4.13``."""

    generation: int
    build: int

    @classmethod
    def parse(cls, text: str) -> Version:
        """``"4.13"`` -> ``Version(4, 13)``; :class:`ReleaseRefused` for anything else."""
        match = _VERSION.fullmatch(text)
        if not match or int(match[1]) < 1 or int(match[2]) < 1:
            raise ReleaseRefused(
                [
                    ReleaseProblem(
                        Code.BAD_VERSION,
                        f"version {text!r} is not generation.build: two whole numbers from 1 "
                        "up without leading zeros, e.g. 4.13",
                    )
                ]
            )
        return cls(int(match[1]), int(match[2]))

    def __str__(self) -> str:
        return f"{self.generation}.{self.build}"


def check_product(product: str) -> None:
    """Refuse a product name that cannot be a folder name and a URL segment."""
    if not _PRODUCT.fullmatch(product) or product.endswith((" ", ".")) or ".." in product:
        raise ReleaseRefused(
            [
                ReleaseProblem(
                    Code.BAD_PRODUCT,
                    f"product {product!r} is not a safe name: use letters, digits, spaces and "
                    ". _ + ( ) -, starting with a letter or digit",
                )
            ]
        )
