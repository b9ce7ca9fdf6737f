"""The support lifecycle end to end on the embedded default (Maildir + local tracker)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from lifecycle_helpers import SAMPLES, TEMPLATES, mail

from pixbridge import hookimpl
from pixbridge.builtins.local_tracker import LocalTracker
from pixbridge.errors import NeedsCredentials, PermanentAdapterError, TransientAdapterError
from pixbridge.models import Completeness, Intake
from pixbridge.registry import AdapterRegistry
from pixbridge.store.db import StoreUnavailable
from pixbridge.testing.harness import Harness
from pixbridge.testing.plugin import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make(tmp_path: Path, clock: FakeClock) -> Iterator[Any]:
    harnesses: list[Harness] = []

    def factory(**kwargs: Any) -> Harness:
        harness = Harness(
            tmp_path / f"h{len(harnesses)}", templates_dir=TEMPLATES, clock=clock, **kwargs
        )
        harnesses.append(harness)
        return harness

    yield factory
    for harness in harnesses:
        harness.close()


@pytest.fixture
def h(make: Any) -> Harness:
    return make()


def test_new_request_is_registered_and_acknowledged(h: Harness) -> None:
    raw = (SAMPLES / "01-en-request.eml").read_bytes()
    h.deliver(raw)
    result = h.run()
    assert (result.accepted, result.processed, result.sent) == (1, 1, 1)
    assert h.keys() == ["SUP-1"]
    view = h.request("SUP-1")
    assert view["status"] == "registered"
    assert view["customer"] == "john.smith@customer.example"
    assert view["summary"] == "PIX Task Mining crashes when exporting a process map"
    assert view["attachments"] == ["pixtm-export.log"]
    [ack] = h.sent()
    assert ack["To"] == "john.smith@customer.example"
    assert ack["Subject"].startswith("[SUP-1] ")
    assert ack["In-Reply-To"] == "<20260112091405.4411@mail.customer.example>"
    assert ack["Auto-Submitted"] == "auto-replied"
    assert h.app.message_ids.is_ours(ack["Message-ID"])
    assert "SUP-1" in ack.get_content()
    # The mailbox is told: the message moved to processed, nothing left in the inbox.
    assert not list((h.inbox / "new").iterdir()) and not list((h.inbox / "cur").iterdir())
    assert len(list((h.data_dir / "mail" / "processed" / "cur").iterdir())) == 1


def test_russian_request_gets_russian_acknowledgement(h: Harness) -> None:
    h.deliver((SAMPLES / "02-ru-request.eml").read_bytes())
    h.run()
    [ack] = h.sent()
    assert "зарегистрировано под номером SUP-1" in ack.get_content()
    assert h.request("SUP-1")["language"] == "ru"
    assert h.request("SUP-1")["attachments"] == ["журнал_запуска.log"]


def test_samples_go_through_one_pass(h: Harness) -> None:
    for sample in sorted(SAMPLES.glob("0*.eml")):  # 1x-: triage samples, tests/triage/
        h.deliver(sample.read_bytes())
    h.run()
    assert h.keys() == ["SUP-1", "SUP-2"]
    first = h.request("SUP-1")
    assert [c["body"].split("\n")[0] for c in first["comments"]] == [
        "One more detail: the crash only happens for projects with more than"
    ]
    assert "export-dialog.png" in first["attachments"] or any(
        "export-dialog.png" in c["attachments"] for c in first["comments"]
    )
    # Two acknowledgements; nothing for the reply or the out-of-office message.
    assert [m["To"] for m in h.sent()] == ["john.smith@customer.example", "ivanov@zavod.example"]
    outcomes = sorted(m.outcome or "" for m in h.app.store.messages())
    assert outcomes == ["automated", "comment", "new_request", "new_request"]


def test_reply_by_key_in_subject_only_from_a_participant(h: Harness) -> None:
    h.deliver(mail(subject="Export crashes"))
    h.run()
    h.deliver(mail(subject="Re: [SUP-1] Export crashes", body="More details"))
    h.deliver(
        mail(sender="mallory@evil.example", subject="Re: [SUP-1] Export crashes", body="spoof")
    )
    h.run()
    assert h.keys() == ["SUP-1", "SUP-2"]
    assert [c["body"].strip() for c in h.request("SUP-1")["comments"]] == ["More details"]
    assert h.request("SUP-2")["customer"] == "mallory@evil.example"


def test_reply_to_our_message_id_threads_even_from_a_colleague(h: Harness) -> None:
    h.deliver(mail())
    h.run()
    [ack] = h.sent()
    h.deliver(
        mail(
            sender="colleague@customer.example",
            subject="Re: your ticket",
            body="Adding the log",
            in_reply_to=ack["Message-ID"],
        )
    )
    h.run()
    assert h.keys() == ["SUP-1"]
    assert [c["author"] for c in h.request("SUP-1")["comments"]] == ["colleague@customer.example"]


def test_forged_message_id_of_ours_is_not_trusted(h: Harness) -> None:
    h.deliver(mail())
    h.run()
    [ack] = h.sent()
    forged = ack["Message-ID"].replace("pb.", "pb.0", 1)
    h.deliver(mail(sender="mallory@evil.example", subject="hi", in_reply_to=forged))
    h.run()
    assert h.keys() == ["SUP-1", "SUP-2"]


def test_automated_mail_is_recorded_never_registered_or_answered(h: Harness) -> None:
    h.deliver(mail(headers={"Auto-Submitted": "auto-replied"}, subject="Out of office"))
    h.deliver(mail(headers={"Precedence": "bulk", "List-Id": "<news.example>"}, subject="News"))
    h.run()
    assert h.keys() == [] and h.sent() == []
    verdicts = sorted(m.verdict or "" for m in h.app.store.messages())
    assert verdicts == ["auto_reply", "bulk"]
    assert len(list((h.data_dir / "mail" / "processed" / "cur").iterdir())) == 2


def test_duplicate_delivery_registers_once(h: Harness) -> None:
    raw = mail(message_id="<same@customer.example>")
    h.deliver(raw)
    h.deliver(raw)
    h.run()
    h.deliver(raw)
    h.run()
    assert h.keys() == ["SUP-1"]
    assert len(h.sent()) == 1
    assert sorted(m.outcome or "" for m in h.app.store.messages()) == [
        "duplicate",
        "duplicate",
        "new_request",
    ]


def test_agent_comments_and_completion_reach_the_customer(h: Harness) -> None:
    h.deliver(mail())
    h.run()
    tracker = h.app.tracker
    tracker.comment("SUP-1", "Internal: reproduced.", public=False, author="anna")
    tracker.comment("SUP-1", "Could you send the project file?", public=True, author="anna")
    h.run()
    mails = h.sent()
    assert len(mails) == 2
    assert "Could you send the project file?" in mails[1].get_content()
    assert "Internal" not in mails[1].get_content()
    assert mails[1]["Auto-Submitted"] is None
    tracker.complete("SUP-1", "Fixed in build 4.13.", author="anna")
    h.run()
    h.run()  # a second pass mails nothing twice
    mails = h.sent()
    assert len(mails) == 3
    assert "Fixed in build 4.13." in mails[2].get_content()
    assert mails[2]["In-Reply-To"] in {m["Message-ID"] for m in mails[:2]}
    assert h.request("SUP-1")["status"] == "completed"
    assert h.app.store.request("SUP-1").status == "completed"  # type: ignore[union-attr]


def test_reply_to_completed_request_opens_a_linked_one(h: Harness) -> None:
    h.deliver(mail())
    h.run()
    h.app.tracker.complete("SUP-1", "Fixed.", author="anna")
    h.run()
    h.deliver(mail(subject="Re: [SUP-1] Export crashes (completed)", body="Still broken"))
    h.run()
    assert h.keys() == ["SUP-1", "SUP-2"]
    assert h.request("SUP-2")["links"] == ["SUP-1"]
    assert h.request("SUP-1")["links"] == ["SUP-2"]  # the local tracker shows both directions
    followup = h.sent()[-1]
    assert followup["Subject"].startswith("[SUP-2]")
    assert "SUP-1" in followup.get_content()
    assert h.request("SUP-1")["status"] == "completed"


class NeedsOs:
    """A site plugin: a request must name the OS."""

    @hookimpl
    def check_completeness(self, intake: Intake) -> Completeness:
        has_os = "windows" in intake.message.text.lower()
        return Completeness(missing=() if has_os else ("os_version",))


def test_waiting_for_customer_until_reply_completes_it(make: Any) -> None:
    h = make(extra_plugins=[("needs-os", NeedsOs())])
    h.deliver(mail(body="It crashes."))
    h.run()
    assert h.request("SUP-1")["status"] == "waiting_for_customer"
    assert h.request("SUP-1")["missing"] == ["os_version"]
    assert "operating system" in h.sent()[0].get_content()  # named in the customer's words
    h.deliver(mail(subject="Re: [SUP-1] Export crashes", body="Sorry: Windows 10"))
    h.run()
    assert h.request("SUP-1")["status"] == "in_progress"
    assert h.request("SUP-1")["missing"] == []


def test_acknowledgements_are_capped_per_sender(h: Harness) -> None:
    for n in range(7):
        h.deliver(mail(subject=f"Problem {n}"))
    h.run()
    assert len(h.keys()) == 7
    assert len(h.sent()) == 5
    suppressed = [e for e in h.app.store.events() if e["activity"] == "acknowledgement_suppressed"]
    assert len(suppressed) == 2


@pytest.mark.parametrize("value", ["All", "OOF, AutoReply", "autoreply"])
def test_no_acknowledgement_to_a_sender_who_asked_for_none(h: Harness, value: str) -> None:
    h.deliver(mail(headers={"X-Auto-Response-Suppress": value}))
    h.deliver(mail(headers={"X-Auto-Response-Suppress": "OOF"}, subject="wants one"))
    h.run()
    assert h.keys() == ["SUP-1", "SUP-2"]  # registered all the same
    assert [m["Subject"] for m in h.sent()] == ["[SUP-2] wants one"]
    [event] = [e for e in h.app.store.events() if e["activity"] == "acknowledgement_suppressed"]
    assert (event["request"], event["detail"]["reason"]) == ("SUP-1", "X-Auto-Response-Suppress")


def test_oversized_message_is_quarantined_with_reason(make: Any) -> None:
    h = make(lifecycle={"max_message_bytes": 2000})
    h.deliver(mail(body="x" * 5000))
    h.run()
    # No request; the sender is told once what to do (tests/mail/test_intake_rules.py).
    assert h.keys() == [] and [m["To"] for m in h.sent()] == ["john.smith@customer.example"]
    quarantine = h.data_dir / "mail" / "quarantine"
    assert len(list((quarantine / "cur").iterdir())) == 1
    [row] = h.app.store.messages()
    assert row.state == "quarantined" and row.last_error
    reasons = list((quarantine / "reasons").iterdir())
    assert len(reasons) == 1 and "2000" in reasons[0].read_text()


def _break_create(h: Harness, error: Exception, times: int, only: str | None = None) -> list[str]:
    """Make the tracker's create fail *times* times (for requests whose summary is *only*)."""
    tracker = h.app.tracker
    original = tracker.create_request
    calls: list[str] = []

    def create(draft: Any) -> str:
        calls.append(draft.summary)
        failing = [c for c in calls if only is None or c == only]
        if (only is None or draft.summary == only) and len(failing) <= times:
            raise error
        return original(draft)

    tracker.create_request = create  # type: ignore[method-assign]
    return calls


def test_tracker_outage_loses_nothing_and_retries_after_the_delay(
    h: Harness, clock: FakeClock
) -> None:
    calls = _break_create(h, TransientAdapterError("503", retry_after=120), times=1)
    h.deliver(mail(subject="A"))
    h.deliver(mail(subject="B"))
    h.run()
    assert h.keys() == [] and len(calls) == 1  # the pass stopped at the outage
    assert len(list((h.inbox / "new").iterdir())) == 2  # still in the mailbox
    clock.advance(seconds=60)
    h.run()
    assert len(calls) == 1  # Retry-After not yet over
    clock.advance(seconds=61)
    h.run()
    assert h.keys() == ["SUP-1", "SUP-2"] and len(h.sent()) == 2


def test_refused_credentials_never_count_towards_quarantine(make: Any, clock: FakeClock) -> None:
    # A token expired or a permission was withdrawn: an operator fixes it, and the mail that
    # came meanwhile is registered then, not quarantined for the operator's mistake.
    h = make(lifecycle={"max_attempts": 2, "retry_delay": 10})
    calls = _break_create(h, NeedsCredentials("401: the API token has expired"), times=5)
    h.deliver(mail(subject="while the token was expired"))
    result = h.run()
    assert result.errors == 1 and h.keys() == []
    for _ in range(6):
        clock.advance(seconds=1000)
        h.run()
    assert len(calls) == 6
    [row] = h.app.store.messages()
    assert (row.state, row.attempts, row.outcome) == ("done", 0, "new_request")
    assert h.keys() == ["SUP-1"] and len(h.sent()) == 1


def test_poison_message_is_quarantined_after_max_attempts(make: Any, clock: FakeClock) -> None:
    h = make(lifecycle={"max_attempts": 3, "retry_delay": 10})
    calls = _break_create(h, PermanentAdapterError("400 bad field"), times=99, only="poison")
    h.deliver(mail(subject="poison"))
    h.deliver(mail(subject="fine", sender="other@customer.example"))
    h.run()
    assert h.keys() == ["SUP-1"]  # the poison message does not block the next one
    for _ in range(5):
        clock.advance(seconds=100)
        h.run()
    assert calls.count("poison") == 3
    poison = [r for r in h.app.store.messages() if r.subject == "poison"]
    assert [r.state for r in poison] == ["quarantined"]
    assert "400 bad field" in (poison[0].last_error or "")
    assert len(list((h.data_dir / "mail" / "quarantine" / "cur").iterdir())) == 1


def test_a_store_outage_never_counts_towards_quarantine(make: Any, clock: FakeClock) -> None:
    h = make(lifecycle={"max_attempts": 2, "retry_delay": 10})
    store = h.app.store
    original = store.request_for_thread
    outages = 0

    def flaky(message_ids: Any) -> Any:
        nonlocal outages
        if outages < 5:  # more outages than max_attempts allows failures
            outages += 1
            raise StoreUnavailable("lost the connection to the state database")
        return original(message_ids)

    store.request_for_thread = flaky  # type: ignore[method-assign]
    h.deliver(mail(subject="during the outage"))
    result = h.run()
    assert result.errors == 1 and h.keys() == []  # the pass stopped (an error), nothing recorded
    for _ in range(6):
        clock.advance(seconds=100)
        h.run()
    assert outages == 5
    [row] = store.messages()
    assert (row.state, row.attempts, row.outcome) == ("done", 0, "new_request")
    assert h.keys() == ["SUP-1"] and len(h.sent()) == 1
    assert not (h.data_dir / "mail" / "quarantine" / "cur").is_dir() or not list(
        (h.data_dir / "mail" / "quarantine" / "cur").iterdir()
    )


class _UnreachableTracker(LocalTracker):
    """The local tracker, which cannot be opened while :attr:`down` (a server not up yet)."""

    name: ClassVar[str] = "unreachable"
    down: ClassVar[bool] = True

    def open(self) -> None:
        if _UnreachableTracker.down:
            raise TransientAdapterError("connection refused")
        super().open()


class _UnreachablePlugin:
    @hookimpl
    def register_adapters(self, registry: AdapterRegistry) -> None:
        registry.add(_UnreachableTracker)


def test_a_tracker_down_at_start_stops_only_its_own_stages(make: Any, clock: FakeClock) -> None:
    _UnreachableTracker.down = True
    h = make(
        extra_plugins=[("unreachable", _UnreachablePlugin())],
        pipeline={
            "mail_source": "maildir",
            "mail_sender": "maildir-outbox",
            "tracker": "unreachable",
            "license_validators": [],
            "publishers": [],
        },
    )
    h.deliver(mail(subject="while the tracker is down"))
    result = h.run()  # taking the sync role must not need the tracker open
    assert (result.accepted, result.changes, result.processed) == (1, 0, 0)
    assert result.errors >= 1 and h.keys() == []
    assert len(list((h.inbox / "new").iterdir())) == 1  # not finished: the mailbox keeps it
    _UnreachableTracker.down = False
    clock.advance(seconds=3600)  # past the back-off the outage asked for
    h.run()
    assert h.keys() == ["SUP-1"] and len(h.sent()) == 1


def test_a_store_outage_while_taking_roles_fails_the_pass_not_the_service(h: Harness) -> None:
    store = h.app.store
    original = store.acquire_lease
    outage = True

    def flaky(*args: Any) -> bool:
        if outage:
            raise StoreUnavailable("lost the connection to the state database")
        return original(*args)

    store.acquire_lease = flaky  # type: ignore[method-assign]
    h.deliver(mail(subject="during the outage"))
    result = h.run()
    assert result.accepted == 0 and result.errors >= 2  # both roles; nothing accepted
    outage = False
    h.run()
    assert h.keys() == ["SUP-1"] and len(h.sent()) == 1


def test_events_record_every_transition(h: Harness) -> None:
    h.deliver(mail())
    h.run()
    activities = [e["activity"] for e in h.app.store.events()]
    assert activities[:2] == ["accepted", "registered"]
    assert "acknowledgement_queued" in activities and "sent" in activities
    assert all(e["at"] for e in h.app.store.events())


def test_times_come_from_the_injected_clock(h: Harness, clock: FakeClock) -> None:
    clock.advance(days=3)
    h.deliver(mail())
    h.run()
    [row] = h.app.store.messages()
    assert row.received_at == clock.now()
    assert h.app.store.request("SUP-1").created_at == clock.now()  # type: ignore[union-attr]
    assert clock.now() - timedelta(days=3) < row.received_at


def test_quarantine_list_show_and_replay(make: Any) -> None:
    from click.testing import CliRunner

    import pixbridge.cli.commands  # noqa: F401 - registers the commands
    from pixbridge.cli.main import CliState, cli

    h = make(lifecycle={"max_message_bytes": 2000})
    h.deliver(mail(body="x" * 5000, subject="too big"))
    h.run()
    state = CliState()
    state._app = h.app  # reuse the harness's application
    runner = CliRunner()
    listed = runner.invoke(cli, ["quarantine", "list", "--json"], obj=state)
    assert listed.exit_code == 0, listed.output
    [row] = __import__("json").loads(listed.output)
    assert row["subject"] == "too big" and "2000" in row["reason"]
    shown = runner.invoke(cli, ["quarantine", "show", str(row["id"]), "--raw"], obj=state)
    assert "Subject: too big" in shown.output
    # The operator raises the limit and replays: the message becomes a request.
    h.app.settings.lifecycle.max_message_bytes = 10_000_000
    h.orchestrator.inbound.limits = type(h.orchestrator.inbound.limits)(max_bytes=10_000_000)
    replayed = runner.invoke(cli, ["quarantine", "replay", str(row["id"])], obj=state)
    assert replayed.exit_code == 0, replayed.output
    h.run()
    assert h.keys() == ["SUP-1"]
    again = runner.invoke(cli, ["quarantine", "replay", str(row["id"])], obj=state)
    assert again.exit_code != 0 and "not quarantined" in again.output


def test_a_registration_is_one_commit_in_the_local_tracker(h: Harness) -> None:
    # Request, "what is missing" note, waiting status and link go in one transaction
    # (Tracker.grouped): one disk sync instead of one per write.
    tracker = h.app.tracker
    assert isinstance(tracker, LocalTracker)
    statements: list[str] = []
    tracker._connection().set_trace_callback(statements.append)
    h.deliver(mail(body="It crashes.", attachments=()))
    h.run()
    view = h.request("SUP-1")
    assert view["status"] == "waiting_for_customer" and view["missing"]
    assert [c["public"] for c in view["comments"]] == [False]  # the note on what is missing
    assert statements.count("BEGIN IMMEDIATE") == 1, statements  # the pass's only write
    begin = statements.index("BEGIN IMMEDIATE")
    registering = statements[begin : statements.index("COMMIT", begin)]
    for write in ("INSERT INTO requests", "INSERT INTO comments", "UPDATE requests SET status"):
        assert any(s.startswith(write) for s in registering), (write, registering)
