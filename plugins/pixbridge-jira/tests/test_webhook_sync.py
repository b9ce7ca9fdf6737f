"""Webhook hints in the sync: read the named issue directly, never trust or over-trust it."""

from __future__ import annotations

from typing import Any

import pytest
from pixbridge_jira import JiraTracker, sync
from pixbridge_jira.sync import Watermark
from pixbridge_jira.testing import Agent, FakeJira
from pixbridge_jira.testing.state import FakeIssue
from pixbridge_jira.webhook import WebhookEvent

from pixbridge.models import RequestDraft


def hint(tracker: JiraTracker, issue: str, project: str = "SUP", actor: str = "") -> None:
    tracker.hint(WebhookEvent("comment_created", issue, project, actor))


@pytest.fixture
def key(tracker: JiraTracker) -> str:
    return tracker.create_request(
        RequestDraft("pb-hook", "Export crashes", "d", "a@b", "en", "normal")
    )


def comment_ids(batch: Any) -> list[str]:
    return [c.change_id for c in batch.changes if c.comment is not None]


def foreign_issue(fake: FakeJira) -> FakeIssue:
    """An issue of another project on the same Jira site, with an agent's public comment."""
    with fake.state.lock:
        if "OPS" not in fake.state.projects:
            fake.state.add_project("OPS")
        fields = {"project": {"key": "OPS"}, "issuetype": {"name": "Task"}, "summary": "Payroll"}
        issue = fake.state.create(fields, fake.state.users["agent.smith"], adf=False)
    Agent(fake).comment(issue.key, "Internal: the payroll run failed.", public=True)
    return issue


def test_the_fake_keeps_issue_ids_global_and_finds_issues_by_id_in_any_project(
    tracker: JiraTracker, fake: FakeJira, key: str
) -> None:
    other = foreign_issue(fake)
    assert other.key == "OPS-1" and key == "SUP-1", "each project numbers its own keys"
    assert other.id != fake.state.issue(key).id
    read = tracker.session.get(f"issue/{other.id}", fields="project")
    assert (read["key"], read["fields"]["project"]["key"]) == ("OPS-1", "OPS")
    assert tracker.search_keys('project = "SUP"') == [key]
    assert tracker.search_keys('project = "OPS"') == [other.key]


def test_a_hinted_issue_is_read_directly_and_does_not_move_the_watermark(
    tracker: JiraTracker, fake: FakeJira, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = tracker.changes_since(None)
    Agent(fake).comment(key, "Please send the log.", public=True)
    # The search index has not caught up yet: only the direct read can see the comment.
    monkeypatch.setattr(sync, "_search", lambda tracker, jql: [])
    hint(tracker, key)
    batch = tracker.changes_since(first.watermark)
    [change_id] = comment_ids(batch)
    assert fake.requests("GET", rf"/issue/{key}$"), "the hinted issue was not read directly"
    before, after = Watermark.parse(first.watermark), Watermark.parse(batch.watermark)
    assert after.at == before.at, "a targeted read moved the watermark's time"
    assert change_id in after.seen
    monkeypatch.undo()
    # The index catches up: the comment is not reported again, and now the time moves on.
    again = tracker.changes_since(batch.watermark)
    assert again.changes == ()
    assert Watermark.parse(again.watermark).at > before.at  # type: ignore[operator]


def test_hints_are_filtered_deduplicated_and_taken_once(
    tracker: JiraTracker, fake: FakeJira, key: str
) -> None:
    woken: list[int] = []
    object.__setattr__(tracker.context, "wake", lambda: woken.append(1))
    hint(tracker, key)
    hint(tracker, key)
    hint(tracker, "OPS-3", project="OPS")  # another project
    hint(tracker, "OPS-4", project="")  # another project, by its key
    hint(tracker, key, project="ops")
    tracker.hint(WebhookEvent("worklog_updated", key, "SUP", ""))
    tracker.hint(WebhookEvent("comment_created", "", "SUP", ""))
    assert tracker.take_hints(10) == [key]
    assert tracker.take_hints(10) == []
    assert len(woken) == 2


def test_pixbridges_own_changes_wake_nothing(tracker: JiraTracker, key: str) -> None:
    hint(tracker, key, actor=tracker.account)
    assert tracker.take_hints(10) == []


def test_a_hint_for_an_issue_that_does_not_exist_or_is_elsewhere_is_dropped(
    tracker: JiraTracker, fake: FakeJira, key: str
) -> None:
    watermark = tracker.changes_since(None).watermark
    hint(tracker, "SUP-999")
    hint(tracker, "12345")  # a numeric id, as some comment events name the issue
    batch = tracker.changes_since(watermark)
    assert batch.changes == ()
    assert tracker.take_hints(10) == []


def test_a_hint_for_old_news_reports_nothing_again(
    tracker: JiraTracker, fake: FakeJira, key: str
) -> None:
    Agent(fake).comment(key, "Please send the log.", public=True)
    first = tracker.changes_since(None)
    assert len(comment_ids(first)) == 1
    hint(tracker, key)  # a replayed event for a comment already mailed
    assert tracker.changes_since(first.watermark).changes == ()


def test_hints_wait_out_a_jira_outage(tracker: JiraTracker, fake: FakeJira, key: str) -> None:
    from pixbridge_jira.testing import Fault

    from pixbridge.errors import TransientAdapterError

    watermark = tracker.changes_since(None).watermark
    hint(tracker, key)
    fake.inject(Fault("GET", rf"/issue/{key}$", status=503, times=100))
    with pytest.raises(TransientAdapterError):
        tracker.changes_since(watermark)
    assert tracker.take_hints(10) == [key], "the hint was lost with the failed call"


def test_a_forged_hint_naming_another_projects_issue_reports_nothing(
    tracker: JiraTracker, fake: FakeJira, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    watermark = tracker.changes_since(None).watermark
    other = foreign_issue(fake)
    Agent(fake).comment(key, "Please send the log.", public=True)
    # Only the hints can bring news now (the search index has not caught up).
    monkeypatch.setattr(sync, "_search", lambda tracker, jql: [])
    # Forged: the other project's issue by its numeric id (ids are global), claiming our project.
    hint(tracker, str(other.id))
    hint(tracker, key)  # genuine
    batch = tracker.changes_since(watermark)
    assert fake.requests("GET", rf"/issue/{other.id}$"), "the forged hint was not even read"
    assert {c.key for c in batch.changes} == {key}, batch.changes
    [change_id] = comment_ids(batch)
    foreign = {f"jira:comment:{c.id}" for c in other.comments}
    assert not foreign & set(Watermark.parse(batch.watermark).seen)
    assert change_id in Watermark.parse(batch.watermark).seen
