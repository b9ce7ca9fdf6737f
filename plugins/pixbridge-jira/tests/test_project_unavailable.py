"""pixbridge's own project out of the account's reach (no *Browse Projects* or *Create Issues*,
or a wrong key): the errors at run time name ``adapters.jira.project`` and the fix, as doctor
does, and are :class:`ProjectUnavailable` (an operator acts, then the same call succeeds).

Jira answers as if such a project did not exist: 400 on the create (``errors.project``), 400 on
JQL naming it; a missing *Create Issues* is a 400 saying the fields "cannot be set"
(JRASERVER-44003). Only then does pixbridge ask Jira for its permissions, once.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from pixbridge_jira import JiraTracker
from pixbridge_jira.adapter import ProjectUnavailable
from pixbridge_jira.testing import Agent, FakeJira, Fault

from pixbridge.errors import NeedsCredentials, PermanentAdapterError
from pixbridge.models import RequestDraft

FIX = (
    "grant the account Browse Projects and Create Issues in project SUP (through the project's "
    "permission scheme, e.g. a project role), or correct the key; `pixbridge doctor` checks it"
)


def draft(marker: str = "pb-unavailable", *, recovering: bool = False) -> RequestDraft:
    return RequestDraft(marker, "Export crashes", "d", "a@b", "en", "normal", recovering=recovering)


def probes(fake: FakeJira) -> int:
    return len(fake.requests("GET", r"/mypermissions$"))


def hide(fake: FakeJira, *, administered: bool = True) -> None:
    with fake.state.lock:
        fake.state.hide_project("SUP", from_users=["pixbridge"])
        if not administered:
            fake.state.project_admins.discard("pixbridge")


def test_the_happy_path_asks_jira_for_no_permissions(tracker: JiraTracker, fake: FakeJira) -> None:
    tracker.create_request(draft())
    tracker.create_request(draft(recovering=True))  # found again by its marker
    tracker.changes_since(None)
    assert probes(fake) == 0


@pytest.mark.parametrize("administered", [True, False])
def test_creating_in_a_project_the_account_may_not_browse(
    tracker: JiraTracker, fake: FakeJira, administered: bool
) -> None:
    hide(fake, administered=administered)
    with pytest.raises(ProjectUnavailable) as raised:
        tracker.create_request(draft())
    message = str(raised.value)
    assert message.startswith('adapters.jira.project = "SUP": ')
    assert message.endswith(FIX)
    assert "Specify a valid project ID or key" in message, "Jira's own answer is kept"
    why = "sees project SUP but may not browse" if administered else "no project 'SUP'"
    assert why in message
    assert isinstance(raised.value, NeedsCredentials)
    assert not isinstance(raised.value, PermanentAdapterError)
    assert isinstance(raised.value.__cause__, PermanentAdapterError)
    assert probes(fake) == 1 and not fake.state.issues


@pytest.mark.parametrize("administered", [True, False])
def test_syncing_a_project_the_account_may_not_browse(
    tracker: JiraTracker, fake: FakeJira, administered: bool
) -> None:
    hide(fake, administered=administered)
    with pytest.raises(ProjectUnavailable) as raised:
        tracker.changes_since(None)
    message = str(raised.value)
    assert message.startswith('adapters.jira.project = "SUP": ') and message.endswith(FIX)
    assert "The value 'SUP' does not exist for the field 'project'." in message
    assert probes(fake) == 1


def test_recovering_a_create_in_a_project_the_account_may_not_browse(
    tracker: JiraTracker, fake: FakeJira
) -> None:
    hide(fake)
    with pytest.raises(ProjectUnavailable, match=r"^adapters\.jira\.project = \"SUP\": .*SUP'"):
        tracker.create_request(draft(recovering=True))
    assert not fake.requests("POST", r"/issue$"), "created without finding the first one"


def test_a_wrong_key(make_tracker: Any, fake: FakeJira) -> None:
    tracker = make_tracker(project="NOPE")
    for call in (lambda: tracker.create_request(draft()), lambda: tracker.changes_since(None)):
        with pytest.raises(ProjectUnavailable) as raised:
            call()
        message = str(raised.value)
        assert message.startswith('adapters.jira.project = "NOPE": Jira shows the account no ')
        assert "the key is wrong" in message and "correct the key" in message


def test_creating_without_create_issues(tracker: JiraTracker, fake: FakeJira) -> None:
    with fake.state.lock:
        fake.state.deny_create("SUP", from_users=["pixbridge"])
    with pytest.raises(ProjectUnavailable) as raised:
        tracker.create_request(draft())
    message = str(raised.value)
    assert "may not create issues in project SUP" in message and message.endswith(FIX)
    assert "Field 'summary' cannot be set" in message
    tracker.changes_since(None)  # browsing is all a sync needs


def test_other_refusals_keep_their_class_and_words(tracker: JiraTracker, fake: FakeJira) -> None:
    fake.inject(Fault("POST", r"/issue$", status=400))
    with pytest.raises(PermanentAdapterError, match="injected HTTP 400") as raised:
        tracker.create_request(draft())
    assert "adapters.jira.project" not in str(raised.value)
    assert probes(fake) == 1


def test_the_fake_refuses_a_create_without_create_issues_as_jira_does(fake: FakeJira) -> None:
    user = fake.state.users["pixbridge"]
    http = requests.Session()
    http.auth = (user.name, user.secret)
    base = f"{fake.url}/rest/api/2"
    fields = {"project": {"key": "SUP"}, "issuetype": {"name": "Task"}, "summary": "s",
              "description": "d"}  # fmt: skip
    with fake.state.lock:
        fake.state.deny_create("SUP", from_users=["pixbridge"])
    answer = http.post(f"{base}/issue", json={"fields": fields}, timeout=10)
    assert (answer.status_code, answer.json()) == (400, {"errorMessages": [], "errors": {
        name: f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."
        for name in ("summary", "description")}})  # fmt: skip
    allowed = http.get(f"{base}/mypermissions", timeout=10, params={
        "projectKey": "SUP", "permissions": "BROWSE_PROJECTS,CREATE_ISSUES"}).json()  # fmt: skip
    assert {k: v["havePermission"] for k, v in allowed["permissions"].items()} == {
        "BROWSE_PROJECTS": True, "CREATE_ISSUES": False}  # fmt: skip
    assert http.get(f"{base}/project/SUP", timeout=10).status_code == 200
    Agent(fake).client.create_issue(fields=fields)  # the others still create
    with fake.state.lock:
        fake.state.grant_project("SUP", to_users=["pixbridge"])
    assert http.post(f"{base}/issue", json={"fields": fields}, timeout=10).status_code == 201
    http.close()
