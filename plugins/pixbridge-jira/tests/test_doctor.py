"""``pixbridge doctor``: each problem one line naming the setting; nothing when all is well."""

from __future__ import annotations

from typing import Any

import pytest
from pixbridge_jira import JiraTracker
from pixbridge_jira.settings import JiraSettings
from pixbridge_jira.testing import FakeJira
from pydantic import ValidationError

from pixbridge.adapters import AdapterContext
from pixbridge.errors import PermanentAdapterError
from pixbridge.models import RequestDraft


def test_good_settings_have_no_problems(tracker: JiraTracker) -> None:
    draft = RequestDraft("pb-doc", "s", "d", "a@b", "en", "normal")
    tracker.create_request(draft)  # transitions are checked on an existing issue
    assert tracker.check() == []


def test_each_wrong_name_is_reported_with_its_setting(fake: FakeJira, make_tracker: Any) -> None:
    make_tracker().create_request(RequestDraft("pb-doc2", "s", "d", "a@b", "en", "normal"))
    tracker = make_tracker(
        issue_type="Bug",
        fields={"serial": "Serial no"},
        statuses={
            "registered": "Open",
            "in_progress": "Working",
            "waiting_for_customer": "Waiting for customer",
            "completed": "Done",
        },
        transitions={"completed": "Close"},
    )
    problems = tracker.check()
    wheres = sorted(p.split(":")[0] for p in problems)
    assert wheres == [
        "adapters.jira.fields.serial",
        "adapters.jira.issue_type",
        "adapters.jira.statuses.in_progress",
        "adapters.jira.transitions.completed",
    ], problems


def test_wrong_deployment_kind(fake: FakeJira, make_tracker: Any) -> None:
    kind = "datacenter" if fake.state.cloud else "cloud"
    [problem] = make_tracker(deployment=kind).check()
    assert problem.startswith("adapters.jira.deployment: the site is ")


def test_bad_credentials_and_project(fake: FakeJira, make_tracker: Any) -> None:
    assert make_tracker(token="nope").check()[0].startswith("adapters.jira.auth")
    assert make_tracker(project="NOPE").check() == [
        "adapters.jira.project: no project 'NOPE'; check the key, and that the account has "
        "Browse Projects there (Jira has no such resource "
        "(GET project/NOPE): No project could be found with key 'NOPE'.)"
    ]


def test_unconfigured_adapter_validates_but_does_not_open(adapter_context: AdapterContext) -> None:
    tracker = JiraTracker(JiraSettings(), adapter_context)
    with pytest.raises(PermanentAdapterError, match=r"adapters\.jira\.url is not set"):
        tracker.open()
    assert len(tracker.check()) == 3


def test_settings_errors_say_what_to_fix() -> None:
    with pytest.raises(ValidationError, match="not a URL"):
        JiraSettings(url="jira.example.com")
    with pytest.raises(ValidationError, match="unknown pixbridge status"):
        JiraSettings(transitions={"closed": "Close"})
    with pytest.raises(ValidationError, match="unknown fact"):
        JiraSettings(fields={"colour": "customfield_1"})
