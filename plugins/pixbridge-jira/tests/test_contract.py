"""The tracker contract suite against Jira Data Center and Jira Cloud (the fake, real client)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pixbridge_jira import JiraTracker
from pixbridge_jira.settings import JiraSettings
from pixbridge_jira.testing import Agent, FakeJira, settings_for

from pixbridge.adapters import AdapterContext, Tracker
from pixbridge.testing.contracts.tracker import TrackerContract


@pytest.fixture(scope="module", params=["datacenter", "cloud"])
def site(request: pytest.FixtureRequest) -> Iterator[FakeJira]:
    # One site per mode for the whole suite: the contract's markers are unique per test.
    with FakeJira(cloud=request.param == "cloud") as fake:
        yield fake


class TestJiraTrackerContract(TrackerContract):
    """Every contract test, once per deployment kind."""

    @pytest.fixture
    def adapter(self, site: FakeJira, adapter_context: AdapterContext) -> Iterator[Tracker]:
        self.site = site
        tracker = JiraTracker(JiraSettings(**settings_for(site)), adapter_context)
        tracker.open()
        yield tracker
        tracker.close()

    def agent_comment(self, adapter: Tracker, key: str, body: str, public: bool) -> None:
        Agent(self.site).comment(key, body, public=public)

    def agent_complete(self, adapter: Tracker, key: str, answer: str) -> None:
        Agent(self.site).complete(key, answer)
