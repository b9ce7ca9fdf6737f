"""Bodies of the mail we send: what a reader decodes is exactly what the template rendered."""

from __future__ import annotations

from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pixbridge.mail.compose import compose


def _compose(text: str, html: str | None = None) -> tuple[bytes, EmailMessage]:
    mail = compose(
        message_id="<ack.1@pix.example>",
        sender="support@pix.example",
        sender_name="PIX Support",
        to="john.smith@customer.example",
        subject="[SUP-1] Export crashes",
        text=text,
        html=html,
        date=datetime(2026, 1, 12, 9, 14, tzinfo=UTC),
        language="en",
    )
    message = BytesParser(policy=policy.default).parsebytes(mail.raw)
    assert isinstance(message, EmailMessage)
    return mail.raw, message


def _decoded(message: EmailMessage, subtype: str) -> str:
    part = message.get_body((subtype,))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("Hello,\n\nYour request SUP-1 is registered.\n", "7bit"),
        ("Здравствуйте!\n\nЗаявка SUP-1 зарегистрирована.\n", "quoted-printable"),
        ("A line longer than seventy-eight characters " * 3 + "\n", "quoted-printable"),
        ("an = sign, a tab\tand trailing spaces   \nend\n", "7bit"),
    ],
)
def test_the_body_decodes_to_the_text(text: str, encoding: str) -> None:
    raw, message = _compose(text)
    assert message["Content-Transfer-Encoding"] == encoding
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    assert message["MIME-Version"] == "1.0"
    assert _decoded(message, "plain") == text
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78
    assert max(raw) < 128  # 7-bit clean for any relay


def test_an_html_part_is_an_alternative_to_the_text() -> None:
    raw, message = _compose("Hello, SUP-1.\n", html="<p>Здравствуйте, <b>SUP-1</b></p>\n")
    assert message.get_content_type() == "multipart/alternative"
    assert _decoded(message, "plain") == "Hello, SUP-1.\n"
    assert _decoded(message, "html") == "<p>Здравствуйте, <b>SUP-1</b></p>\n"
    assert raw.count(b"MIME-Version:") == 1
    assert max(raw) < 128


@given(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r")))
def test_any_text_survives_the_round_trip(text: str) -> None:
    _, message = _compose(text)
    expected = text if text.endswith("\n") else text + "\n"
    assert _decoded(message, "plain") == expected.replace("\r\n", "\n")
