"""Triage end to end on the embedded default: waiting for the customer, backlog order, samples."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lifecycle_helpers import SAMPLES, TEMPLATES, mail

from pixbridge.testing.harness import Harness
from pixbridge.testing.plugin import FakeClock

TEAMS = {
    "strategy": "round_robin",
    "teams": {"tm": ["anna", "boris"], "ps": ["pavel"]},
    "product_teams": {"PIX Task Mining": "tm", "PIX Process Studio": "ps"},
}


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Any]:
    harnesses: list[Harness] = []

    def factory(**kwargs: Any) -> Harness:
        root = tmp_path / f"h{len(harnesses)}"
        harness = Harness(root, templates_dir=TEMPLATES, clock=FakeClock(), **kwargs)
        harnesses.append(harness)
        return harness

    yield factory
    for harness in harnesses:
        harness.close()


def _internal(h: Harness, key: str) -> list[str]:
    return [c["body"] for c in h.request(key)["comments"] if not c["public"]]


def test_incomplete_request_waits_until_replies_supply_the_rest(make: Any) -> None:
    h = make()
    h.deliver(
        mail(
            subject="Report filter question",
            body="The date filter of the activity report ignores our regional settings.",
            message_id="<first@customer.example>",
            attachments=(),
        )
    )
    h.run()
    view = h.request("SUP-1")
    assert view["status"] == "waiting_for_customer"
    assert view["missing"] == ["attachments", "os_version", "serial"]
    assert view["os_version"] is None and view["serial"] is None
    [ack] = h.sent()
    text = ack.get_content()
    assert "log files or screenshots" in text and "serial number" in text
    assert "os_version" not in text  # the customer reads names, not codes
    [note] = _internal(h, "SUP-1")
    assert "attachments, os_version, serial" in note

    # A first reply brings only the serial: still waiting, the agent sees what is left.
    h.deliver(
        mail(
            subject="Re: [SUP-1] Report filter question",
            body="S/N PTM-2024-00173\n\n> To start work on it we still need:\n> - the serial",
            in_reply_to=ack["Message-ID"],
            attachments=(),
        )
    )
    h.run()
    view = h.request("SUP-1")
    assert view["status"] == "waiting_for_customer"
    assert view["missing"] == ["attachments", "os_version"]
    assert view["serial"] == "PTM-2024-00173"
    assert "attachments, os_version." in _internal(h, "SUP-1")[-1]

    # The second reply brings the rest; the facts of both replies are merged.
    h.deliver(
        mail(
            subject="Re: [SUP-1] Report filter question",
            body="Here it is.\nОС: Windows 10 Pro 22H2 (сборка 19045)",
            attachments=(("screen.png", b"\x89PNG..."),),
        )
    )
    h.run()
    view = h.request("SUP-1")
    assert view["status"] == "in_progress"
    assert view["missing"] == []
    assert view["os_version"] == "Windows 10 Pro 22H2 (build 19045)"
    assert view["serial"] == "PTM-2024-00173"
    assert len(_internal(h, "SUP-1")) == 2  # nothing new to say once it is complete
    assert len(h.sent()) == 1  # replies are not acknowledged


def test_russian_customer_is_asked_in_russian(make: Any) -> None:
    h = make()
    h.deliver(
        mail(
            sender="ivanov@zavod.example",
            subject="Вопрос по отчёту",
            body="Добрый день! Подскажите, как изменить формат даты в отчёте по активности?",
            attachments=(),
        )
    )
    h.run()
    [ack] = h.sent()
    text = ack.get_content()
    assert "Чтобы начать работу, нам ещё нужно" in text
    assert "серийный номер комплекта продукта" in text
    assert "название и версия операционной системы" in text


def test_a_blocking_backlog_is_registered_and_acknowledged_first(make: Any) -> None:
    h = make()
    for n in range(20):
        body = f"Question {n}: how do I change the report layout?\nWindows 11\nS/N PTM-2024-00001"
        h.deliver(mail(sender=f"user{n}@customer.example", subject=f"Question {n}", body=body))
        if n == 7:
            h.deliver(
                mail(
                    sender="ops@bank.example",
                    subject="Сервер PIX Task Mining не запускается",
                    body="Работа отдела остановлена.\nОС: Astra Linux SE 1.7\nS/N PTM-2024-00002",
                )
            )
    h.deliver(
        mail(sender="it@plant.example", subject="[BLOCKER] export", body="See log.\nWindows 10")
    )
    result = h.run()
    assert result.processed == 22
    assert h.request("SUP-1")["customer"] == "ops@bank.example"
    assert h.request("SUP-2")["customer"] == "it@plant.example"
    assert {h.request(k)["priority_level"] for k in ("SUP-1", "SUP-2")} == {"blocker"}
    assert h.request("SUP-3")["priority_level"] == "normal"
    assert [m["To"] for m in h.sent()[:2]] == ["ops@bank.example", "it@plant.example"]
    assert len(h.sent()) == 22


def test_a_reply_is_never_ranked_before_its_request(make: Any) -> None:
    h = make()
    h.deliver(mail(subject="Question", body="How?", message_id="<q@customer.example>"))
    h.deliver(
        mail(subject="Re: Question", body="Now it crashes!", in_reply_to="<q@customer.example>")
    )
    h.run()
    assert h.keys() == ["SUP-1"]
    assert [c["body"].strip() for c in h.request("SUP-1")["comments"] if c["public"]] == [
        "Now it crashes!"
    ]


def test_priority_and_assignee_reach_the_tracker_and_the_json(make: Any) -> None:
    h = make(triage={"levels": {"customer.example": "premium"}, "assignment": TEAMS})
    h.deliver(
        mail(
            subject="PIX Task Mining: how to export?",
            body="How do we export? Windows 11\nS/N PTM-2024-00001",
        )
    )
    h.run()
    view = h.request("SUP-1")
    assert view["priority"] == "High"  # the tracker's name, from [triage.priority_map]
    assert view["priority_level"] == "high"
    assert view["priority_reason"] == "support level premium (+1)"
    assert view["assignee"] == "anna"
    assert (
        view["assignee_reason"]
        == "product PIX Task Mining → team tm; round-robin in team tm (turn 1)"
    )
    assert (view["os_version"], view["serial"], view["missing"]) == (
        "Windows 11",
        "PTM-2024-00001",
        [],
    )
    listed = h.app.store.requests()[0]
    assert (listed.os_version, listed.serial, listed.assignee) == (
        "Windows 11",
        "PTM-2024-00001",
        "anna",
    )


def test_a_followup_inherits_what_the_completed_request_established(make: Any) -> None:
    h = make()
    h.deliver(mail())
    h.run()
    h.app.tracker.complete("SUP-1", "Fixed.", author="anna")
    h.run()
    h.deliver(
        mail(subject="Re: [SUP-1] Export crashes (completed)", body="Still broken", attachments=())
    )
    h.run()
    view = h.request("SUP-2")
    assert view["links"] == ["SUP-1"]
    assert view["status"] == "registered" and view["missing"] == []
    assert view["serial"] == "PTM-2024-00173"


EXPECTED = {
    # key: (sample, status, missing, priority level, os_version, serial, assignee)
    "SUP-1": ("01", "registered", [], "blocker", "Windows 11 Pro 23H2 (build 22631.4602)", "PTM-2024-00173", "anna"),
    "SUP-2": ("02", "registered", [], "blocker", "Astra Linux Special Edition 1.7.5", "PPS-2023-01942", "pavel"),
    "SUP-3": ("12", "registered", [], "blocker", "Windows Server 2019 Standard (build 17763)", "PPS-2022-00731", "pavel"),
    "SUP-4": ("15", "registered", [], "blocker", "Ubuntu 22.04.4 LTS", "PTM-2023-00951", "boris"),
    "SUP-5": ("11+13", "in_progress", [], "high", "Windows 10 Enterprise LTSC 2021 (build 19044)", "PTM-2024-00488", "anna"),
    "SUP-6": ("14", "waiting_for_customer", ["attachments", "serial"], "normal", "РЕД ОС 7.3 Муром", None, "pavel"),
}  # fmt: skip


def test_samples_go_through_one_pass_with_the_expected_triage(make: Any) -> None:
    h = make(triage={"levels": {"retail.example": "premium"}, "assignment": TEAMS})
    for sample in sorted(SAMPLES.glob("*.eml")):
        h.deliver(sample.read_bytes())
    result = h.run()
    assert result.errors == 0
    assert h.keys() == list(EXPECTED)
    for key, (sample, status, missing, level, os_version, serial, assignee) in EXPECTED.items():
        view = h.request(key)
        got = (
            view["status"],
            view["missing"],
            view["priority_level"],
            view["os_version"],
            view["serial"],
            view["assignee"],
        )
        assert got == (status, missing, level, os_version, serial, assignee), (sample, key)
    assert "«не блокирует»" not in h.request("SUP-6")["priority_reason"]
    # Blocking requests were acknowledged first, then the rest in arrival order.
    assert [m["To"] for m in h.sent()] == [
        "john.smith@customer.example",
        "ivanov@zavod.example",
        "o.kuznetsova@bank.example",
        "ops@logistics.example",
        "mary.jones@retail.example",
        "p.sidorov@zavod.example",
    ]
    outcomes = sorted(m.outcome or "" for m in h.app.store.messages())
    assert outcomes == ["automated", "comment", "comment", *["new_request"] * 6]
