"""Tests for screening automated mail, with hand-made messages and the corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from pixbridge.mail.parse import parse_message
from pixbridge.mail.screen import screen
from pixbridge.models import ParsedMessage, Verdict

OWN = ["support@pix.example", "Noreply-Pix@PIX.example"]
BASE = "From: Ivan <ivan@customer.example>\nTo: support@pix.example\nSubject: Robot crashes\n"


def parsed(extra: str = "", *, base: str = BASE, body: str = "Hello\n") -> ParsedMessage:
    return parse_message((base + extra + "\n" + body).encode())


def test_plain_customer_mail_is_human() -> None:
    result = screen(parsed(), OWN)
    assert result.verdict is Verdict.HUMAN
    assert not result.automated


@pytest.mark.parametrize(
    ("extra", "verdict", "in_reason"),
    [
        ("X-Pixbridge-Loop: inst-1\n", Verdict.OWN, "X-Pixbridge-Loop"),
        ("Return-Path: <>\n", Verdict.BOUNCE, "Return-Path: <>"),
        ("X-Failed-Recipients: x@example.com\n", Verdict.BOUNCE, "X-Failed-Recipients"),
        ("Auto-Submitted: auto-replied\n", Verdict.AUTO_REPLY, "auto-replied"),
        ("Auto-Submitted: auto-generated; owner=x\n", Verdict.AUTO_REPLY, "auto-generated"),
        ("X-Autoreply: yes\n", Verdict.AUTO_REPLY, "X-Autoreply"),
        ("X-Autorespond: on vacation\n", Verdict.AUTO_REPLY, "X-Autorespond"),
        ("Precedence: bulk\n", Verdict.BULK, "Precedence: bulk"),
        ("Precedence: JUNK\n", Verdict.BULK, "Precedence: junk"),
        ("Precedence: list\n", Verdict.BULK, "Precedence: list"),
        ("List-Id: <users.lists.example>\n", Verdict.BULK, "List-Id"),
        ("List-Unsubscribe: <mailto:u@lists.example>\n", Verdict.BULK, "List-Unsubscribe"),
        ("List-Post: <mailto:p@lists.example>\n", Verdict.BULK, "List-Post"),
    ],
)
def test_header_rules(extra: str, verdict: Verdict, in_reason: str) -> None:
    result = screen(parsed(extra), OWN)
    assert result.verdict is verdict
    assert in_reason in result.reason


@pytest.mark.parametrize(
    "extra",
    ["Auto-Submitted: no\n", "X-Autoreply: no\n", "X-Auto-Response-Suppress: All\n", "X-Loop: x\n"],
)
def test_not_evidence_on_their_own(extra: str) -> None:
    assert screen(parsed(extra), OWN).verdict is Verdict.HUMAN


def test_own_address_case_insensitive() -> None:
    base = BASE.replace("ivan@customer.example", "noreply-pix@pix.example")
    result = screen(parsed(base=base), OWN)
    assert result.verdict is Verdict.OWN
    assert "noreply-pix@pix.example" in result.reason


@pytest.mark.parametrize(
    "sender",
    ["MAILER-DAEMON@mx.example.com", "postmaster@example.org", "post_master@vtext.example"],
)
def test_mail_system_senders_are_bounces(sender: str) -> None:
    result = screen(parsed(base=BASE.replace("ivan@customer.example", sender)), OWN)
    assert result.verdict is Verdict.BOUNCE
    assert sender.lower() in result.reason


def test_null_from_address_is_a_bounce() -> None:
    base = "From: MAILER-DAEMON <>\nTo: support@pix.example\nSubject: Mail delivery failed\n"
    assert screen(parsed(base=base), OWN).verdict is Verdict.BOUNCE


def test_no_reply_sender_is_automated() -> None:
    base = BASE.replace("ivan@customer.example", "no-reply@notifications.example")
    result = screen(parsed(base=base), OWN)
    assert result.verdict is Verdict.AUTO_REPLY
    assert "no-reply@notifications.example" in result.reason


REPORT = """--R
Content-Type: text/plain

Your message could not be delivered.
--R
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com

Final-Recipient: rfc822; x@example.com
Action: failed
Status: 5.1.1
--R--
"""


@pytest.mark.parametrize("report_type", ["delivery-status", "feedback-report"])
def test_multipart_report(report_type: str) -> None:
    extra = f'Content-Type: multipart/report; report-type={report_type}; boundary="R"\n'
    result = screen(parsed(extra, body=REPORT), OWN)
    assert result.verdict is Verdict.BOUNCE
    assert f"report-type {report_type}" in result.reason


def test_delivery_status_part_inside_mixed() -> None:
    # Exchange sends some reports as multipart/mixed without Auto-Submitted.
    extra = 'Content-Type: multipart/mixed; boundary="R"\n'
    result = screen(parsed(extra, body=REPORT), OWN)
    assert result.verdict is Verdict.BOUNCE
    assert "message/delivery-status" in result.reason


@pytest.mark.parametrize(
    "subject",
    ["Automatic reply: Robot crashes", "Out of Office: Robot crashes", "Автоматический ответ: Re"],
)
def test_responder_subject_prefix_decides(subject: str) -> None:
    result = screen(parsed(base=BASE.replace("Robot crashes", subject)), OWN)
    assert result.verdict is Verdict.AUTO_REPLY
    assert "Subject" in result.reason


@pytest.mark.parametrize(
    "subject",
    ["Out of office tomorrow, please call", "Auto: license renewal", "Fwd: Automatic reply: x"],
)
def test_weak_subjects_alone_stay_human(subject: str) -> None:
    message = parsed(base=BASE.replace("Robot crashes", subject))
    assert screen(message, OWN).verdict is Verdict.HUMAN


def test_weak_subject_with_companion_is_auto_reply() -> None:
    base = BASE.replace("Robot crashes", "Out of office until Monday")
    result = screen(parsed("X-Auto-Response-Suppress: All\n", base=base), OWN)
    assert result.verdict is Verdict.AUTO_REPLY
    assert "X-Auto-Response-Suppress" in result.reason


def test_order_own_before_bounce_before_auto_before_bulk() -> None:
    all_signals = (
        "X-Pixbridge-Loop: 1\nReturn-Path: <>\nAuto-Submitted: auto-replied\nPrecedence: bulk\n"
    )
    assert screen(parsed(all_signals), OWN).verdict is Verdict.OWN
    assert screen(parsed(all_signals.split("\n", 1)[1]), OWN).verdict is Verdict.BOUNCE
    assert screen(parsed("Auto-Submitted: auto-replied\nList-Id: <x>\n"), OWN).verdict is (
        Verdict.AUTO_REPLY
    )


# ------------------------------------------------------------------ the corpus


def _screen_folder(folder: Path) -> dict[str, Verdict]:
    return {
        p.name: screen(parse_message(p.read_bytes()), OWN).verdict
        for p in sorted(folder.iterdir())
        if p.is_file() and p.suffix != ".yml"
    }


def test_every_bsd_message_is_automated(corpus_dir: Path) -> None:
    verdicts = _screen_folder(corpus_dir / "set-of-emails/maildir/bsd")
    assert len(verdicts) > 250
    human = sorted(name for name, v in verdicts.items() if v is Verdict.HUMAN)
    assert human == []
    # Delivery reports are recognised as bounces, not merely as "something automated".
    bounces = sum(v is Verdict.BOUNCE for v in verdicts.values())
    assert bounces / len(verdicts) > 0.9


def test_the_not_folder_is_screened_by_its_headers(corpus_dir: Path) -> None:
    """sisimai's ``not/`` holds mail sisimai must not decode as a bounce, not human mail.

    Its message says ``Return-Path: <>``, ``Auto-Submitted: auto-replied`` and comes from
    ``postmaster@``: every one of those forbids an answer (RFC 3834, RFC 5321 §6.1), so it is
    screened as automated. See the report to the lead engineer.
    """
    verdicts = _screen_folder(corpus_dir / "set-of-emails/maildir/not")
    assert verdicts
    assert all(v is not Verdict.HUMAN for v in verdicts.values())


def test_redmine_customer_mail_is_human(corpus_dir: Path) -> None:
    verdicts = _screen_folder(corpus_dir / "redmine/test/fixtures/mail_handler")
    assert len(verdicts) >= 25
    assert {n: v for n, v in verdicts.items() if v is not Verdict.HUMAN} == {}
