"""Hostile input: header injection in mail we write, and mutated corpus mail."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pixbridge.errors import PixbridgeError
from pixbridge.mail.compose import HeaderInjection, compose
from pixbridge.mail.inspect import inspect_message
from pixbridge.mail.parse import ParseLimits

_NASTY = st.sampled_from(["\r", "\n", "\r\n", "\0", "\u2028", "\u2029", "\x85", "Bcc: x@evil"])
_SUBJECTS = st.lists(st.one_of(st.text(max_size=40), _NASTY), max_size=8).map("".join)


def _compose(subject: str) -> bytes:
    return compose(
        message_id="<m1@pix.example>",
        sender="support@pix.example",
        sender_name="PIX Support",
        to="customer@example.com",
        subject=subject,
        text="body",
        date=datetime(2026, 1, 1, tzinfo=UTC),
    ).raw


@settings(max_examples=300, deadline=None)
@given(_SUBJECTS)
def test_subject_can_never_add_a_header(subject: str) -> None:
    try:
        raw = _compose(subject)
    except HeaderInjection:
        assert any(c in subject for c in "\r\n\0\u2028\u2029\x85\x0b\x0c")
        return
    parsed = message_from_bytes(raw, policy=policy.default)
    assert len(parsed.get_all("Subject") or []) == 1
    assert sorted(set(parsed.keys())) == sorted(
        {
            "Message-ID",
            "Date",
            "From",
            "To",
            "Subject",
            "Auto-Submitted",
            "X-Auto-Response-Suppress",
            "X-Pixbridge-Loop",
            "MIME-Version",
            "Content-Type",
            "Content-Transfer-Encoding",
        }
    )
    assert parsed["Bcc"] is None
    assert " ".join(str(parsed["Subject"]).split()) == " ".join(subject.split())


_FUZZ_CASES = 400
_LIMITS = ParseLimits(max_bytes=2 * 1024 * 1024)


def _mutate(data: bytes, rng: random.Random) -> bytes:
    data = bytearray(data[: 64 * 1024])
    for _ in range(rng.randint(1, 12)):
        if not data:
            break
        at = rng.randrange(len(data))
        action = rng.randrange(6)
        if action == 0:
            data[at] = rng.randrange(256)
        elif action == 1:
            del data[at : at + rng.randint(1, 64)]
        elif action == 2:
            data[at:at] = rng.choice(
                [b"\n", b"\r\n", b"\n\n", b"=?", b"?=", b"--", b"boundary=", b"\x00", b"\xff"]
            )
        elif action == 3:
            size = rng.randint(1, 200)
            data[at:at] = bytes(data[at : at + size]) * rng.randint(2, 20)
        elif action == 4:
            data[at:at] = b'Content-Type: multipart/mixed; boundary="z"\n\n--z\n'
        else:
            data[at:at] = b"=?" + rng.choice([b"utf-7", b"zlib", b"x", b"gb2312"]) + b"?b?///?="
    return bytes(data)


@pytest.mark.timeout(120)
def test_mutated_corpus_mail_raises_only_pixbridge_errors(corpus_dir: Path) -> None:
    sources = sorted(
        p
        for folder in ("zammad/test/data/mail", "redmine", "set-of-emails/maildir")
        for p in (corpus_dir / folder).rglob("*")
        if p.is_file() and p.suffix != ".yml"
    )
    rng = random.Random(20260101)  # fixed seed: a failure is reproducible
    for number in range(_FUZZ_CASES):
        path = rng.choice(sources)
        raw = _mutate(path.read_bytes(), rng)
        try:
            report = inspect_message(raw, limits=_LIMITS)
        except PixbridgeError:
            continue
        except Exception as exc:  # pragma: no cover - the failure report
            pytest.fail(f"case {number} from {path.name}: {type(exc).__name__}: {exc}")
        assert report["verdict"]
