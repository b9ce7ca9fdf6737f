"""*Browse Projects*: what Jira shows an account that may not browse a project, and what
pixbridge makes of it (see the state module of :mod:`pixbridge_jira.testing`).

OPS is another project of the site whose issue (OPS-1, with an agent's comment) pixbridge's
account may not browse; agent.smith browses everything. To pixbridge, OPS-1 must look exactly
like an issue that does not exist.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from pixbridge_jira import JiraTracker
from pixbridge_jira.adapter import ProjectUnavailable
from pixbridge_jira.testing import Agent, FakeJira
from pixbridge_jira.testing.state import FakeIssue
from pixbridge_jira.webhook import WebhookEvent

from pixbridge.errors import PermanentAdapterError
from pixbridge.models import RequestDraft

NO_ISSUE = {
    "errorMessages": ["Issue does not exist or you do not have permission to see it."],
    "errors": {},
}


def no_project(key: str) -> dict[str, Any]:
    return {"errorMessages": [f"No project could be found with key '{key}'."], "errors": {}}


class Client:
    """Raw REST calls as one account of the fake (status and body exactly as answered)."""

    def __init__(self, fake: FakeJira, name: str) -> None:
        user = fake.state.users[name]
        self.http = requests.Session()
        self.http.auth = (user.name, user.secret)
        self.base = f"{fake.url}/rest/api"
        self.version = "3" if fake.state.cloud else "2"

    def __call__(
        self, method: str, path: str, version: str | None = None, **kwargs: Any
    ) -> tuple[int, Any]:
        answer = self.http.request(
            method, f"{self.base}/{version or self.version}/{path}", timeout=10, **kwargs
        )
        return answer.status_code, answer.json() if answer.content else None

    def search(self, jql: str) -> tuple[int, Any]:
        if self.version == "3":
            return self("GET", "search/jql", params={"jql": jql, "fields": "key"})
        return self("GET", "search", params={"jql": jql, "fields": "key"})

    def keys(self, jql: str) -> list[str]:
        status, found = self.search(jql)
        assert status == 200, found
        return [i["key"] for i in found["issues"]]


@pytest.fixture
def key(tracker: JiraTracker) -> str:
    draft = RequestDraft("pb-browse", "Export crashes", "d", "a@b", "en", "normal")
    return tracker.create_request(draft)


@pytest.fixture
def hidden(fake: FakeJira, key: str) -> FakeIssue:
    """OPS-1, labelled like *key*, linked to it by an agent, hidden from pixbridge's account."""
    with fake.state.lock:
        fake.state.add_project("OPS")
        fields = {"project": {"key": "OPS"}, "issuetype": {"name": "Task"},
                  "summary": "Payroll", "labels": ["shared"]}  # fmt: skip
        issue = fake.state.create(fields, fake.state.users["agent.smith"], adf=False)
        fake.state.issue(key).fields["labels"].append("shared")
    agent = Agent(fake)
    agent.comment(issue.key, "Internal: the payroll run failed.", public=True)
    agent.client.create_issue_link("Relates", key, issue.key)
    with fake.state.lock:
        fake.state.hide_project("OPS", from_users=["pixbridge"])
    return issue


@pytest.fixture
def pixbridge(fake: FakeJira) -> Iterator[Client]:
    client = Client(fake, "pixbridge")
    yield client
    client.http.close()


# ---------------------------------------------------------------------- the fake


def test_an_issue_pixbridge_may_not_browse_looks_like_one_that_does_not_exist(
    fake: FakeJira, pixbridge: Client, hidden: FakeIssue
) -> None:
    refs = [hidden.key, str(hidden.id)]
    versions = ["2", "3"] if fake.state.cloud else ["2"]
    for ref in [*refs, "OPS-999"]:
        for version in versions:
            for tail in ("", "/comment", "/transitions"):
                answer = pixbridge("GET", f"issue/{ref}{tail}", version)
                assert answer == (404, NO_ISSUE), (ref, version, tail)
        if fake.state.cloud:
            assert pixbridge("GET", f"issue/{ref}/changelog", "3") == (404, NO_ISSUE)
        writes: list[tuple[str, str, dict[str, Any]]] = [
            ("POST", f"issue/{ref}/comment", {"json": {"body": "x"}}),
            ("POST", f"issue/{ref}/transitions", {"json": {"transition": {"id": "21"}}}),
            ("PUT", f"issue/{ref}", {"json": {"update": {"fixVersions": []}}}),
            ("POST", f"issue/{ref}/attachments",
             {"files": {"file": ("a.txt", b"x")}, "headers": {"X-Atlassian-Token": "no-check"}}),
        ]  # fmt: skip
        for method, path, kwargs in writes:
            assert pixbridge(method, path, "2", **kwargs) == (404, NO_ISSUE), path
        for inward, outward in (("SUP-1", ref), (ref, "SUP-1")):
            link = {"type": {"name": "Relates"}, "inwardIssue": {"key": inward},
                    "outwardIssue": {"key": outward}}  # fmt: skip
            assert pixbridge("POST", "issueLink", "2", json=link) == (404, NO_ISSUE)
    assert len(hidden.comments) == 1 and hidden.status == "Open", "a refused write happened"
    # Nor is it shown as the other end of a link of an issue pixbridge does browse.
    status, mine = pixbridge("GET", "issue/SUP-1", params={"fields": "issuelinks"})
    assert status == 200 and mine["fields"]["issuelinks"] == []
    # Jira administrators browse only where the permission scheme lets them.
    with fake.state.lock:
        fake.state.admins.add("pixbridge")
    assert pixbridge("GET", f"issue/{hidden.key}") == (404, NO_ISSUE)


def test_a_project_pixbridge_may_not_browse_does_not_exist_for_it(
    fake: FakeJira, pixbridge: Client, hidden: FakeIssue
) -> None:
    for path in ("project/OPS", "project/OPS/components", "project/OPS/statuses",
                 "project/OPS/versions"):  # fmt: skip
        assert pixbridge("GET", path) == (404, no_project("OPS")), path
    not_in_jql = {
        "errorMessages": ["The value 'OPS' does not exist for the field 'project'."],
        "errors": {},
    }
    assert pixbridge.search('project = "OPS"') == (400, not_in_jql)
    assert pixbridge.search("project = OPS ORDER BY key") == (400, not_in_jql)
    # Searches that do not name the project leave its issues out, silently.
    assert pixbridge.keys("labels = shared") == ["SUP-1"]
    assert pixbridge.keys(f"key = {hidden.key}") == []
    refused = (
        400,
        {"errorMessages": [], "errors": {"project": "Specify a valid project ID or key"}},
    )
    for ref in ({"key": "OPS"}, {"id": fake.state.projects["OPS"].id}, {"key": "NOPE"}):
        fields = {"project": ref, "issuetype": {"name": "Task"}, "summary": "s"}
        assert pixbridge("POST", "issue", "2", json={"fields": fields}) == refused, ref
    assert [i.key for i in fake.state.issues.values()] == ["SUP-1", "OPS-1"]


def test_mypermissions_says_which_projects_pixbridge_browses(
    fake: FakeJira, pixbridge: Client, hidden: FakeIssue
) -> None:
    def browses(**scope: str) -> Any:
        status, found = pixbridge("GET", "mypermissions", params={
            "permissions": "BROWSE_PROJECTS", **scope})  # fmt: skip
        return (
            found["permissions"]["BROWSE_PROJECTS"]["havePermission"] if status == 200 else status
        )

    # A project the account may not view answers as a missing one (Atlassian: 404 when "the
    # user does not have permission to view the project").
    assert browses(projectKey="OPS") == 404
    assert browses(projectId=fake.state.projects["OPS"].id) == 404
    assert browses(projectKey="NOPE") == 404
    assert browses(issueKey=hidden.key) == 404
    assert browses(projectKey="SUP") is True
    assert browses() is True, "without a project: whether it browses any project"
    with fake.state.lock:
        fake.state.hide_project("SUP", from_users=["pixbridge"])
    # pixbridge administers SUP, so it still sees the project, and is told it may not browse.
    assert browses(projectKey="SUP") is False
    assert browses() is False


def test_the_others_still_see_what_they_may_browse(
    fake: FakeJira, pixbridge: Client, hidden: FakeIssue
) -> None:
    # pixbridge still works in its own project ...
    assert pixbridge("GET", "issue/SUP-1")[0] == 200
    assert pixbridge("GET", "project/SUP")[0] == 200
    assert pixbridge.keys('project = "SUP"') == ["SUP-1"]
    fields = {"project": {"key": "SUP"}, "issuetype": {"name": "Task"}, "summary": "s"}
    assert pixbridge("POST", "issue", "2", json={"fields": fields})[0] == 201
    # ... and the agent, who browses OPS, sees all of it.
    agent = Client(fake, "agent.smith")
    assert agent("GET", f"issue/{hidden.key}")[0] == 200
    assert agent("GET", "project/OPS")[0] == 200
    assert agent.keys("labels = shared") == ["SUP-1", "OPS-1"]
    mine = agent("GET", "issue/SUP-1", params={"fields": "issuelinks"})[1]
    assert [link["outwardIssue"]["key"] for link in mine["fields"]["issuelinks"]] == ["OPS-1"]


def test_a_project_administrator_without_browse_sees_the_project_but_not_its_issues(
    fake: FakeJira, pixbridge: Client, key: str
) -> None:
    with fake.state.lock:
        fake.state.hide_project("SUP", from_users=["pixbridge"])
    assert pixbridge("GET", "project/SUP")[0] == 200  # pixbridge administers SUP
    assert pixbridge("GET", f"issue/{key}") == (404, NO_ISSUE)
    assert pixbridge.search('project = "SUP"')[0] == 400
    with fake.state.lock:
        fake.state.project_admins.discard("pixbridge")
    assert pixbridge("GET", "project/SUP") == (404, no_project("SUP"))


# ---------------------------------------------------------------------- pixbridge


def test_a_webhook_naming_an_issue_pixbridge_may_not_browse_reports_nothing_once(
    tracker: JiraTracker, fake: FakeJira, key: str, hidden: FakeIssue
) -> None:
    watermark = tracker.changes_since(None).watermark
    Agent(fake).comment(key, "Please send the log.", public=True)
    Agent(fake).comment(hidden.key, "Internal: rerun payroll.", public=True)
    # Forged or misfiled: OPS-1 by its global numeric id, claiming pixbridge's project.
    tracker.hint(WebhookEvent("comment_created", str(hidden.id), "SUP", ""))
    tracker.hint(WebhookEvent("comment_created", key, "SUP", ""))
    batch = tracker.changes_since(watermark)
    assert [r.status for r in fake.requests("GET", rf"/issue/{hidden.id}$")] == [404]
    assert {c.key for c in batch.changes} == {key}, batch.changes
    assert all("payroll" not in (c.comment.body if c.comment else "") for c in batch.changes)
    # The refused hint is dropped, not retried: the next passes do not ask for it again.
    assert tracker.take_hints(10) == []
    assert tracker.changes_since(batch.watermark).changes == ()
    assert len(fake.requests("GET", rf"/issue/{hidden.id}$")) == 1


def test_a_request_linked_to_an_issue_pixbridge_may_not_browse(
    tracker: JiraTracker, fake: FakeJira, key: str, hidden: FakeIssue
) -> None:
    assert tracker.get_request(key).links == (), "the hidden issue leaked through a link"
    with pytest.raises(PermanentAdapterError, match="Issue does not exist") as refused:
        tracker.get_request(hidden.key)
    with pytest.raises(PermanentAdapterError, match="Issue does not exist") as missing:
        tracker.get_request("OPS-999")
    assert str(refused.value).replace(hidden.key, "OPS-999") == str(missing.value)
    with pytest.raises(PermanentAdapterError, match=f"cannot link {key} to {hidden.key}"):
        tracker.link(key, hidden.key)


GRANT = (
    "grant it the Browse Projects permission in project SUP (through the project's "
    "permission scheme, e.g. a project role)"
)


def test_doctor_says_when_pixbridge_may_not_browse_its_own_project(
    tracker: JiraTracker, fake: FakeJira, key: str
) -> None:
    account = tracker.account
    with fake.state.lock:
        fake.state.hide_project("SUP", from_users=["pixbridge"])
    # As the project's administrator pixbridge still sees the project, but nothing in it.
    assert tracker.check() == [
        f"adapters.jira.project: the account {account!r} sees project SUP but may not browse "
        f"its issues; {GRANT}"
    ]
    # At run time the error says as much (see test_project_unavailable.py).
    with pytest.raises(ProjectUnavailable, match="does not exist for the field 'project'"):
        tracker.changes_since(None)
    with pytest.raises(ProjectUnavailable, match="Specify a valid project ID or key"):
        tracker.create_request(RequestDraft("pb-hidden", "s", "d", "a@b", "en", "normal"))
    # Without administration Jira shows it no project at all; its permissions tell why.
    with fake.state.lock:
        fake.state.project_admins.discard("pixbridge")
    assert tracker.check() == [
        f"adapters.jira.project: the account {account!r} may browse no project at all, so "
        f"Jira shows it no project 'SUP'; {GRANT}"
    ]


def test_doctor_cannot_tell_a_hidden_project_from_a_missing_one_when_others_are_browsed(
    tracker: JiraTracker, fake: FakeJira, make_tracker: Any
) -> None:
    with fake.state.lock:
        fake.state.add_project("OPS")
        fake.state.hide_project("SUP", from_users=["pixbridge"])
        fake.state.project_admins.discard("pixbridge")
    # Jira answers both alike, on purpose: doctor can only name the setting.
    [hidden] = tracker.check()
    [missing] = make_tracker(project="NOPE").check()
    assert hidden.replace("SUP", "NOPE") == missing
    assert hidden.startswith("adapters.jira.project: no project 'SUP'")
