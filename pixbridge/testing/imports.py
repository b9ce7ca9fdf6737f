"""What a plugin or a ``pixbridge`` command imports, seen in a fresh interpreter.

Every ``pixbridge`` command imports every installed plugin at start-up, so a vendor SDK imported
with a plugin's package costs every command (and every worker process) its import time,
configured or not. A plugin's test asserts its SDK is absent::

    from pixbridge.testing.imports import plugin_imports

    def test_registering_the_plugin_imports_no_sdk() -> None:
        found = plugin_imports("pixbridge_acme")
        assert found.adapters == ["acme"]
        assert not found.loaded & {"acme_sdk", "requests"}
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PluginImports", "command_modules", "plugin_imports"]

# What the core loads by itself is set aside, so that only the plugin's own imports are judged.
_PLUGIN_PROBE = """
import importlib, json, sys

from pixbridge.registry import AdapterRegistry

before = set(sys.modules)
package = importlib.import_module(sys.argv[1])
registry = AdapterRegistry()
package.register_adapters(registry=registry)
print(json.dumps({
    "loaded": sorted({name.split(".")[0] for name in set(sys.modules) - before}),
    "adapters": sorted(entry.name for entry in registry.all()),
    "store_backends": sorted(registry.store_backends()),
}))
"""

# Runs ``python -m pixbridge ARGS...`` and, however it ends, writes sys.modules to argv[1].
_COMMAND_PROBE = """
import runpy, sys

out = sys.argv.pop(1)
sys.argv[0] = "pixbridge"
try:
    runpy.run_module("pixbridge", run_name="__main__", alter_sys=True)
finally:
    with open(out, "w", encoding="utf-8") as f:
        f.write("\\n".join(sorted(sys.modules)))
"""


@dataclass(frozen=True)
class PluginImports:
    """What importing a plugin package and registering its adapters did."""

    loaded: frozenset[str]
    """Top-level modules the plugin loaded beyond what the core had loaded (itself included)."""
    adapters: list[str]
    """Names of the adapters it registered, sorted."""
    store_backends: list[str]
    """Names of the state-store backends it registered, sorted."""


def plugin_imports(package: str) -> PluginImports:
    """Import *package* and call its ``register_adapters`` in a new interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", _PLUGIN_PROBE, package],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode:
        raise AssertionError(f"importing {package} failed:\n{done.stderr}")
    found = json.loads(done.stdout)
    return PluginImports(frozenset(found["loaded"]), found["adapters"], found["store_backends"])


def command_modules(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run ``pixbridge ARGS`` in a new interpreter in *cwd*: its result and every module it had
    imported when it ended (whether it succeeded or not).

    The caller's ``PIXBRIDGE_*`` variables are left out; *env* adds variables.
    """
    out = cwd / "modules.txt"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PIXBRIDGE_")}
    result = subprocess.run(
        [sys.executable, "-c", _COMMAND_PROBE, str(out), *args],
        cwd=cwd,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result, set(out.read_text(encoding="utf-8").split())
