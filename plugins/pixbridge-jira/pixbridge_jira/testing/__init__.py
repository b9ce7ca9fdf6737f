"""Testing kit: a fake Jira the real client talks to, settings pointing at it, an agent.

with FakeJira(cloud=True) as fake:
    tracker = JiraTracker(JiraSettings(**settings_for(fake)), context)
    Agent(fake).comment(key, "Please send the log.", public=True)
"""

from __future__ import annotations

from typing import Any

from jira import JIRA

from pixbridge_jira.testing.server import Delivery, FakeJira, FakeWebhook, Fault, Received

__all__ = [
    "Agent",
    "Delivery",
    "FakeJira",
    "FakeWebhook",
    "Fault",
    "Received",
    "settings_for",
    "version_settings_for",
]


def settings_for(fake: FakeJira, **overrides: Any) -> dict[str, Any]:
    """``[adapters.jira]`` settings (as a dict) for pixbridge's account on *fake*, fast timings."""
    cloud = fake.state.cloud
    settings: dict[str, Any] = {
        "url": fake.url,
        "deployment": "cloud" if cloud else "datacenter",
        "auth": "api_token" if cloud else "pat",
        "email": "pixbridge@pix.example" if cloud else "",
        "token": "pb-secret",
        "project": "SUP",
        "issue_type": "Task",
        "reconcile_patience": 5.0,
        "issue_write_interval": 0.0,
        "backoff": 0.05,
        "max_wait": 10.0,
        "read_timeout": 10.0,
    }
    settings.update(overrides)
    return settings


def version_settings_for(fake: FakeJira, **overrides: Any) -> dict[str, Any]:
    """``[adapters.jira-version]`` settings (as a dict) for *fake*: the connection keys only."""
    tracker_only = ("issue_type", "reconcile_patience")
    settings = {k: v for k, v in settings_for(fake).items() if k not in tracker_only}
    settings.update(overrides)
    return settings


class Agent:
    """A support agent working in the fake Jira through the real ``jira`` client."""

    def __init__(self, fake: FakeJira, name: str = "agent.smith") -> None:
        user = fake.state.users[name]
        self.client = JIRA(
            fake.url, basic_auth=(user.name, user.secret), max_retries=0,
            options={"check_update": False},
        )  # fmt: skip

    def comment(self, key: str, body: str, *, public: bool) -> None:
        """Comment on *key*; an internal comment is visible to the Developers role only."""
        visibility = None if public else {"type": "role", "value": "Developers"}
        self.client.add_comment(key, body, visibility=visibility)

    def complete(self, key: str, answer: str) -> None:
        """Resolve *key* with *answer* as the transition's comment."""
        self.client.transition_issue(key, "Resolve", fields={"resolution": {"name": "Done"}},
                                     comment=answer)  # fmt: skip
