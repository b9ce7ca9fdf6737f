"""Human names of the required items, in the customer's language, for the mail we send.

The names live beside the templates, in ``missing_items.<language>.toml`` (one ``item = "text"``
per line), so a site words them as it words its templates. An item without a name there falls
back to the English file, then to its code.
"""

from __future__ import annotations

import stat
import tomllib
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from pixbridge.errors import ConfigError, ConfigProblem

__all__ = ["label_items"]


def _names(path: Path) -> dict[str, str]:
    try:
        seen = path.stat()
    except FileNotFoundError:
        return {}
    if not stat.S_ISREG(seen.st_mode):
        return {}  # a directory of that name, say: no names, as before the cache
    # Read again only when the file changed: a site may reword the names while pixbridge runs,
    # and reading and parsing it for every acknowledgement cost more than composing the mail.
    return _read(path, seen.st_mtime_ns, seen.st_size)


@lru_cache(maxsize=32)
def _read(path: Path, mtime_ns: int, size: int) -> dict[str, str]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([ConfigProblem(str(path), f"not valid TOML: {exc}")]) from None
    return {str(k): str(v) for k, v in data.items() if isinstance(v, str)}


def label_items(items: Sequence[str], language: str, templates_dir: Path) -> list[str]:
    """The human names of *items* in *language* (English, then the code, where none is given)."""
    own = _names(templates_dir / f"missing_items.{language}.toml")
    english = own if language == "en" else _names(templates_dir / "missing_items.en.toml")
    return [own.get(item) or english.get(item) or item for item in items]
