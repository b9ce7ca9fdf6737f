"""A pixbridge command loads no plugin's vendor SDK until one of its adapters is used.

Every command imports every installed plugin (entry-point group ``pixbridge``); a plugin that
imported its SDK with its package would cost every command, and every worker process, that
SDK's import time (exchangelib alone ~0.4 s) even on the embedded Maildir + local set-up.
"""

from __future__ import annotations

import json
from pathlib import Path

from pixbridge.testing.imports import command_modules

REPO = Path(__file__).resolve().parents[1]

SDKS = ("exchangelib", "msal", "jira", "imapclient", "psycopg")
"""The bundled plugins' SDKs (pixbridge-exchange, -graph, -jira, -imap, -postgres)."""


def _bundled_plugins() -> set[str]:
    """The module of every plugin under plugins/ (``pixbridge-exchange`` -> pixbridge_exchange)."""
    return {
        path.name.replace("-", "_")
        for path in (REPO / "plugins").glob("pixbridge-*")
        if path.is_dir()
    }


def test_plugins_command_loads_no_vendor_sdk(tmp_path: Path) -> None:
    done, modules = command_modules(
        tmp_path, "--data-dir", str(tmp_path / "var"), "plugins", "--json"
    )
    assert done.returncode == 0, done.stderr
    listed = {entry["module"]: entry for entry in json.loads(done.stdout)}
    bundled = _bundled_plugins()
    assert len(bundled) >= 6
    for module in sorted(bundled):
        assert module in listed, f"{module} is not in `pixbridge plugins --json`"
        assert listed[module]["error"] is None, listed[module]["error"]

    loaded = {name.split(".")[0] for name in modules}
    assert bundled <= loaded, "the plugins were not imported: the check below would prove nothing"
    assert sorted(loaded & set(SDKS)) == []
