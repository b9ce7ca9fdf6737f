"""Fixtures: a fake Jira per deployment kind, and trackers talking to it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pixbridge_jira import JiraTracker
from pixbridge_jira.settings import JiraSettings
from pixbridge_jira.testing import FakeJira, settings_for

from pixbridge.adapters import AdapterContext


@pytest.fixture(params=["datacenter", "cloud"])
def fake(request: pytest.FixtureRequest) -> Iterator[FakeJira]:
    """A fresh fake Jira site, once as Data Center and once as Cloud."""
    with FakeJira(cloud=request.param == "cloud") as site:
        yield site


@pytest.fixture
def make_tracker(fake: FakeJira, adapter_context: AdapterContext) -> Iterator[Any]:
    """Build opened trackers on *fake* with setting overrides."""
    made: list[JiraTracker] = []

    def factory(**overrides: Any) -> JiraTracker:
        tracker = JiraTracker(JiraSettings(**settings_for(fake, **overrides)), adapter_context)
        tracker.open()
        made.append(tracker)
        return tracker

    yield factory
    for tracker in made:
        tracker.close()


@pytest.fixture
def tracker(make_tracker: Any) -> JiraTracker:
    """A tracker on the fake with the default test settings."""
    tracker: JiraTracker = make_tracker()
    return tracker
