"""pixbridge-jira: Jira Cloud or Data Center as pixbridge's registration system.

Registered under the entry point ``jira`` in group ``pixbridge``; select it with
``[pipeline] tracker = "jira"`` and configure it in ``[adapters.jira]`` (see the README).
The release publisher ``jira-version`` (``[pipeline] publishers``, ``[adapters.jira-version]``)
creates and releases the Jira version of each published build.
"""

from __future__ import annotations

from pixbridge import hookimpl
from pixbridge.registry import AdapterRegistry
from pixbridge_jira.adapter import JiraTracker
from pixbridge_jira.publisher import JiraVersionPublisher

__all__ = ["JiraTracker", "JiraVersionPublisher", "register_adapters"]


@hookimpl
def register_adapters(registry: AdapterRegistry) -> None:
    """Register the Jira tracker and the Jira version publisher."""
    registry.add(JiraTracker)
    registry.add(JiraVersionPublisher)
