"""Importing pixbridge_exchange and registering it loads none of the EWS client and its HTTP, NTLM, XML and retry stack.

Every pixbridge command imports every installed plugin at start-up; the SDK is loaded when an
adapter connects instead (pixbridge.testing.imports).
"""

from __future__ import annotations

from pixbridge.testing.imports import plugin_imports

SDK = ("exchangelib", "requests", "requests_ntlm", "spnego", "lxml", "tenacity", "cryptography")
"""Top-level modules pixbridge_exchange needs only once it talks to its server."""


def test_registering_the_plugin_imports_no_sdk() -> None:
    found = plugin_imports("pixbridge_exchange")
    assert found.adapters == ["exchange", "exchange-sender"]
    assert "pixbridge_exchange" in found.loaded
    assert sorted(set(SDK) & found.loaded) == []
