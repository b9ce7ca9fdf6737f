"""Components: new requests are filed under the configured ones; Jira refuses unknown names."""

from __future__ import annotations

from typing import Any

import pytest
from pixbridge_jira.settings import JiraSettings
from pixbridge_jira.testing import FakeJira
from pydantic import ValidationError

from pixbridge.errors import PermanentAdapterError
from pixbridge.models import RequestDraft


def draft(marker: str) -> RequestDraft:
    return RequestDraft(marker, "Export crashes", "It crashes.", "a@b", "en", "normal")


def test_components_are_set_on_create(fake: FakeJira, make_tracker: Any) -> None:
    key = make_tracker(components=["Recorder", "Licensing"]).create_request(draft("pb-c1"))
    assert fake.state.issue(key).fields["components"] == [
        {"name": "Recorder"},
        {"name": "Licensing"},
    ]
    shown = make_tracker().session.get(f"issue/{key}", fields="components")
    assert [c["name"] for c in shown["fields"]["components"]] == ["Recorder", "Licensing"]


def test_without_components_none_are_sent(fake: FakeJira, make_tracker: Any) -> None:
    key = make_tracker().create_request(draft("pb-c2"))
    assert "components" not in fake.state.issue(key).fields


def test_an_unknown_component_is_refused_as_jira_does(fake: FakeJira, make_tracker: Any) -> None:
    tracker = make_tracker(components=["Recorder", "Installer"])
    with pytest.raises(PermanentAdapterError, match="Component name 'Installer' is not valid"):
        tracker.create_request(draft("pb-c3"))
    assert not fake.state.issues


def test_the_fake_refuses_malformed_components(fake: FakeJira, make_tracker: Any) -> None:
    tracker = make_tracker()
    base = {"project": {"key": "SUP"}, "issuetype": {"name": "Task"}, "summary": "s"}
    for value, message in [
        ({"name": "Recorder"}, "data was not an array"),
        (["Recorder"], "expected Object for components"),
        ([{"id": "99"}], "Component with id '99' does not exist."),
    ]:
        with pytest.raises(PermanentAdapterError, match=message):
            tracker.session.send("POST", "issue", {"fields": {**base, "components": value}})
    assert not fake.state.issues


def test_doctor_names_a_missing_component(fake: FakeJira, make_tracker: Any) -> None:
    tracker = make_tracker(components=["Recorder", "Installer"])
    assert tracker.check() == [
        "adapters.jira.components: project SUP has no component 'Installer' "
        "(it has 'Task Mining', 'Recorder', 'Licensing')"
    ]
    assert make_tracker(components=["Recorder"]).check() == []


def test_component_names_must_not_be_empty() -> None:
    with pytest.raises(ValidationError, match="a component name is empty"):
        JiraSettings(components=["Recorder", " "])
    assert JiraSettings(components=["Recorder", "Recorder "]).components == ["Recorder"]
