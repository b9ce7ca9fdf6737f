"""Importing pixbridge_graph and registering it loads none of msal, requests, tenacity and cryptography.

Every pixbridge command imports every installed plugin at start-up; the SDK is loaded when an
adapter connects instead (pixbridge.testing.imports).
"""

from __future__ import annotations

from pixbridge.testing.imports import plugin_imports

SDK = ("msal", "requests", "urllib3", "tenacity", "cryptography")
"""Top-level modules pixbridge_graph needs only once it talks to its server."""


def test_registering_the_plugin_imports_no_sdk() -> None:
    found = plugin_imports("pixbridge_graph")
    assert found.adapters == ["graph", "graph-sender"]
    assert "pixbridge_graph" in found.loaded
    assert sorted(set(SDK) & found.loaded) == []
