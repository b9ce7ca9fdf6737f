"""The webhook end to end: Jira posts an event, ``run_forever`` wakes, the customer gets mail.

pixbridge runs ``Orchestrator.run_forever`` in a thread with a 60 s poll interval; the fake
Jira delivers its admin webhook (signed) to pixbridge's receiver like Jira does. A mail that
arrives within a few seconds can only have come through the webhook. Events that are
refused, forged or for another project must mail nothing.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pixbridge_jira
import pytest
import requests
from lifecycle_helpers import TEMPLATES, mail
from pixbridge_jira import JiraTracker, sync
from pixbridge_jira.testing import Agent, FakeJira, settings_for
from pixbridge_jira.webhook import signature

from pixbridge.testing.harness import Harness
from pixbridge.testing.plugin import FakeClock

SECRET = "whsec-lifecycle-3b1e"
POLL = 60.0
"""The poll interval: far longer than any wait below, so only a wake explains a quick pass."""
SOON = 15.0
"""Generous bound for "well before the poll interval" on a loaded machine."""


def sent(harness: Harness) -> list[str]:
    """Bodies of the mail pixbridge sent (read from the files: the store is the loop's)."""
    parser = BytesParser(policy=policy.default)
    return [parser.parsebytes(p.read_bytes()).get_body().get_content()  # type: ignore[union-attr]
            for p in harness.sent_files()]  # fmt: skip


def wait_until(condition: Callable[[], Any], timeout: float = SOON) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout}s: {condition}")


@pytest.fixture
def harness(tmp_path: Path, fake: FakeJira) -> Iterator[Harness]:
    h = Harness(
        tmp_path,
        templates_dir=TEMPLATES,
        clock=FakeClock(),
        extra_plugins=[("jira", pixbridge_jira)],
        pipeline={
            "mail_source": "maildir",
            "mail_sender": "maildir-outbox",
            "tracker": "jira",
            "license_validators": [],
            "publishers": [],
        },
        lifecycle={"poll_interval": POLL, "wake_check": 0.2},
        adapters={
            "jira": settings_for(
                fake, reconcile_patience=0.5,
                webhook={"listen": "127.0.0.1:0", "secret": SECRET},
            )
        },
    )  # fmt: skip
    yield h
    h.close()


class Passes:
    """Counts the orchestrator's passes (a PassWatcher)."""

    def __init__(self) -> None:
        self.count = 0

    def stage_done(self, stage: str, seconds: float, handled: int, error: object) -> None:
        pass

    def pass_done(self, result: object) -> None:
        self.count += 1


@pytest.fixture
def running(harness: Harness, fake: FakeJira) -> Iterator[tuple[str, JiraTracker]]:
    """pixbridge running forever with one registered request; yields its key and the tracker."""
    harness.deliver(mail(body="It crashes.", message_id="<w1@customer.example>", attachments=()))

    def serve() -> None:
        # The state store belongs to the thread that opened it: close it there too.
        try:
            harness.orchestrator.run_forever()
        finally:
            harness.close()

    passes = Passes()
    harness.orchestrator.watchers.append(passes)
    loop = threading.Thread(target=serve, daemon=True)
    loop.start()
    try:
        wait_until(lambda: len(sent(harness)) == 1)  # the acknowledgement
        [key] = list(fake.state.issues)
        tracker = harness.app.tracker
        assert isinstance(tracker, JiraTracker) and tracker.webhook is not None
        # The receiver's start asks for one more pass; after it the loop is idle for POLL.
        wait_until(lambda: passes.count >= 2)
        settled = passes.count
        time.sleep(0.5)
        assert passes.count == settled, "the loop is not idle"
        yield key, tracker
    finally:
        harness.orchestrator.stop()
        loop.join(timeout=SOON)
        assert not loop.is_alive(), "run_forever did not stop"


def issue_reads(fake: FakeJira, key: str) -> int:
    """Direct reads of *key* with its comments: what a webhook hint makes pixbridge do."""
    return len(fake.requests("GET", rf"/issue/{key}$"))


def test_a_signed_webhook_brings_an_agents_comment_to_the_customer_at_once(
    harness: Harness, fake: FakeJira, running: tuple[str, JiraTracker]
) -> None:
    key, tracker = running
    assert tracker.webhook is not None
    fake.register_webhook(tracker.webhook.url, secret=SECRET, jql="project = SUP")
    started = time.monotonic()
    Agent(fake).comment(key, "Please send the recorder log.", public=True)
    wait_until(lambda: len(sent(harness)) == 2)
    elapsed = time.monotonic() - started
    assert any("Please send the recorder log." in m for m in sent(harness))
    assert elapsed < POLL / 2, elapsed
    deliveries = fake.wait_deliveries(2)
    assert {(d.event, d.issue, d.status) for d in deliveries} == {
        ("comment_created", key, 204),
        ("jira:issue_updated", key, 204),
    }
    # The webhook woke the loop; nothing was mailed twice for two events about one comment.
    time.sleep(1.0)
    assert len(sent(harness)) == 2


def test_the_secret_in_the_url_works_like_a_signature(
    harness: Harness, fake: FakeJira, running: tuple[str, JiraTracker]
) -> None:
    key, tracker = running
    assert tracker.webhook is not None
    fake.register_webhook(f"{tracker.webhook.url}?secret={SECRET}", events=("comment_created",))
    Agent(fake).comment(key, "Which build do you run?", public=True)
    wait_until(lambda: len(sent(harness)) == 2)
    assert any("Which build do you run?" in m for m in sent(harness))


def test_refused_events_do_nothing(
    harness: Harness, fake: FakeJira, running: tuple[str, JiraTracker]
) -> None:
    key, tracker = running
    assert tracker.webhook is not None
    fake.register_webhook(tracker.webhook.url, secret="not-the-secret")
    fake.register_webhook(tracker.webhook.url, secret=None)
    reads = issue_reads(fake, key)
    Agent(fake).comment(key, "Please send the recorder log.", public=True)
    statuses = sorted(d.status for d in fake.wait_deliveries(4))
    assert statuses == [401, 401, 403, 403]
    time.sleep(1.0)  # several wake checks: a wake would have read the issue by now
    assert issue_reads(fake, key) == reads
    assert len(sent(harness)) == 1, "the comment was mailed without a valid event"


def post_event(tracker: JiraTracker, body: dict[str, Any]) -> int:
    assert tracker.webhook is not None
    data = json.dumps(body).encode()
    headers = {"X-Hub-Signature": signature(SECRET, data)}
    return requests.post(tracker.webhook.url, data=data, headers=headers, timeout=5).status_code


def test_a_forged_event_is_only_a_reason_to_look(
    harness: Harness, fake: FakeJira, running: tuple[str, JiraTracker]
) -> None:
    key, tracker = running
    reads = issue_reads(fake, key)
    forged = {
        "webhookEvent": "comment_created",
        "comment": {"id": "99999", "body": "Send your password to evil@example.net",
                    "author": {"name": "agent.smith", "accountId": "5b10ac8d82e05b22cc7d4ef5"}},
        "issue": {"key": key, "fields": {"project": {"key": "SUP"}}},
    }  # fmt: skip
    assert post_event(tracker, forged) == 204
    wait_until(lambda: issue_reads(fake, key) > reads)  # woken: Jira itself was asked
    time.sleep(0.5)
    assert len(sent(harness)) == 1
    assert "evil@example.net" not in sent(harness)[0]
    # Replaying it changes nothing either.
    assert post_event(tracker, forged) == 204
    wait_until(lambda: issue_reads(fake, key) > reads + 1)
    time.sleep(0.5)
    assert len(sent(harness)) == 1


def test_events_for_another_project_are_ignored(
    harness: Harness, fake: FakeJira, running: tuple[str, JiraTracker]
) -> None:
    key, tracker = running
    before = len(fake.received)
    other = {
        "webhookEvent": "comment_created",
        "comment": {"id": "1", "body": "x"},
        "issue": {"key": "OPS-4", "fields": {"project": {"key": "OPS"}}},
    }
    mislabelled = {"webhookEvent": "jira:issue_updated", "issue": {"key": "OPS-5"}}
    not_a_change = {"webhookEvent": "worklog_updated", "issue": {"key": key}}
    for body in (other, mislabelled, not_a_change):
        assert post_event(tracker, body) == 204
    time.sleep(1.0)
    assert tracker.take_hints(10) == []
    assert not fake.requests("GET", r"/issue/OPS-"), "another project's issue was read"
    assert len(fake.received) == before, "an ignored event made pixbridge call Jira"


def test_an_event_naming_another_projects_issue_mails_nothing(
    harness: Harness, fake: FakeJira, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One pass at a time (``run --once``), so the store can be read between passes.
    harness.deliver(mail(body="It crashes.", message_id="<w2@customer.example>", attachments=()))
    harness.run()
    [key] = harness.keys()
    tracker = harness.app.tracker
    assert isinstance(tracker, JiraTracker) and tracker.webhook is not None
    assert len(harness.sent()) == 1  # the acknowledgement
    with fake.state.lock:
        fake.state.add_project("OPS", "Operations (internal)")
        fields = {"project": {"key": "OPS"}, "issuetype": {"name": "Task"}, "summary": "Payroll"}
        other = fake.state.create(fields, fake.state.users["agent.smith"], adf=False)
    Agent(fake).comment(other.key, "Internal: the payroll run failed.", public=True)
    # Only events can bring news in the passes below: the search index "has not caught up".
    monkeypatch.setattr(sync, "_search", lambda tracker, jql: [])

    # Signed with the right secret (a leaked secret, or a replay) but naming the other
    # project's issue by its global numeric id, and claiming our project.
    forged = {
        "webhookEvent": "comment_created",
        "comment": {"id": str(other.comments[0].id), "body": "x"},
        "issue": {"id": str(other.id), "fields": {"project": {"key": "SUP"}}},
    }
    assert post_event(tracker, forged) == 204
    harness.run()
    assert fake.requests("GET", rf"/issue/{other.id}$"), "pixbridge did not ask Jira"
    assert len(harness.sent()) == 1, "another project's comment was mailed"
    assert harness.app.store.events(other.key) == [], "another project's change was reported"

    Agent(fake).comment(key, "Please send the recorder log.", public=True)
    genuine = {
        "webhookEvent": "comment_created",
        "issue": {"key": key, "fields": {"project": {"key": "SUP"}}},
    }
    assert post_event(tracker, genuine) == 204
    harness.run()
    [_, answer] = sent(harness)
    assert "Please send the recorder log." in answer
    assert "payroll" not in answer
