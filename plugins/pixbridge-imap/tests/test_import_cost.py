"""Importing pixbridge_imap and registering it loads none of imapclient.

Every pixbridge command imports every installed plugin at start-up, so an SDK imported with the
package costs every command its import time, configured or not. The SDK is loaded when an
adapter connects instead.
"""

from __future__ import annotations

import json
import subprocess
import sys

SDK = ("imapclient",)
"""Top-level modules pixbridge_imap needs only once it talks to its server."""

# What the core loads by itself is set aside, so only the plugin's own imports are judged.
_PROBE = """
import json, sys

from pixbridge.registry import AdapterRegistry

before = set(sys.modules)
import pixbridge_imap

registry = AdapterRegistry()
pixbridge_imap.register_adapters(registry=registry)
loaded = {name.split(".")[0] for name in set(sys.modules) - before}
print(json.dumps({"loaded": sorted(loaded), "registered": sorted(entry.name for entry in registry.all())}))
"""


def test_registering_the_plugin_imports_no_sdk() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["registered"] == ["imap", "smtp"]
    assert "pixbridge_imap" in found["loaded"]
    assert sorted(set(SDK) & set(found["loaded"])) == []
