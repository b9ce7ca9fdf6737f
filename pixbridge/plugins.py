"""Building the plugin manager: built-in plugins, entry points, validation.

There is no import-time global manager: :func:`load_plugins` builds a fresh one each time it is
called (once per process in production, once per test in tests).
"""

from __future__ import annotations

import difflib
import importlib
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType
from typing import Any

import pluggy

from pixbridge import hookspecs
from pixbridge.errors import PluginError
from pixbridge.markers import PROJECT
from pixbridge.registry import AdapterRegistry

__all__ = [
    "BUILTIN_PLUGINS",
    "ESSENTIAL_PLUGINS",
    "PluginInfo",
    "PluginSet",
    "load_plugins",
]

log = logging.getLogger("pixbridge.plugins")

BUILTIN_PLUGINS: tuple[str, ...] = (
    "pixbridge.builtins.defaults",
    "pixbridge.builtins.triage",
    "pixbridge.builtins.maildir",
    "pixbridge.builtins.local_tracker",
    "pixbridge.builtins.registry_license",
    "pixbridge.builtins.certificate_license",
    "pixbridge.builtins.directory_publisher",
)
"""Modules registered as plugins before any entry point, in this order."""

ESSENTIAL_PLUGINS: frozenset[str] = frozenset(
    {"pixbridge.builtins.defaults", "pixbridge.builtins.triage"}
)
"""Built-ins that cannot be disabled: they hold the default answer of every decision hook."""


@dataclass
class PluginInfo:
    """What ``pixbridge plugins`` reports about one plugin."""

    name: str
    module: str
    distribution: str
    version: str
    builtin: bool
    hooks: list[str] = field(default_factory=list)
    adapters: list[str] = field(default_factory=list)
    error: str | None = None
    disabled: bool = False

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly view."""
        return {
            "name": self.name,
            "module": self.module,
            "distribution": self.distribution,
            "version": self.version,
            "builtin": self.builtin,
            "hooks": self.hooks,
            "adapters": self.adapters,
            "error": self.error,
            "disabled": self.disabled,
        }


@dataclass
class PluginSet:
    """A built plugin manager with its registry and what was loaded."""

    manager: pluggy.PluginManager
    registry: AdapterRegistry
    infos: list[PluginInfo]


def _core_version() -> str:
    from pixbridge import __version__

    return __version__


def load_plugins(
    *,
    disable: Iterable[str] = (),
    required: Iterable[str] = (),
    allow: Sequence[str] | None = None,
    autoload: bool = True,
    extra: Iterable[tuple[str, object]] = (),
) -> PluginSet:
    """Build a plugin manager.

    :param disable: Plugin names (entry-point names, or built-in module names) not to load.
    :param required: Plugin names that must load; a failure to load one stops start-up.
    :param allow: If given, load only these entry points (``PIXBRIDGE_LOAD_PLUGINS`` also sets it).
    :param autoload: Load the ``pixbridge`` entry-point group at all (tests turn it off).
    :param extra: ``(name, plugin)`` pairs registered after the built-ins, e.g. by tests.
    :raises PluginError: a required plugin is missing or broken, a hook is implemented that has
        no spec, two adapters share a name, or an essential built-in was disabled.
    """
    disabled = set(disable)
    required_set = set(required)
    env_allow = os.environ.get("PIXBRIDGE_LOAD_PLUGINS")
    if allow is None and env_allow is not None:
        allow = [n.strip() for n in env_allow.split(",") if n.strip()]

    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    if os.environ.get("PIXBRIDGE_TRACE_PLUGINS"):
        pm.trace.root.setwriter(log.debug)
        pm.enable_tracing()

    infos: list[PluginInfo] = []
    core_version = _core_version()

    for modname in BUILTIN_PLUGINS:
        info = PluginInfo(modname, modname, "pixbridge", core_version, builtin=True)
        infos.append(info)
        if modname in disabled:
            if modname in ESSENTIAL_PLUGINS:
                raise PluginError(f"the built-in plugin {modname!r} cannot be disabled")
            info.disabled = True
            continue
        module = importlib.import_module(modname)
        _register(pm, module, info)

    for name, plugin in extra:
        info = PluginInfo(name, getattr(plugin, "__name__", repr(plugin)), "(test)", "", False)
        infos.append(info)
        _register(pm, plugin, info)

    if autoload:
        infos.extend(_load_entry_points(pm, disabled, required_set, allow))

    loaded = {i.name for i in infos if i.error is None and not i.disabled}
    missing = sorted(required_set - loaded)
    if missing:
        raise PluginError(
            "missing required plugin(s): "
            + ", ".join(missing)
            + "; install them (pip install pixbridge-<name>) or remove them from [plugins] required"
        )
    _check_unknown_hooks(pm, infos)
    registry = _collect_adapters(pm, infos)
    for info in infos:
        plugin = pm.get_plugin(info.name)
        if plugin is not None:
            info.hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or ())
    return PluginSet(pm, registry, infos)


def _register(pm: pluggy.PluginManager, plugin: object, info: PluginInfo) -> None:
    try:
        pm.register(plugin, name=info.name)
    except pluggy.PluginValidationError as exc:
        raise PluginError(
            f"plugin {info.name!r} ({info.distribution} {info.version}) is invalid: {exc}"
        ) from exc


def _load_entry_points(
    pm: pluggy.PluginManager,
    disabled: set[str],
    required: set[str],
    allow: Sequence[str] | None,
) -> list[PluginInfo]:
    infos: list[PluginInfo] = []
    for ep in sorted(metadata.entry_points(group=PROJECT), key=lambda e: e.name):
        dist = ep.dist
        info = PluginInfo(
            name=ep.name,
            module=ep.value,
            distribution=dist.name if dist else "?",
            version=dist.version if dist else "?",
            builtin=False,
        )
        infos.append(info)
        if ep.name in disabled or (allow is not None and ep.name not in allow):
            info.disabled = True
            continue
        if pm.get_plugin(ep.name) is not None:
            continue
        try:
            plugin: ModuleType | object = ep.load()
            pm.register(plugin, name=ep.name)
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            if ep.name in required:
                raise PluginError(
                    f"required plugin {ep.name!r} ({info.distribution} {info.version}) "
                    f"failed to load: {message}"
                ) from exc
            info.error = message
            log.warning(
                "plugin %r (%s %s) failed to load and is skipped: %s",
                ep.name,
                info.distribution,
                info.version,
                message,
            )
    return infos


def _check_unknown_hooks(pm: pluggy.PluginManager, infos: list[PluginInfo]) -> None:
    """Fail on implementations of hooks that pixbridge does not have (usually a typo)."""
    known = [name for name in vars(pm.hook) if not name.startswith("_")]
    spec_names = [n for n in known if getattr(pm.hook, n).has_spec()]
    by_name = {i.name: i for i in infos}
    problems = []
    for name in known:
        caller = getattr(pm.hook, name)
        if caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            if impl.optionalhook:
                continue
            info = by_name.get(impl.plugin_name)
            dist = f" ({info.distribution} {info.version})" if info else ""
            hint = difflib.get_close_matches(name, spec_names, n=1)
            suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
            problems.append(
                f"plugin {impl.plugin_name!r}{dist} implements hook {name!r}, "
                f"which pixbridge does not have{suggestion}"
            )
    if problems:
        raise PluginError("\n".join(problems))


def _collect_adapters(pm: pluggy.PluginManager, infos: list[PluginInfo]) -> AdapterRegistry:
    """Call ``register_adapters``, recording which plugin provided which adapter."""
    from pixbridge.hooks import Hooks

    registry = AdapterRegistry({i.name: i.distribution for i in infos})
    Hooks(pm).register_adapters(registry=registry)
    by_plugin: dict[str, list[str]] = {}
    for entry in registry.all():
        by_plugin.setdefault(entry.plugin, []).append(entry.name)
    for info in infos:
        info.adapters = sorted(by_plugin.get(info.name, []))
    return registry
