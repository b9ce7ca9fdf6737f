"""Importing pixbridge_postgres and registering it loads none of psycopg.

Every pixbridge command imports every installed plugin at start-up; the SDK is loaded when an
adapter connects instead (pixbridge.testing.imports).
"""

from __future__ import annotations

from pixbridge.testing.imports import plugin_imports

SDK = ("psycopg", "psycopg_pool", "psycopg_binary", "psycopg_c")
"""Top-level modules pixbridge_postgres needs only once it talks to its server."""


def test_registering_the_plugin_imports_no_sdk() -> None:
    found = plugin_imports("pixbridge_postgres")
    assert found.store_backends == ["postgresql"]
    assert "pixbridge_postgres" in found.loaded
    assert sorted(set(SDK) & found.loaded) == []
