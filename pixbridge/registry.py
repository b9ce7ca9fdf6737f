"""The adapter registry: which adapter classes exist, and which plugin provided each."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass

from pixbridge.adapters import Adapter, AdapterKind, AdapterSettings
from pixbridge.errors import PluginError

__all__ = ["AdapterEntry", "AdapterRegistry"]


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


class AdapterRegistry:
    """Collects adapter classes from the ``register_adapters`` hook.

    The plugin manager sets :attr:`current_plugin` before calling each plugin's implementation,
    so every class is recorded with its provider.
    """

    def __init__(self, distributions: Mapping[str, str] | None = None) -> None:
        self._entries: dict[str, AdapterEntry] = {}
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
