"""Importing pixbridge_imap and registering it loads none of imapclient.

Every pixbridge command imports every installed plugin at start-up; the SDK is loaded when an
adapter connects instead (pixbridge.testing.imports).
"""

from __future__ import annotations

from pixbridge.testing.imports import plugin_imports

SDK = ("imapclient",)
"""Top-level modules pixbridge_imap needs only once it talks to its server."""


def test_registering_the_plugin_imports_no_sdk() -> None:
    found = plugin_imports("pixbridge_imap")
    assert found.adapters == ["imap", "smtp"]
    assert "pixbridge_imap" in found.loaded
    assert sorted(set(SDK) & found.loaded) == []
