"""Importing pixbridge_licserver and registering it loads none of requests.

Every pixbridge command imports every installed plugin at start-up; the SDK is loaded when an
adapter connects instead (pixbridge.testing.imports).
"""

from __future__ import annotations

from pixbridge.testing.imports import plugin_imports

SDK = ("requests", "urllib3")
"""Top-level modules pixbridge_licserver needs only once it talks to its server."""


def test_registering_the_plugin_imports_no_sdk() -> None:
    found = plugin_imports("pixbridge_licserver")
    assert found.adapters == ["licserver"]
    assert "pixbridge_licserver" in found.loaded
    assert sorted(set(SDK) & found.loaded) == []
