"""``token_expires``: the API token's or personal access token's expiry, parsed, reported by the
tracker and the version publisher, and failing ``pixbridge doctor`` once passed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pixbridge_jira
import pytest
from click.testing import CliRunner
from pixbridge_jira import JiraTracker, JiraVersionPublisher
from pixbridge_jira.publisher import JiraVersionSettings
from pixbridge_jira.settings import JiraSettings
from pixbridge_jira.testing import FakeJira, settings_for, version_settings_for
from pydantic import ValidationError

import pixbridge.cli.commands  # noqa: F401 - registers the commands
from pixbridge.adapters import AdapterContext
from pixbridge.cli.main import CliState, cli
from pixbridge.testing.harness import Harness
from pixbridge.testing.plugin import FakeClock

REPO = Path(__file__).resolve().parents[3]
TEMPLATES = REPO / "settings" / "templates"

CONNECTION: dict[str, Any] = {
    "url": "https://jira.pix.example",
    "project": "SUP",
    "token": "pb-secret-token",
}


@pytest.mark.parametrize(
    ("auth", "advice"),
    [
        ("pat", "create a personal access token in Jira"),
        ("api_token", "create an API token at https://id.atlassian.com/"),
    ],
)
def test_the_date_is_parsed_and_reported(
    auth: str, advice: str, adapter_context: AdapterContext
) -> None:
    values = {**CONNECTION, "auth": auth, "email": "pb@pix.example", "token_expires": "2026-03-31"}
    tracker = JiraTracker(JiraSettings(**values), adapter_context)  # never opened
    [expiry] = tracker.credential_expiries()
    assert expiry.expires_at == datetime(2026, 3, 31, tzinfo=UTC)
    assert (expiry.adapter, expiry.credential, expiry.source) == ("jira", "token", "settings")
    assert expiry.renew.startswith(advice)
    assert expiry.renew.endswith(
        "then set adapters.jira.token and its expiry date in adapters.jira.token_expires"
    )
    assert "pb-secret-token" not in repr(expiry)
    publisher = JiraVersionPublisher(JiraVersionSettings(**values), adapter_context)
    [expiry] = publisher.credential_expiries()
    assert (expiry.adapter, expiry.credential) == ("jira-version", "token")
    assert "adapters.jira-version.token_expires" in expiry.renew


def test_without_a_date_nothing_is_known(adapter_context: AdapterContext) -> None:
    assert JiraTracker(JiraSettings(**CONNECTION), adapter_context).credential_expiries() == []


def test_the_date_is_refused_with_basic_auth() -> None:
    with pytest.raises(ValidationError, match='auth = "basic" does not use: remove it'):
        JiraSettings(
            url="https://jira.pix.example",
            auth="basic",
            email="pb",
            password="pw",
            token_expires="2026-03-31",
        )


@pytest.mark.parametrize(("expires", "exit_code"), [("2026-06-30", 0), ("2026-01-10", 1)])
def test_doctor_lists_the_token_and_fails_once_it_expired(
    fake: FakeJira, tmp_path: Path, expires: str, exit_code: int
) -> None:
    h = Harness(
        tmp_path,
        templates_dir=TEMPLATES,
        clock=FakeClock(datetime(2026, 1, 15, 9, 0, tzinfo=UTC)),
        extra_plugins=[("jira", pixbridge_jira)],
        pipeline={
            "mail_source": "maildir",
            "mail_sender": "maildir-outbox",
            "tracker": "jira",
            "license_validators": [],
            "publishers": ["jira-version"],
        },
        adapters={
            "jira": settings_for(fake, token_expires=expires),
            "jira-version": version_settings_for(fake, token_expires=expires),
        },
    )
    try:
        state = CliState()
        state._app = h.app
        result = CliRunner().invoke(cli, ["doctor"], obj=state)
    finally:
        h.close()
    assert result.exit_code == exit_code, result.output
    lines = result.output.splitlines()
    assert "ok   tracker jira" in lines  # the fake still takes the token
    credentials = [line for line in lines if " credential " in line]
    if exit_code:
        where = (
            "an API token at https://id.atlassian.com/manage-profile/security/api-tokens"
            if fake.state.cloud
            else "a personal access token in Jira (your profile, Personal Access Tokens)"
        )
        assert credentials == [
            f"FAIL credential adapters.{table}.token (settings) expired 2026-01-10 00:00 UTC, "
            f"5 days ago: create {where}, then set adapters.{table}.token and its expiry date "
            f"in adapters.{table}.token_expires"
            for table in ("jira", "jira-version")
        ]
    else:
        assert credentials == [
            f"ok   credential adapters.{table}.token (settings) expires 2026-06-30 00:00 UTC, "
            "in 165 days"
            for table in ("jira", "jira-version")
        ]
    assert "pb-secret" not in result.output
