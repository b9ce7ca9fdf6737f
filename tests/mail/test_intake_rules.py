"""Mail rules end to end through the Harness: automated mail, bounces, trimming, policy, limits."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pixbridge_postgres
import pytest
from lifecycle_helpers import TEMPLATES, mail

from pixbridge.testing.harness import Harness
from pixbridge.testing.plugin import FakeClock

STORE_PLUGINS = [("postgres", pixbridge_postgres)]
"""The Harness loads no entry points: the store backends beyond the built-in SQLite."""


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    harness = Harness(tmp_path, templates_dir=TEMPLATES, clock=FakeClock())
    yield harness
    harness.close()


def _comments(h: Harness, key: str) -> list[dict[str, Any]]:
    return list(h.request(key)["comments"])


def test_every_bsd_message_is_recorded_but_never_registered_or_answered(
    tmp_path: Path, corpus_dir: Path, store_settings: dict[str, Any]
) -> None:
    files = sorted((corpus_dir / "set-of-emails/maildir/bsd").iterdir())
    assert len(files) > 250
    h = Harness(
        tmp_path,
        templates_dir=TEMPLATES,
        clock=FakeClock(),
        lifecycle={"batch_size": 500},
        store=store_settings,
        extra_plugins=STORE_PLUGINS,
    )
    try:
        for path in files:
            h.deliver(path.read_bytes())
        h.run()
        assert h.keys() == []
        assert h.sent_files() == []
        outcomes = Counter(m.outcome for m in h.app.store.messages(limit=100_000))
        assert outcomes.get("automated", 0) + outcomes.get("duplicate", 0) == len(files)
    finally:
        h.close()


def test_bounce_of_our_acknowledgement_is_noted_on_its_request(h: Harness) -> None:
    h.deliver(mail())
    h.run()
    [ack] = h.sent()
    dsn = (
        "From: MAILER-DAEMON@mx.customer.example\nTo: support@pix.example\n"
        "Subject: Undelivered Mail Returned to Sender\nMessage-ID: <dsn1@mx.customer.example>\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n'
        "--B\nContent-Type: text/plain\n\nMailbox full.\n"
        "--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx\n\n"
        "Final-Recipient: rfc822; john.smith@customer.example\nAction: failed\n"
        "--B\nContent-Type: text/rfc822-headers\n\n"
        f"From: support@pix.example\nMessage-ID: {ack['Message-ID']}\nSubject: x\n\n--B--\n"
    ).encode()
    h.deliver(dsn)
    h.run()
    assert h.keys() == ["SUP-1"]
    notes = [c for c in _comments(h, "SUP-1") if not c["public"]]
    assert len(notes) == 1 and "bounced" in notes[0]["body"]
    assert len(h.sent()) == 1  # never answered
    h.deliver(dsn.replace(b"<dsn1@", b"<dsn2@").replace(ack["Message-ID"].encode(), b"<x@y>"))
    h.run()
    assert len([c for c in _comments(h, "SUP-1") if not c["public"]]) == 1  # not ours: no note


def test_reply_becomes_a_trimmed_comment(h: Harness) -> None:
    h.deliver(mail())
    h.run()
    [ack] = h.sent()
    body = f"It works now, thanks.\n\nOn Mon, 12 Jan 2026, PIX Support wrote:\n> {'x' * 20}\n"
    h.deliver(mail(subject="Re: x", body=body, in_reply_to=ack["Message-ID"]))
    h.run()
    [comment] = [c for c in _comments(h, "SUP-1") if c["public"]]
    assert comment["body"].strip() == "It works now, thanks."


def test_blocked_and_oversized_files_are_left_off_and_noted(tmp_path: Path) -> None:
    h = Harness(
        tmp_path, templates_dir=TEMPLATES, clock=FakeClock(), attachments={"max_bytes": 1000}
    )
    try:
        files = (("setup.exe", b"MZ"), ("big.log", b"x" * 2000), ("ok.log", b"fine"))
        h.deliver(mail(attachments=files))
        h.run()
        view = h.request("SUP-1")
        assert view["attachments"] == ["ok.log"]
        [note] = [c for c in view["comments"] if not c["public"]]
        assert "setup.exe" in note["body"] and "big.log" in note["body"]
        assert "ok.log" not in note["body"]
    finally:
        h.close()


def test_message_over_a_limit_is_quarantined_and_the_sender_told_once(
    tmp_path: Path, store_settings: dict[str, Any]
) -> None:
    h = Harness(
        tmp_path,
        templates_dir=TEMPLATES,
        clock=FakeClock(),
        lifecycle={"max_message_bytes": 5000, "acks_per_sender_per_hour": 2},
        store=store_settings,
        extra_plugins=STORE_PLUGINS,
    )
    try:
        big = mail(body="log line\n" * 2000)
        h.deliver(big)
        h.run()
        h.run()
        assert h.keys() == []
        [notice] = h.sent()
        assert notice["To"] == "john.smith@customer.example"
        assert "could not be registered" in str(notice["Subject"])
        assert "5000" in notice.get_content()
        # An automated sender over the limit is not written to; the cap holds for a flood.
        h.deliver(mail(body="x\n" * 4000, headers={"Auto-Submitted": "auto-generated"}))
        for _ in range(3):
            h.deliver(mail(body="y\n" * 4000))
        h.run()
        assert len(h.sent()) == 2
        states = [m.state for m in h.app.store.messages()]
        assert states == ["quarantined"] * 5
    finally:
        h.close()
