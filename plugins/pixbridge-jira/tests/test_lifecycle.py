"""End to end: mail in -> Jira issue -> agent works in Jira -> mail out, on DC and on Cloud."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import pixbridge_jira
import pytest
from pixbridge_jira.testing import Agent, FakeJira, Fault, settings_for

from pixbridge.testing.harness import Harness
from pixbridge.testing.plugin import FakeClock

TEMPLATES = Path(__file__).resolve().parents[3] / "settings" / "templates"


def mail(subject: str, body: str, message_id: str, attachment: bytes | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = "john.smith@customer.example"
    msg["To"] = "support@pix.example"
    msg["Subject"] = subject
    msg["Date"] = "Mon, 12 Jan 2026 09:14:05 +0000"
    msg["Message-ID"] = message_id
    msg.set_content(body)
    if attachment is not None:
        msg.add_attachment(attachment, maintype="text", subtype="plain", filename="export.log")
    return msg.as_bytes(policy=SMTP)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def harness(tmp_path: Path, fake: FakeJira, clock: FakeClock) -> Iterator[Harness]:
    h = Harness(
        tmp_path,
        templates_dir=TEMPLATES,
        clock=clock,
        extra_plugins=[("jira", pixbridge_jira)],
        pipeline={
            "mail_source": "maildir",
            "mail_sender": "maildir-outbox",
            "tracker": "jira",
            "license_validators": [],
            "publishers": [],
        },
        adapters={"jira": settings_for(fake, reconcile_patience=0.5)},
    )
    yield h
    h.close()


def test_mail_to_jira_and_back(harness: Harness, fake: FakeJira) -> None:
    body = "The export crashes every time.\nWindows 11 Pro 23H2\n[~admin] {noformat}"
    harness.deliver(mail("Export crashes", body, "<m1@customer.example>", b"ERROR 42\n"))
    harness.run()
    [key] = harness.keys()
    issue = fake.state.issue(key)
    assert issue.fields["summary"] == "Export crashes"
    assert [a["filename"] for a in issue.attachments] == ["export.log"]
    assert any(label.startswith("pb-") for label in issue.fields["labels"])
    [ack] = harness.sent()
    assert ack["Subject"].startswith(f"[{key}] ")

    agent = Agent(fake)
    agent.comment(key, "Please send the recorder log.", public=True)
    agent.comment(key, "Internal: looks like PIX-1234.", public=False)
    harness.run()
    mails = harness.sent()
    assert len(mails) == 2, [m["Subject"] for m in mails]
    assert "Please send the recorder log." in mails[1].get_content()
    assert "PIX-1234" not in mails[1].get_content()

    harness.deliver(mail(f"Re: [{key}] Export crashes", "Here it is.", "<m2@customer.example>"))
    harness.run()
    bodies = [c.body for c in harness.app.tracker.get_request(key).comments]
    assert any("Here it is." in b for b in bodies), bodies
    before = len(harness.sent())

    agent.complete(key, "Fixed in build 7.12.")
    harness.run()
    harness.run()  # a second pass mails nothing twice
    mails = harness.sent()
    assert len(mails) == before + 1, [m["Subject"] for m in mails]
    assert "Fixed in build 7.12." in mails[-1].get_content()
    assert harness.request(key)["status"] == "completed"
    assert len(fake.state.issues) == 1


def test_jira_outage_stops_only_the_tracker_stage(
    harness: Harness, fake: FakeJira, clock: FakeClock
) -> None:
    fake.inject(Fault("POST", r"/issue$", status=503, times=1000))
    harness.deliver(mail("Export crashes", "It crashes.", "<m3@customer.example>"))
    result = harness.run()
    assert result.accepted == 1, "intake stopped with the tracker"
    assert harness.keys() == [] and not fake.state.issues and harness.sent() == []
    fake.faults.clear()
    clock.advance(hours=1)
    harness.run()
    [key] = harness.keys()
    assert list(fake.state.issues) == [key], "the outage duplicated or lost the request"
    assert len(harness.sent()) == 1


def test_a_project_hidden_from_the_account_holds_mail_until_it_is_granted(
    harness: Harness, fake: FakeJira, clock: FakeClock
) -> None:
    with fake.state.lock:
        fake.state.hide_project("SUP", from_users=["pixbridge"])
    harness.deliver(mail("Export crashes", "It crashes.", "<m4@customer.example>"))
    store = harness.app.store
    for _ in range(harness.app.settings.lifecycle.max_attempts + 2):
        harness.run()
        clock.advance(hours=1)
    assert store.messages(state="quarantined") == [], "quarantined for a deployment mistake"
    [row] = store.messages()
    assert row.attempts == 0, "counted towards quarantine"
    assert 'adapters.jira.project = "SUP"' in str(row.last_error)
    assert "grant the account Browse Projects and Create Issues" in str(row.last_error)
    assert harness.keys() == [] and harness.sent() == []
    with fake.state.lock:
        fake.state.grant_project("SUP", to_users=["pixbridge"])
    harness.run()
    [key] = harness.keys()
    assert list(fake.state.issues) == [key]
    assert len(harness.sent()) == 1
