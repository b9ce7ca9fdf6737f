"""Faults: lost responses, 429 storms, 5xx, outages, refusals, conflicts and per-issue pacing."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from pixbridge_jira import JiraTracker
from pixbridge_jira.testing import FakeJira, Fault

from pixbridge.errors import (
    NeedsCredentials,
    PermanentAdapterError,
    TransientAdapterError,
    UnknownOutcome,
)
from pixbridge.models import Attachment, CommentDraft, RequestDraft, RequestStatus


def draft(marker: str, **changes: Any) -> RequestDraft:
    values: dict[str, Any] = dict(
        marker=marker, summary="Recorder stops", description="It stops.", customer="anna@example.com",
        language="en", priority="normal",
    )  # fmt: skip
    values.update(changes)
    return RequestDraft(**values)


def test_lost_create_response_is_reconciled_into_one_issue(
    fake: FakeJira, tracker: JiraTracker
) -> None:
    fake.state.search_lag = 1.0  # the new issue is not searchable at once
    fake.inject(Fault("POST", r"/issue$", drop=True))
    files = (Attachment("a.log", "text/plain", b"log"),)
    key = tracker.create_request(draft("pb-lost", attachments=files))
    assert [i.key for i in fake.state.issues.values()] == [key]
    assert len(fake.requests("POST", r"/issue$")) == 1, "the create was repeated"
    assert len(fake.requests("GET", r"/search")) >= 2, "the search did not wait for the index"
    assert [a["filename"] for a in fake.state.issue(key).attachments] == ["a.log"]


def test_lost_create_not_found_within_patience_is_unknown_then_recovered(
    fake: FakeJira, make_tracker: Any
) -> None:
    tracker = make_tracker(reconcile_patience=0.3)
    fake.state.search_lag = 2.0
    fake.inject(Fault("POST", r"/issue$", drop=True))
    with pytest.raises(UnknownOutcome):
        tracker.create_request(draft("pb-slow"))
    fake.state.search_lag = 0.0
    key = tracker.create_request(draft("pb-slow", recovering=True))
    assert list(fake.state.issues) == [key], "a second issue was created"


def test_5xx_on_create_is_an_unknown_outcome_never_a_blind_retry(
    fake: FakeJira, make_tracker: Any
) -> None:
    tracker = make_tracker(reconcile_patience=0.3)
    fake.inject(Fault("POST", r"/issue$", status=500))
    with pytest.raises(UnknownOutcome):
        tracker.create_request(draft("pb-500"))
    assert len(fake.requests("POST", r"/issue$")) == 1, "the create was repeated blindly"
    assert fake.requests("GET", r"/search"), "no search for the marker"
    key = tracker.create_request(draft("pb-500", recovering=True))
    assert list(fake.state.issues) == [key]


def test_429_storm_waits_at_least_retry_after(fake: FakeJira, tracker: JiraTracker) -> None:
    key = tracker.create_request(draft("pb-429"))
    fake.inject(Fault("POST", r"/comment$", status=429, retry_after=1, times=2))
    tracker.add_comment(key, CommentDraft("pb-429-c", "hello", True, "anna"))
    tries = fake.requests("POST", r"/comment$")
    assert [r.status for r in tries] == [429, 429, 201]
    assert fake.early_retries == 0, "a request came before Retry-After had passed"
    gaps = [b.at - a.at for a, b in itertools.pairwise(tries)]
    assert all(g >= 1.0 for g in gaps), gaps
    assert len(fake.state.issue(key).comments) == 1


def test_retry_after_beyond_max_wait_stops_with_transient(
    fake: FakeJira, make_tracker: Any
) -> None:
    tracker = make_tracker(max_wait=2.0)
    fake.inject(Fault("GET", r"/issue/", status=429, retry_after=120))
    with pytest.raises(TransientAdapterError) as caught:
        tracker.get_request("SUP-1")
    assert caught.value.retry_after == 120
    assert len(fake.requests("GET", r"/issue/")) == 1


def test_5xx_backs_off_then_recovers(fake: FakeJira, tracker: JiraTracker) -> None:
    key = tracker.create_request(draft("pb-503"))
    fake.inject(Fault("GET", r"/issue/", status=503, times=3))
    assert tracker.get_request(key).key == key
    assert [r.status for r in fake.requests("GET", rf"/issue/{key}$")][:4] == [503, 503, 503, 200]


def test_503_with_retry_after_waits_at_least_that_long(
    fake: FakeJira, tracker: JiraTracker
) -> None:
    key = tracker.create_request(draft("pb-503-ra"))
    fake.inject(Fault("GET", r"/issue/", status=503, retry_after=1, times=2))
    assert tracker.get_request(key).key == key
    tries = fake.requests("GET", rf"/issue/{key}$")
    assert [r.status for r in tries] == [503, 503, 200]
    assert fake.early_retries == 0, "a request came before Retry-After had passed"
    assert all(b.at - a.at >= 1.0 for a, b in itertools.pairwise(tries))


def test_outage_is_transient(fake: FakeJira, tracker: JiraTracker) -> None:
    fake.inject(Fault("GET", r"/search", status=502, times=100))
    with pytest.raises(TransientAdapterError) as caught:
        tracker.changes_since(None)
    assert not isinstance(caught.value, UnknownOutcome)
    assert len(fake.requests("GET", r"/search")) == tracker.settings.max_attempts


def test_stopped_server_is_transient(fake: FakeJira, tracker: JiraTracker) -> None:
    tracker.create_request(draft("pb-down"))
    fake.stop()
    with pytest.raises(TransientAdapterError):
        tracker.get_request("SUP-1")


def test_lost_comment_response_adds_one_comment(fake: FakeJira, tracker: JiraTracker) -> None:
    key = tracker.create_request(draft("pb-c"))
    fake.inject(Fault("POST", r"/comment$", drop=True))
    comment_id = tracker.add_comment(key, CommentDraft("pb-c-1", "once", True, "anna"))
    comments = fake.state.issue(key).comments
    assert [str(c.id) for c in comments] == [comment_id]


def test_refused_credentials(fake: FakeJira, make_tracker: Any) -> None:
    tracker = make_tracker(token="wrong")
    with pytest.raises(NeedsCredentials, match=r"adapters\.jira\.auth"):
        tracker.get_request("SUP-1")


def test_refused_field_names_the_field(fake: FakeJira, make_tracker: Any) -> None:
    tracker = make_tracker(fields={"serial": "customfield_99999"})
    with pytest.raises(PermanentAdapterError, match="customfield_99999"):
        tracker.create_request(draft("pb-field", fields={"serial": "PIX-1"}))
    assert not fake.requests("POST", r"/issue$")[1:], "a refused create was retried"


def test_custom_fields_by_name_and_id(fake: FakeJira, make_tracker: Any) -> None:
    tracker = make_tracker(
        fields={
            "customer": "Customer",
            "serial": "customfield_10050",
            "os_version": "Operating system",
        }
    )
    key = tracker.create_request(
        draft("pb-f", fields={"serial": "PIX-42", "os_version": "Windows 11", "missing": "logs"})
    )
    stored = fake.state.issue(key).fields
    assert (stored["customfield_10051"], stored["customfield_10050"]) == (
        "anna@example.com",
        "PIX-42",
    )
    got = tracker.get_request(key)
    assert got.customer == "anna@example.com"
    assert got.description == "It stops."
    assert got.fields == {"serial": "PIX-42", "os_version": "Windows 11", "missing": "logs"}


def test_conflicting_transition_is_retried(fake: FakeJira, tracker: JiraTracker) -> None:
    key = tracker.create_request(draft("pb-409"))
    fake.inject(Fault("POST", r"/transitions$", status=409))
    tracker.set_status(key, RequestStatus.IN_PROGRESS)
    assert fake.state.issue(key).status == "In Progress"


def test_unknown_transition_names_the_setting(fake: FakeJira, make_tracker: Any) -> None:
    tracker = make_tracker(transitions={"in_progress": "Begin"})
    key = tracker.create_request(draft("pb-t"))
    with pytest.raises(PermanentAdapterError, match=r"adapters\.jira\.transitions\.in_progress"):
        tracker.set_status(key, RequestStatus.IN_PROGRESS)


def test_writes_to_one_issue_are_paced(fake: FakeJira, make_tracker: Any) -> None:
    tracker = make_tracker(issue_write_interval=0.3)
    files = tuple(Attachment(f"{n}.log", "text/plain", b"x") for n in range(3))
    key = tracker.create_request(draft("pb-pace", attachments=files))
    tracker.add_comment(key, CommentDraft("pb-pace-c", "hi", True, "anna"))
    writes = [
        r
        for r in fake.received
        if (r.method == "POST" and key in r.path) or r.path.endswith("/issue")
    ]
    gaps = [b.at - a.at for a, b in itertools.pairwise(writes)]
    assert len(writes) == 5 and all(g >= 0.3 for g in gaps), gaps
