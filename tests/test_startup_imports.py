"""A pixbridge command loads no plugin's vendor SDK until one of its adapters is used.

Every command imports every installed plugin (entry-point group ``pixbridge``); a plugin that
imported its SDK with its package would cost every command, and every worker process, that
SDK's import time (exchangelib alone ~0.4 s) even on the embedded Maildir + local set-up.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SDKS = ("exchangelib", "msal", "jira", "imapclient", "psycopg")
"""The bundled plugins' SDKs (pixbridge-exchange, -graph, -jira, -imap, -postgres)."""

# Runs ``python -m pixbridge ARGS...`` and, however it ends, writes sys.modules to argv[1].
_WRAPPER = """
import json, runpy, sys

out = sys.argv[1]
sys.argv = ["pixbridge", *sys.argv[2:]]
try:
    runpy.run_module("pixbridge", run_name="__main__", alter_sys=True)
finally:
    with open(out, "w", encoding="utf-8") as f:
        json.dump(sorted(sys.modules), f)
"""


def _bundled_plugins() -> set[str]:
    """The module of every plugin under plugins/ (``pixbridge-exchange`` -> pixbridge_exchange)."""
    return {
        path.name.replace("-", "_")
        for path in (REPO / "plugins").glob("pixbridge-*")
        if path.is_dir()
    }


def test_plugins_command_loads_no_vendor_sdk(tmp_path: Path) -> None:
    modules_file = tmp_path / "modules.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXBRIDGE_")}
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _WRAPPER,
            str(modules_file),
            "--data-dir",
            str(tmp_path / "var"),
            "plugins",
            "--json",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    listed = {entry["module"]: entry for entry in json.loads(done.stdout)}
    bundled = _bundled_plugins()
    assert len(bundled) >= 6
    for module in sorted(bundled):
        assert module in listed, f"{module} is not in `pixbridge plugins --json`"
        assert listed[module]["error"] is None, listed[module]["error"]

    loaded = {name.split(".")[0] for name in json.loads(modules_file.read_text(encoding="utf-8"))}
    assert bundled <= loaded, "the plugins were not imported: the check below would prove nothing"
    assert sorted(loaded & set(SDKS)) == []
