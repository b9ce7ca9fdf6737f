"""pixbridge-jira: Jira Cloud or Data Center as pixbridge's registration system.

Registered under the entry point ``jira`` in group ``pixbridge``; select it with
``[pipeline] tracker = "jira"`` and configure it in ``[adapters.jira]`` (see the README).
"""

from __future__ import annotations

from pixbridge import hookimpl
from pixbridge.registry import AdapterRegistry
from pixbridge_jira.adapter import JiraTracker

__all__ = ["JiraTracker", "register_adapters"]


@hookimpl
def register_adapters(registry: AdapterRegistry) -> None:
    """Register the Jira tracker."""
    registry.add(JiraTracker)
