"""Warnings before a credential expires: the settings type, the hourly watcher, the metric, doctor.

The adapter under test is the Maildir sender with a password whose expiry date is a setting, and
which (like a real server) refuses to open once that date has passed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner
from lifecycle_helpers import TEMPLATES, mail
from pydantic import SecretStr

import pixbridge.cli.commands  # noqa: F401 - registers the commands
from pixbridge import hookimpl
from pixbridge.builtins.maildir import MaildirSender
from pixbridge.cli.main import CliState, cli
from pixbridge.errors import ConfigError, NeedsCredentials
from pixbridge.observability.credentials import (
    CredentialExpiry,
    CredentialWatcher,
    ExpiryDate,
    Urgency,
    credential_expiries,
    expiry_moment,
    urgency,
)
from pixbridge.observability.metrics import Metrics
from pixbridge.registry import AdapterRegistry
from pixbridge.testing.harness import Harness
from pixbridge.testing.plugin import FakeClock

PASSWORD = "hunter2-very-secret"
START = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)  # FakeClock's start


class ExpiringOutbox(MaildirSender):
    """The Maildir sender behind a password that expires; refused to open once expired."""

    name: ClassVar[str] = "expiring-outbox"
    asked: ClassVar[int] = 0
    """How often any instance was asked for its expiries."""

    class Settings(MaildirSender.Settings):
        password: SecretStr | None = None
        password_expires: ExpiryDate | None = None

    settings: ExpiringOutbox.Settings

    def open(self) -> None:
        expires = self.settings.password_expires
        if expires is not None and expires <= self.context.clock.now():
            raise NeedsCredentials("the server refused the password: it has expired")
        super().open()

    def credential_expiries(self) -> list[CredentialExpiry]:
        ExpiringOutbox.asked += 1
        expires = self.settings.password_expires
        if expires is None:
            return []
        return [CredentialExpiry(self.name, "password", expires, "settings")]


class _Plugin:
    @hookimpl
    def register_adapters(self, registry: AdapterRegistry) -> None:
        registry.add(ExpiringOutbox)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def make(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Harness]]:
    """A harness sending through ``expiring-outbox`` whose password expires at *expires*."""
    monkeypatch.setenv("EXPIRING_PASSWORD", PASSWORD)
    made: list[Harness] = []

    def factory(expires: Any = None, *, files: tuple[Path, ...] = (), **kw: Any) -> Harness:
        table: dict[str, Any] = {"password": {"$env": "EXPIRING_PASSWORD"}}
        if expires is not None:
            table["password_expires"] = expires
        h = Harness(
            tmp_path / f"h{len(made)}",
            templates_dir=TEMPLATES,
            clock=clock,
            extra_plugins=[("expiring", _Plugin())],
            settings_files=files,
            pipeline={
                "mail_source": "maildir",
                "mail_sender": "expiring-outbox",
                "tracker": "local",
                "license_validators": [],
                "publishers": [],
            },
            adapters={} if files else {"expiring-outbox": table},
            **kw,
        )
        made.append(h)
        return h

    yield factory
    for h in made:
        h.close()


def records(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [
        (r.levelno, r.getMessage()) for r in caplog.records if r.name == "pixbridge.credentials"
    ]


# ---------------------------------------------------------------------------- the settings type


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-03-31", datetime(2026, 3, 31, tzinfo=UTC)),
        (" 2026-03-31 ", datetime(2026, 3, 31, tzinfo=UTC)),
        (date(2026, 3, 31), datetime(2026, 3, 31, tzinfo=UTC)),
        ("2026-03-31T09:30:00Z", datetime(2026, 3, 31, 9, 30, tzinfo=UTC)),
        ("2026-03-31T11:30:00+02:00", datetime(2026, 3, 31, 9, 30, tzinfo=UTC)),
        (datetime(2026, 3, 31, 9, 30), datetime(2026, 3, 31, 9, 30, tzinfo=UTC)),
    ],
)
def test_an_expiry_is_a_date_or_a_date_time(value: object, expected: datetime) -> None:
    moment = expiry_moment(value)
    assert moment == expected and moment.tzinfo is not None


@pytest.mark.parametrize("value", ["31/03/2026", "2026-02-30", "next spring", 1774915200, ""])
def test_anything_else_is_refused_saying_how_to_write_it(value: object) -> None:
    with pytest.raises(ValueError, match=r"write it as YYYY-MM-DD \(e\.g\. 2026-03-31\)"):
        expiry_moment(value)


def test_a_bad_date_in_the_settings_names_the_key(make: Callable[..., Harness]) -> None:
    with pytest.raises(ConfigError) as caught:
        make("31.03.2026")
    [problem] = caught.value.problems
    assert problem.where.endswith("adapters.expiring-outbox.password_expires")
    assert "'31.03.2026' is not an expiry date; write it as YYYY-MM-DD" in problem.message


def test_a_toml_date_is_taken(make: Callable[..., Harness], tmp_path: Path) -> None:
    toml = tmp_path / "pixbridge.toml"
    toml.write_text(
        '[adapters.expiring-outbox]\npassword = { "$env" = "EXPIRING_PASSWORD" }\n'
        "password_expires = 2026-03-31\n",
        encoding="utf-8",
    )
    h = make(files=(toml,))
    [expiry] = credential_expiries(h.app)
    assert expiry.expires_at == datetime(2026, 3, 31, tzinfo=UTC)
    assert (expiry.adapter, expiry.credential, expiry.source) == (
        "expiring-outbox",
        "password",
        "settings",
    )


@pytest.mark.parametrize(
    ("left", "days", "expected"),
    [
        (timedelta(days=14), 14, Urgency.SOON),
        (timedelta(days=14, seconds=1), 14, Urgency.OK),
        (timedelta(seconds=1), 14, Urgency.SOON),
        (timedelta(0), 14, Urgency.EXPIRED),
        (timedelta(seconds=1), 0, Urgency.OK),
        (timedelta(days=-3), 0, Urgency.EXPIRED),
    ],
)
def test_urgency_bounds(left: timedelta, days: int, expected: Urgency) -> None:
    expiry = CredentialExpiry("a", "secret", START + left, "settings")
    assert urgency(expiry, START, days) is expected


def test_the_window_setting_refuses_a_negative_number(make: Callable[..., Harness]) -> None:
    with pytest.raises(ConfigError, match="credential_warning_days"):
        make(observability={"credential_warning_days": -1})


# ---------------------------------------------------------------------------- the watcher


def test_nothing_is_said_of_a_far_expiry(
    make: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    h = make("2026-03-31")  # 75 days away
    with caplog.at_level(logging.DEBUG, logger="pixbridge.credentials"):
        h.run()
    assert records(caplog) == []
    [watcher] = [w for w in h.orchestrator.watchers if isinstance(w, CredentialWatcher)]
    assert [e.credential for e in watcher.expiries] == ["password"]


def test_within_the_window_a_warning_once_a_day(
    make: Callable[..., Harness], clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    h = make("2026-01-25")  # 10 days away; the window is 14 days
    with caplog.at_level(logging.INFO, logger="pixbridge.credentials"):
        for _ in range(3):
            h.run()
            clock.advance(minutes=30)
        told = records(caplog)
        assert told == [
            (
                logging.WARNING,
                "adapters.expiring-outbox.password (settings) expires 2026-01-25 00:00 UTC, "
                "in 9 days: renew it and update adapters.expiring-outbox.password "
                "(warning 14 days ahead: [observability] credential_warning_days)",
            )
        ]
        clock.current = datetime(2026, 1, 15, 23, 59, tzinfo=UTC)
        h.run()
        assert len(records(caplog)) == 1  # still the same day
        clock.current = datetime(2026, 1, 16, 0, 59, tzinfo=UTC)
        h.run()
    told = records(caplog)
    assert len(told) == 2 and told[1][0] == logging.WARNING
    assert "in 8 days" in told[1][1]
    assert all(PASSWORD not in message for _, message in told)


def test_an_expired_credential_is_an_error_at_once_then_daily(
    make: Callable[..., Harness], clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    h = make("2026-01-15T11:00:00Z")  # two hours away
    with caplog.at_level(logging.INFO, logger="pixbridge.credentials"):
        h.run()
        assert [level for level, _ in records(caplog)] == [logging.WARNING]
        assert "in 2 hours" in records(caplog)[0][1]
        clock.advance(hours=2)
        h.deliver(mail())  # a reply to send: the sender must open, and cannot
        result = h.run()
        assert result.errors >= 1  # the deliver stage failed: the password expired
        clock.advance(hours=1)
        h.run()  # same day: nothing more
        clock.advance(days=1)
        h.run()
    told = records(caplog)
    assert [level for level, _ in told] == [logging.WARNING, logging.ERROR, logging.ERROR]
    assert told[1][1] == (
        "adapters.expiring-outbox.password (settings) expired 2026-01-15 11:00 UTC, "
        "under an hour ago: renew it and update adapters.expiring-outbox.password"
    )
    assert "expired 2026-01-15 11:00 UTC, 25 hours ago" in told[2][1]


def test_the_dates_are_read_at_start_then_at_most_hourly(
    make: Callable[..., Harness], clock: FakeClock
) -> None:
    h = make("2026-03-31")
    ExpiringOutbox.asked = 0
    h.run()
    assert ExpiringOutbox.asked == 1  # at the first stage of the first pass
    h.run()
    clock.advance(minutes=59)
    h.run()
    assert ExpiringOutbox.asked == 1
    clock.advance(minutes=1)
    h.run()
    assert ExpiringOutbox.asked == 2


def test_a_failing_adapter_does_not_break_the_pass(
    make: Callable[..., Harness], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: ExpiringOutbox) -> list[CredentialExpiry]:
        raise OSError("certificate file unreadable")

    monkeypatch.setattr(ExpiringOutbox, "credential_expiries", broken)
    h = make("2026-01-20")
    h.deliver(mail())
    with caplog.at_level(logging.INFO, logger="pixbridge.credentials"):
        result = h.run()
    assert result.errors == 0 and result.sent >= 1
    assert records(caplog) == [
        (
            logging.WARNING,
            "adapters.expiring-outbox: cannot tell when its credentials expire: "
            "certificate file unreadable",
        )
    ]


# ---------------------------------------------------------------------------- the metric


def test_the_expiry_is_a_gauge_of_its_unix_time(make: Callable[..., Harness]) -> None:
    h = make("2026-01-25")
    metrics = Metrics(h.app)
    value = metrics.registry.get_sample_value(
        "pixbridge_credential_expiry_timestamp_seconds",
        {"adapter": "expiring-outbox", "credential": "password"},
    )
    assert value == datetime(2026, 1, 25, tzinfo=UTC).timestamp() == 1769299200


def test_no_expiry_no_sample(make: Callable[..., Harness]) -> None:
    metrics = Metrics(make().app)
    families = [f for f in metrics.registry.collect() if f.name.startswith("pixbridge_credential")]
    assert [(f.name, f.samples) for f in families] == [
        ("pixbridge_credential_expiry_timestamp_seconds", [])
    ]


def test_the_metric_reads_the_dates_again_hourly(
    make: Callable[..., Harness], clock: FakeClock
) -> None:
    h = make("2026-01-25")
    metrics = Metrics(h.app)
    h.orchestrator.watchers = [metrics]  # only the metrics read the dates here
    ExpiringOutbox.asked = 0
    h.run()
    assert ExpiringOutbox.asked == 0
    clock.advance(hours=1)
    h.run()
    assert ExpiringOutbox.asked == 1


def test_one_reading_an_hour_serves_the_log_and_the_metric(
    make: Callable[..., Harness], clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    h = make("2026-01-20")  # within the warning window: the watcher logs it
    ExpiringOutbox.asked = 0
    with caplog.at_level(logging.INFO, logger="pixbridge.credentials"):
        metrics = Metrics.watching(h.orchestrator)  # the service's start
        h.run()
    assert ExpiringOutbox.asked == 1
    assert [level for level, _ in records(caplog)] == [logging.WARNING]  # the start's reading
    sample = {"adapter": "expiring-outbox", "credential": "password"}
    gauge = "pixbridge_credential_expiry_timestamp_seconds"
    assert (
        metrics.registry.get_sample_value(gauge, sample)
        == datetime(2026, 1, 20, tzinfo=UTC).timestamp()
    )
    for _ in range(4):
        clock.advance(minutes=15)
        h.run()
    assert ExpiringOutbox.asked == 2
    clock.advance(hours=1)
    h.run()
    assert ExpiringOutbox.asked == 3


# ---------------------------------------------------------------------------- doctor


def doctor(h: Harness) -> Any:
    state = CliState()
    state._app = h.app  # the harness's application, with its clock
    return CliRunner().invoke(cli, ["doctor"], obj=state)


def test_doctor_lists_a_far_expiry(make: Callable[..., Harness]) -> None:
    h = make("2026-03-31")
    result = doctor(h)
    assert result.exit_code == 0, result.output
    assert (
        "ok   credential adapters.expiring-outbox.password (settings) expires "
        "2026-03-31 00:00 UTC, in 74 days\n"
    ) in result.output


def test_doctor_warns_within_the_window(make: Callable[..., Harness]) -> None:
    h = make("2026-01-25", observability={"credential_warning_days": 30})
    result = doctor(h)
    assert result.exit_code == 0, result.output
    assert (
        "WARN credential adapters.expiring-outbox.password (settings) expires "
        "2026-01-25 00:00 UTC, in 9 days: renew it and update adapters.expiring-outbox.password"
    ) in result.output
    assert PASSWORD not in result.output


def test_doctor_fails_once_expired(make: Callable[..., Harness]) -> None:
    h = make("2026-01-01")
    result = doctor(h)
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    # The sender cannot open, and its expiry is still known and named.
    assert "FAIL mail sender expiring-outbox:" in lines
    assert (
        "FAIL credential adapters.expiring-outbox.password (settings) expired "
        "2026-01-01 00:00 UTC, 14 days ago: renew it and update adapters.expiring-outbox.password"
    ) in lines


def test_doctor_without_expiries_says_nothing_of_credentials(make: Callable[..., Harness]) -> None:
    result = doctor(make())
    assert result.exit_code == 0, result.output
    assert "credential" not in result.output
