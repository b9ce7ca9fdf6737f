"""Fixtures of the triage tests: parsed messages with just what triage looks at."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from pixbridge.models import Attachment, ParsedMessage


def _message(
    text: str = "",
    *,
    subject: str = "A question",
    sender: str = "it@customer.example",
    headers: tuple[tuple[str, str], ...] = (),
    attachments: tuple[Attachment, ...] = (),
) -> ParsedMessage:
    """A parsed message with just what triage looks at."""
    return ParsedMessage(
        message_id="<1@customer.example>",
        subject=subject,
        sender=sender,
        sender_name="IT",
        recipients=("support@pix.example",),
        date=datetime(2026, 1, 15, 9, 0, tzinfo=UTC),
        in_reply_to=(),
        references=(),
        text=text,
        html=None,
        attachments=attachments,
        headers=(("subject", subject), *headers),
        content_type="text/plain",
        return_path=sender,
        language="en",
    )


@pytest.fixture
def make_message() -> Callable[..., ParsedMessage]:
    """Build a :class:`ParsedMessage` from text and keyword options."""

    def make(*args: Any, **kwargs: Any) -> ParsedMessage:
        return _message(*args, **kwargs)

    return make
