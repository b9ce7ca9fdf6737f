"""``pixbridge doctor`` with a webhook: the address, the registration in Jira, the secret."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pixbridge_jira.settings import JiraSettings, WebhookSettings
from pixbridge_jira.testing import FakeJira
from pixbridge_jira.webhook import WebhookReceiver

from pixbridge.settings import load_settings, settings_problems
from pixbridge.testing.net import free_port

PUBLIC = "https://pixbridge.pix.example/jira/webhook"


@pytest.fixture
def port() -> int:
    return free_port()


def hook(port: int, **overrides: Any) -> dict[str, Any]:
    return {"listen": f"127.0.0.1:{port}", "secret": "whsec-doc", "public_url": PUBLIC, **overrides}


def test_a_webhook_without_a_secret_is_not_opened(make_tracker: Any, port: int) -> None:
    from pixbridge_jira import JiraTracker

    from pixbridge.errors import PermanentAdapterError

    with pytest.raises(PermanentAdapterError, match=r"adapters\.jira\.webhook\.secret is not set"):
        make_tracker(webhook={"listen": f"127.0.0.1:{port}"})
    assert (
        JiraTracker.Settings(webhook={})
        .setup_problems()[-1]
        .startswith(  # type: ignore[arg-type]
            "adapters.jira.webhook.secret is not set"
        )
    )


def test_without_admin_rights_doctor_says_where_to_register(
    make_tracker: Any, port: int, caplog: pytest.LogCaptureFixture
) -> None:
    tracker = make_tracker(webhook=hook(port))
    with caplog.at_level(logging.WARNING):
        assert tracker.check() == []
    [record] = [r for r in caplog.records if "adapters.jira.webhook" in r.getMessage()]
    text = record.getMessage()
    assert "cannot list Jira's webhooks" in text
    for needed in (PUBLIC, "System > WebHooks", "Comment: created", "Issue: updated",
                   "project = SUP", "adapters.jira.webhook.secret"):  # fmt: skip
        assert needed in text, needed


def test_an_unregistered_webhook_is_a_problem(fake: FakeJira, make_tracker: Any, port: int) -> None:
    fake.state.admins.add("pixbridge")
    fake.register_webhook("https://elsewhere.example/hook", secret="x")
    [problem] = make_tracker(webhook=hook(port)).check()
    assert problem.startswith(
        "adapters.jira.webhook: Jira has no webhook posting to this receiver; register it"
    )
    assert PUBLIC in problem


def test_a_registered_webhook_must_send_the_needed_events(
    fake: FakeJira, make_tracker: Any, port: int
) -> None:
    fake.state.admins.add("pixbridge")
    registered = fake.register_webhook(PUBLIC, events=("comment_created",), secret="whsec-doc")
    tracker = make_tracker(webhook=hook(port))
    assert tracker.check() == [
        "adapters.jira.webhook: Jira's webhook 'pixbridge' does not send jira:issue_updated; "
        "tick Comment: created and Issue: updated"
    ]
    registered.events.append("jira:issue_updated")
    assert tracker.check() == []
    registered.enabled = False
    assert tracker.check() == [
        "adapters.jira.webhook: Jira's webhook 'pixbridge' is disabled; enable it in Jira"
    ]


def test_without_a_public_url_the_path_identifies_the_webhook(
    fake: FakeJira, make_tracker: Any, port: int
) -> None:
    fake.state.admins.add("pixbridge")
    fake.register_webhook("https://gateway.example/jira/webhook?secret=whsec-doc")
    assert make_tracker(webhook=hook(port, public_url="")).check() == []


@pytest.fixture
def foreign(port: int) -> Iterator[socket.socket]:
    """Something else listening on the port (it accepts connections and never answers)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", port))
        server.listen()
        yield server


def test_a_port_taken_by_another_program_is_a_problem(
    make_tracker: Any, port: int, foreign: socket.socket
) -> None:
    [problem] = make_tracker(webhook=hook(port)).check()
    assert problem.startswith(f"adapters.jira.webhook.listen: cannot listen on 127.0.0.1:{port} (")
    assert "not pixbridge's webhook receiver" in problem


def test_a_port_taken_by_a_running_pixbridge_is_fine(make_tracker: Any, port: int) -> None:
    running = WebhookReceiver(WebhookSettings(**hook(port)), lambda event: None)
    running.start()
    try:
        assert make_tracker(webhook=hook(port)).check() == []
    finally:
        running.stop()


def test_the_receiver_starts_with_the_first_sync_not_on_open(make_tracker: Any, port: int) -> None:
    tracker = make_tracker(webhook=hook(port))
    assert tracker.webhook is None  # doctor and CLI commands open the tracker: no listening
    tracker.changes_since(None)
    assert tracker.webhook is not None and tracker.webhook.address == ("127.0.0.1", port)
    assert tracker.check() == []
    other = make_tracker(webhook=hook(port))
    other.changes_since(None)  # the port is taken: logged, polling goes on
    assert other.webhook is None and other.webhook_error


def test_an_inline_webhook_secret_in_a_settings_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "pixbridge.toml"
    path.write_text('[adapters.jira.webhook]\nlisten = "127.0.0.1:8765"\nsecret = "whsec-inline"\n')
    _, problems = settings_problems(load_settings([path]), {"jira": JiraSettings})
    [problem] = problems
    assert problem.where == f"{path}:3 adapters.jira.webhook.secret"
    assert "secrets are not written into settings files" in problem.message
    assert "whsec-inline" not in problem.message


def test_webhook_settings_say_what_to_fix() -> None:
    from pydantic import ValidationError

    for bad, message in [
        ({"listen": "8765"}, "is not host:port"),
        ({"path": "jira/webhook"}, "is not a URL path"),
        ({"public_url": "pixbridge.example/hook"}, "is not a URL"),
        ({"max_body": 0}, "greater than 0"),
        ({"secrets": "x"}, "Extra inputs are not permitted"),
    ]:
        with pytest.raises(ValidationError, match=message):
            WebhookSettings(**bad)
    assert WebhookSettings(listen="[::1]:8765").address == ("::1", 8765)
