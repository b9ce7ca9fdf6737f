"""From ``[store]`` to an open database: resolving the settings, checking them, opening.

Backends are registered by plugins through the ``register_adapters`` hook
(``registry.add_store_backend(name, factory)``); the built-in ``sqlite`` backend is registered
the same way by :mod:`pixbridge.builtins.defaults`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from pixbridge.errors import ConfigProblem
from pixbridge.store.db import Database

if TYPE_CHECKING:
    from pixbridge.registry import AdapterRegistry
    from pixbridge.settings import Settings

__all__ = [
    "SQLITE_FILE",
    "StoreCheck",
    "StoreConfig",
    "StoreFactory",
    "open_sqlite",
    "resolve_store",
    "store_secrets",
]

SQLITE_FILE = "state.sqlite3"
"""The built-in backend's database file, in the data directory."""


@dataclass(frozen=True)
class StoreConfig:
    """``[store]`` with its secret reference resolved: what a backend's factory gets."""

    backend: str
    data_dir: Path
    url: SecretStr | None = None
    schema: str | None = None


StoreFactory = Callable[[StoreConfig], Database]
"""Opens (and migrates) the database a :class:`StoreConfig` describes.

Raises :class:`~pixbridge.store.db.StoreUnavailable` with what to check when it cannot."""

StoreCheck = Callable[[StoreConfig], list[str]]
"""What is wrong with a :class:`StoreConfig` for one backend, without connecting (for
``pixbridge config check``); an empty list when nothing is."""


def open_sqlite(config: StoreConfig) -> Database:
    """The built-in backend: ``state.sqlite3`` in the data directory."""
    from pixbridge.store.sqlite import SqliteDatabase

    return SqliteDatabase(config.data_dir / SQLITE_FILE)


def _inline_url(files: tuple[Path, ...]) -> str | None:
    """The first settings file that writes ``[store] url`` as plain text, if any."""
    for path in files:
        try:
            data: Any = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError):
            continue
        value = data.get("store", {}).get("url") if isinstance(data.get("store"), dict) else None
        if value is not None and not isinstance(value, dict):
            return str(path)
    return None


def resolve_store(
    settings: Settings, registry: AdapterRegistry
) -> tuple[StoreConfig | None, list[ConfigProblem]]:
    """The store configuration of *settings*, or every problem with it.

    Problems: an unknown backend (naming the installed ones), a URL written into a settings
    file instead of a secret reference, a reference that does not resolve, and whatever the
    backend's own check finds.
    """
    from pixbridge.settings import locate, resolve_secret_refs

    store, files = settings.store, settings.settings_files
    problems: list[ConfigProblem] = []
    entry = registry.store_backends().get(store.backend)
    if entry is None:
        known = ", ".join(sorted(registry.store_backends())) or "none installed"
        problems.append(
            ConfigProblem(
                locate(["store", "backend"], files),
                f"no store backend named {store.backend!r} (installed: {known}); "
                "install the plugin that provides it, e.g. pip install pixbridge-postgres",
            )
        )
    url: SecretStr | None = None
    inline = _inline_url(files)
    if inline is not None:
        problems.append(
            ConfigProblem(
                locate(["store", "url"], [Path(inline)]),
                "the store URL may carry a password and is not written into settings files; "
                'use url = { "$env" = "PIXBRIDGE_STORE_URL" } or '
                '{ "$file" = "/run/secrets/pixbridge-store-url" }',
            )
        )
    elif isinstance(store.url, dict):
        resolved = resolve_secret_refs(store.url, ["store", "url"], problems, files)
        if isinstance(resolved, str):
            url = SecretStr(resolved)
        elif resolved is not None:
            problems.append(
                ConfigProblem(
                    locate(["store", "url"], files),
                    'expected a reference: { "$env" = "NAME" } or { "$file" = "/path" }',
                )
            )
    else:
        url = store.url
    config = StoreConfig(store.backend, settings.data_dir, url, store.schema_name)
    if entry is not None and entry.check is not None and not problems:
        problems.extend(
            ConfigProblem(locate(["store"], files), text) for text in entry.check(config)
        )
    return (None if problems else config), problems


def store_secrets(config: StoreConfig | None) -> list[str]:
    """What of *config* must never reach a log: the URL, and its password on its own."""
    if config is None or config.url is None:
        return []
    url = config.url.get_secret_value()
    found = [url]
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if password:
        found.append(password)
    return found
