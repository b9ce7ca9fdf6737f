"""Importing pixbridge_jira and registering it loads none of the jira client, requests and tenacity.

Every pixbridge command imports every installed plugin at start-up; the SDK is loaded when an
adapter connects instead (pixbridge.testing.imports).
"""

from __future__ import annotations

from pixbridge.testing.imports import plugin_imports

SDK = ("jira", "requests", "requests_toolbelt", "urllib3", "tenacity")
"""Top-level modules pixbridge_jira needs only once it talks to its server."""


def test_registering_the_plugin_imports_no_sdk() -> None:
    found = plugin_imports("pixbridge_jira")
    assert found.adapters == ["jira", "jira-version"]
    assert "pixbridge_jira" in found.loaded
    assert sorted(set(SDK) & found.loaded) == []
