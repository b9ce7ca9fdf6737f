"""The adapter registry: which adapter classes and store backends exist, and who provided each."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pixbridge.adapters import Adapter, AdapterKind, AdapterSettings
from pixbridge.errors import PluginError

if TYPE_CHECKING:
    from pixbridge.store.config import StoreCheck, StoreFactory

__all__ = ["AdapterEntry", "AdapterRegistry", "StoreBackendEntry"]


@dataclass(frozen=True)
class AdapterEntry:
    """One registered adapter class and where it came from."""

    cls: type[Adapter]
    plugin: str
    distribution: str

    @property
    def name(self) -> str:
        """The adapter's unique name."""
        return self.cls.name

    @property
    def kind(self) -> AdapterKind:
        """The adapter's kind."""
        return self.cls.kind


@dataclass(frozen=True)
class StoreBackendEntry:
    """One registered state-store backend (``[store] backend``) and where it came from."""

    name: str
    factory: StoreFactory
    """Opens and migrates the database (see :data:`pixbridge.store.config.StoreFactory`)."""
    check: StoreCheck | None
    """Checks ``[store]`` for this backend without connecting, for ``pixbridge config check``."""
    plugin: str
    distribution: str


class AdapterRegistry:
    """Collects adapter classes from the ``register_adapters`` hook.

    The plugin manager sets :attr:`current_plugin` before calling each plugin's implementation,
    so every class is recorded with its provider.
    """

    def __init__(self, distributions: Mapping[str, str] | None = None) -> None:
        self._entries: dict[str, AdapterEntry] = {}
        self._stores: dict[str, StoreBackendEntry] = {}
        self._distributions = dict(distributions or {})
        self.current_plugin = "?"

    @property
    def current_distribution(self) -> str:
        """The distribution of the plugin whose adapters are being registered."""
        return self._distributions.get(self.current_plugin, "?")

    def add(self, adapter_cls: type[Adapter]) -> None:
        """Register *adapter_cls*, a concrete subclass of one of the adapter contracts."""
        where = f"plugin {self.current_plugin!r} ({self.current_distribution})"
        if not (inspect.isclass(adapter_cls) and issubclass(adapter_cls, Adapter)):
            raise PluginError(f"{where} registered {adapter_cls!r}, which is not an Adapter class")
        if inspect.isabstract(adapter_cls):
            missing = ", ".join(sorted(getattr(adapter_cls, "__abstractmethods__", ())))
            raise PluginError(
                f"{where} registered {adapter_cls.__qualname__}, which does not implement: {missing}"
            )
        name = getattr(adapter_cls, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginError(f"{where}: {adapter_cls.__qualname__} has no `name`")
        settings_cls = adapter_cls.Settings
        if not (
            issubclass(settings_cls, AdapterSettings)
            and settings_cls.model_config.get("extra") == "forbid"
        ):
            raise PluginError(
                f"{where}: {adapter_cls.__qualname__}.Settings must subclass "
                "pixbridge.AdapterSettings and keep extra='forbid'"
            )
        existing = self._entries.get(name)
        if existing is not None:
            raise PluginError(
                f"two adapters are named {name!r}: one from plugin {existing.plugin!r} "
                f"({existing.distribution}), one from {where}; disable one of the plugins "
                "with [plugins] disable = [...]"
            )
        self._entries[name] = AdapterEntry(
            adapter_cls, self.current_plugin, self.current_distribution
        )

    def get(self, name: str, kind: AdapterKind) -> AdapterEntry:
        """The adapter named *name*, which must be of *kind*."""
        entry = self._entries.get(name)
        if entry is None or entry.kind is not kind:
            known = ", ".join(sorted(e.name for e in self.of_kind(kind))) or "none"
            raise PluginError(
                f"no {kind.value} adapter named {name!r} is installed (installed: {known})"
            )
        return entry

    def of_kind(self, kind: AdapterKind) -> list[AdapterEntry]:
        """Every registered adapter of *kind*."""
        return [e for e in self._entries.values() if e.kind is kind]

    def all(self) -> list[AdapterEntry]:
        """Every registered adapter, in registration order."""
        return list(self._entries.values())

    # ------------------------------------------------------------------ store backends

    def add_store_backend(
        self, name: str, factory: StoreFactory, *, check: StoreCheck | None = None
    ) -> None:
        """Register a state-store backend, chosen by ``[store] backend = "<name>"``.

        :param factory: Called with the resolved :class:`~pixbridge.store.config.StoreConfig`;
            returns an open, migrated :class:`~pixbridge.store.db.Database`.
        :param check: Returns what is wrong with the configuration, without connecting.
        """
        where = f"plugin {self.current_plugin!r} ({self.current_distribution})"
        if not isinstance(name, str) or not name or not callable(factory):
            raise PluginError(f"{where} registered a store backend without a name or factory")
        existing = self._stores.get(name)
        if existing is not None:
            raise PluginError(
                f"two store backends are named {name!r}: one from plugin {existing.plugin!r} "
                f"({existing.distribution}), one from {where}; disable one of the plugins "
                "with [plugins] disable = [...]"
            )
        self._stores[name] = StoreBackendEntry(
            name, factory, check, self.current_plugin, self.current_distribution
        )

    def store_backends(self) -> dict[str, StoreBackendEntry]:
        """Every registered store backend, by name."""
        return dict(self._stores)

    def store_backend(self, name: str) -> StoreBackendEntry:
        """The store backend *name*.

        :raises PluginError: none of that name is installed (the message lists those that are).
        """
        entry = self._stores.get(name)
        if entry is None:
            known = ", ".join(sorted(self._stores)) or "none"
            raise PluginError(f"no store backend named {name!r} is installed (installed: {known})")
        return entry
