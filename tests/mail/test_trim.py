"""Tests for reply trimming, with hand-made replies and the corpus's expectations."""

from __future__ import annotations

from pathlib import Path

import pytest

from pixbridge.mail.trim import trim_reply


def _squash(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize(
    ("reply", "kept"),
    [
        (
            "Thanks, it works now.\n\nOn Mon, 1 Jul 2024 at 10:00, Support <s@pix.example> wrote:\n"
            "> Please try build 7.2\n",
            "Thanks, it works now.",
        ),
        (
            "Спасибо, заработало.\n\n1 июля 2024 г., в 10:00, Support <s@pix.example> написал(а):\n"
            "> Попробуйте сборку 7.2\n",
            "Спасибо, заработало.",
        ),
        (
            "Лог во вложении.\n\nПонедельник, 1 июля 2024, 10:00 +03:00 от Support "
            "<s@pix.example>:\n\n> Пришлите лог\n",
            "Лог во вложении.",
        ),
        (
            'Лог во вложении.\n\n01.07.2024, 10:00, "Support" <s@pix.example>:\n> Пришлите лог\n',
            "Лог во вложении.",
        ),
        (
            "Ок.\n\nИван Петров пишет:\n> текст\n",
            "Ок.",
        ),
        (
            "See the log.\n\n-----Original Message-----\nFrom: Support <s@pix.example>\n"
            "Sent: Monday, July 1, 2024 10:00 AM\nTo: me\nSubject: RE: [PIX-1]\n\nold text\n",
            "See the log.",
        ),
        (
            "Лог приложил.\n\n________________________________\nОт: Support <s@pix.example>\n"
            "Отправлено: 1 июля 2024 г. 10:00\nКому: me\nТема: [PIX-1]\n\nстарый текст\n",
            "Лог приложил.",
        ),
        (
            "Лог приложил.\n\n-------- Пересылаемое сообщение --------\n01.07.2024, 10:00, "
            '"Ivan" <i@example.com>:\nстарое\n',
            "Лог приложил.",
        ),
        ("Works.\n\n-- \nIvan Petrov\nACME Corp\n", "Works."),
    ],
)
def test_quote_headers_and_signatures_are_cut(reply: str, kept: str) -> None:
    got, dropped = trim_reply(reply)
    assert got == kept
    assert dropped and _squash(dropped) in _squash(reply)


def test_text_that_only_looks_like_history_is_kept() -> None:
    # Customers paste logs with dates, addresses and dashes: none of it is a quote header.
    body = (
        "The robot stops. Log:\n"
        "2024-07-01 10:00:01,123 ERROR worker: connection lost to db@host\n"
        "2024-07-01 10:00:02,001 INFO retrying\n"
        "----- settings -----\n"
        "From: the installer, version 7.1\n"
        "On Monday it still worked.\n"
        "Please help."
    )
    assert trim_reply(body) == (body, "")


def test_inline_answers_keep_the_quotes_they_answer() -> None:
    reply = "On Mon, 1 Jul 2024, Support wrote:\n> Which version?\n7.1\n> Which OS?\nWindows 11\n"
    kept, dropped = trim_reply(reply)
    assert kept == "> Which version?\n7.1\n> Which OS?\nWindows 11"
    assert dropped == "On Mon, 1 Jul 2024, Support wrote:"


def test_quote_only_and_bottom_posting() -> None:
    assert trim_reply("> only a quote\n") == ("> only a quote", "")
    kept, _ = trim_reply("On Mon, Support wrote:\n> question\n\nmy answer\n")
    assert kept == "my answer"
    assert trim_reply("\r\n\r\nline one\r\nline two\r\n\r\n")[0] == "line one\nline two"


def trimming_rate(folder: Path) -> tuple[int, int]:
    """(exact matches, cases) of :func:`trim_reply` on an email_reply_trimmer folder."""
    cases = sorted((folder / "emails").glob("*.txt"))
    hits = 0
    for case in cases:
        expected = (folder / "trimmed" / case.name).read_text("utf-8")
        kept, _ = trim_reply(case.read_text("utf-8"))
        hits += _squash(kept) == _squash(expected)
    return hits, len(cases)


def test_corpus_trimming_rate(corpus_dir: Path) -> None:
    hits, total = trimming_rate(corpus_dir / "email_reply_trimmer" / "test")
    assert total >= 30
    assert hits / total >= 0.90, f"{hits}/{total} trimmed as expected"
