"""Tests for parsing raw inbound mail, with hand-made messages and the third-party corpus."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pixbridge.errors import MessageRejected
from pixbridge.mail.parse import ParseLimits, parse_message

yaml = pytest.importorskip("yaml")


def msg(headers: str, body: str = "Hello.\n", *, crlf: bool = False) -> bytes:
    raw = (headers.strip("\n") + "\n\n" + body).encode("utf-8")
    return raw.replace(b"\n", b"\r\n") if crlf else raw


SIMPLE = """\
From: "Ivan Petrov" <Ivan.Petrov@Example.COM>
To: Support <support@pix.example>, other@example.org
Cc: boss@example.org
Subject: Robot does not start
Date: Tue, 02 Jul 2024 10:15:00 +0300
Message-ID: <abc123@mail.example.com>
In-Reply-To: <prev@pix.example>
References: <first@pix.example>
 <prev@pix.example>
Return-Path: <bounce@example.com>
"""


# ------------------------------------------------------------------ headers


def test_simple_message() -> None:
    m = parse_message(msg(SIMPLE, "The robot does not start after the update.\n"))
    assert m.subject == "Robot does not start"
    assert m.sender == "ivan.petrov@example.com"
    assert m.sender_name == "Ivan Petrov"
    assert m.recipients == ("support@pix.example", "other@example.org", "boss@example.org")
    assert m.date == datetime(2024, 7, 2, 7, 15, tzinfo=UTC)
    assert m.date is not None and m.date.utcoffset() == timedelta(hours=3)
    assert m.message_id == "<abc123@mail.example.com>"
    assert m.in_reply_to == ("<prev@pix.example>",)
    assert m.references == ("<first@pix.example>", "<prev@pix.example>")
    assert m.return_path == "bounce@example.com"
    assert m.content_type == "text/plain"
    assert m.text == "The robot does not start after the update."
    assert m.html is None
    assert m.attachments == ()
    assert m.language == "en"
    assert m.header("SUBJECT") == "Robot does not start"
    assert ("references", "<first@pix.example> <prev@pix.example>") in m.headers


def test_mbox_from_line_and_crlf() -> None:
    raw = b"From someone@example.com Sat Oct  4 08:00:09 2025\n" + msg(SIMPLE, crlf=True)
    m = parse_message(raw)
    assert m.subject == "Robot does not start"
    assert m.sender == "ivan.petrov@example.com"
    assert m.text.strip() == "Hello."


def test_mixed_line_endings() -> None:
    raw = b"From: a@example.com\r\nSubject: mixed\nTo: b@example.com\r\n\r\nline1\nline2\r\n"
    m = parse_message(raw)
    assert m.subject == "mixed"
    assert m.text == "line1\nline2"


def test_missing_headers_give_empty_values() -> None:
    m = parse_message(b"X-Something: 1\n\nbody\n")
    assert (m.subject, m.sender, m.sender_name, m.recipients) == ("", "", "", ())
    assert (m.date, m.message_id, m.return_path) == (None, None, None)
    assert (m.in_reply_to, m.references) == ((), ())


def test_null_return_path_and_sender_fallback() -> None:
    m = parse_message(msg("Return-Path: <>\nSender: Relay <relay@example.net>\nSubject: x"))
    assert m.return_path == ""
    assert m.sender == "relay@example.net"


def test_rfc2047_words() -> None:
    headers = (
        "From: =?utf-8?B?0JjQstCw0L0g0J/QtdGC0YDQvtCy?= <ivan@example.ru>\n"
        "Subject: =?koi8-r?B?8NLJ18XU?= =?utf-8?Q?_=D0=BC=D0=B8=D1=80?=\n"
    )
    m = parse_message(msg(headers))
    assert m.sender_name == "Иван Петров"
    assert m.subject == "Привет мир"
    assert m.language == "ru"


def test_rfc2047_multibyte_split_across_words() -> None:
    # "Ошибка" in UTF-8, cut in the middle of the second letter across two words.
    data = "Ошибка".encode()
    first, second = base64.b64encode(data[:3]).decode(), base64.b64encode(data[3:]).decode()
    m = parse_message(msg(f"Subject: =?UTF-8?B?{first}?=\n =?UTF-8?B?{second}?="))
    assert m.subject == "Ошибка"


def test_broken_encoded_words() -> None:
    headers = (
        "Subject: Status  =?unicode-1-1-utf-7?Q?+ANw-bermittlung ok?=\n"
        "From: =?iso-8859-1?Q?B=FCrling, =20Andreas?= <smith@example.com>\n"
        "To: =?bogus-charset?Q?caf=C3=A9?= <x@example.com>\n"
    )
    m = parse_message(msg(headers))
    assert m.subject == "Status  Übermittlung ok"
    assert m.sender == "smith@example.com"
    assert m.sender_name == "Bürling,  Andreas"
    assert m.header("to") == "café <x@example.com>"
    assert any(d.startswith("unknown-charset") for d in m.defects)


def test_8bit_headers_without_mime() -> None:
    utf8 = msg("Subject: Привет").replace(b"\n\n", b"\n\n", 1)
    assert parse_message(utf8).subject == "Привет"
    cp1251 = b"Subject: " + "Ошибка лицензии".encode("cp1251") + b"\nFrom: a@b.example\n\nx\n"
    assert parse_message(cp1251).subject == "Ошибка лицензии"
    latin = (
        b"Subject: Gr" + "üße".encode("latin-1") + b" aus M" + "ü".encode("latin-1") + b"nchen\n\nx"
    )
    assert parse_message(latin).subject == "Grüße aus München"
    declared = (
        b"Subject: "
        + "Отчёт".encode("koi8-r")
        + b"\nContent-Type: text/plain; charset=koi8-r\n\n"
        + "тело".encode("koi8-r")
    )
    m = parse_message(declared)
    assert (m.subject, m.text) == ("Отчёт", "тело")
    assert "8bit-header" in m.defects


def test_header_values_have_no_line_breaks() -> None:
    m = parse_message(msg("Subject: =?utf-8?Q?a=0D=0AInjected:_yes?=\nX-Long: one\n two\n\tthree"))
    assert m.subject == "a  Injected: yes"
    assert m.header("x-long") == "one two\tthree"
    for _, value in m.headers:
        assert "\n" not in value and "\r" not in value


def test_message_ids_without_brackets_and_with_junk() -> None:
    m = parse_message(
        msg("Message-Id: 20200123143934.05D7EE792E@example.com\nIn-Reply-To: Your mail <a@b>")
    )
    assert m.message_id == "<20200123143934.05D7EE792E@example.com>"
    assert m.in_reply_to == ("<a@b>",)


def test_dates() -> None:
    assert parse_message(msg("Date: Tue, 2 Jul 2024 10:15:00 -0000")).date == datetime(
        2024, 7, 2, 10, 15, tzinfo=UTC
    )
    assert parse_message(msg("Date: someday soon")).date is None


def test_cve_2023_27043_address_is_not_trusted() -> None:
    m = parse_message(msg("From: alice@example.com@evil.example\nReturn-Path: <real@example.org>"))
    # Python 3.11.7 splits this into "" and "@evil.example"; no part of it may become the sender.
    assert m.sender == "real@example.org"
    assert "invalid-address" in m.defects


def test_stray_lines_in_header_block() -> None:
    raw = (
        b"---- Original email message ----\n"
        b"From: a@example.com\n"
        b"X-Tracker: AAAA\nBBBBBBBB\nCCCC\n"
        b"Subject: kept\n\nbody\n"
    )
    m = parse_message(raw)
    assert m.sender == "a@example.com"
    assert m.subject == "kept"
    assert m.text == "body"


# ------------------------------------------------------------------ bodies


def test_html_only_is_converted_with_inscriptis() -> None:
    html = "<html><body><p>Hello <b>there</b></p><ul><li>one</li><li>two</li></ul></body></html>"
    m = parse_message(msg("Subject: h\nContent-Type: text/html; charset=utf-8", html))
    assert m.html == html
    assert "Hello there" in m.text
    assert "* one" in m.text and "<" not in m.text


def test_alternative_prefers_plain_and_keeps_html() -> None:
    body = """--B
Content-Type: text/plain; charset=utf-8

plain version
--B
Content-Type: text/html; charset=utf-8

<p>html version</p>
--B--
"""
    m = parse_message(msg('Subject: a\nContent-Type: multipart/alternative; boundary="B"', body))
    assert m.text.strip() == "plain version"
    assert m.html is not None and "html version" in m.html
    assert m.content_type == "multipart/alternative"


@pytest.mark.parametrize(
    ("charset", "text"),
    [
        ("windows-1251", "Не запускается робот"),
        ("koi8-r", "Не запускается робот"),
        ("gb2312", "发现最美车间主任"),
        ("iso-2022-jp", "ツールのエラー"),
        ("utf-7", "Übermittlung"),
        ("iso-8859-2", "Zażółć gęślą jaźń"),
    ],
)
def test_body_charsets(charset: str, text: str) -> None:
    raw = f"Subject: c\nContent-Type: text/plain; charset={charset}\n\n".encode() + text.encode(
        charset
    )
    assert parse_message(raw).text == text


def test_wrong_or_unknown_body_charset_falls_back() -> None:
    utf8_as_ascii = b"Content-Type: text/plain; charset=us-ascii\n\n" + "Привет".encode()
    assert parse_message(utf8_as_ascii).text == "Привет"
    unknown = b"Content-Type: text/plain; charset=x-nonsense\n\n" + "Привет мир".encode("cp1251")
    assert parse_message(unknown).text == "Привет мир"
    bytes_codec = b"Content-Type: text/plain; charset=zlib\n\nplain"
    assert parse_message(bytes_codec).text == "plain"


# ------------------------------------------------------------------ attachments


ATTACHMENTS = """--B
Content-Type: text/plain; charset=utf-8

See attached.
--B
Content-Type: application/pdf; name*=utf-8''%D0%BE%D1%82%D1%87%D1%91%D1%82.pdf
Content-Disposition: attachment; filename*=utf-8''%D0%BE%D1%82%D1%87%D1%91%D1%82.pdf
Content-Transfer-Encoding: base64

JVBERi0xLjQK
--B
Content-Type: image/png
Content-Disposition: inline; filename="=?utf-8?B?0YHQutGA0LjQvS5wbmc=?="
Content-ID: <img1@example>
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--B
Content-Type: application/octet-stream; name="../../etc/\u202epasswd"
Content-Disposition: attachment

data
--B
Content-Type: message/rfc822

From: inner@example.com
Subject: Original / problem report

inner body
--B
Content-Type: message/rfc822

From: inner@example.com

no subject here
--B--
"""


def test_attachments() -> None:
    m = parse_message(msg('Subject: att\nContent-Type: multipart/mixed; boundary="B"', ATTACHMENTS))
    assert m.text.strip() == "See attached."
    names = [a.filename for a in m.attachments]
    assert names == [
        "отчёт.pdf",
        "скрин.png",
        "passwd",
        "Original _ problem report.eml",
        "message.eml",
    ]
    pdf, png, bad, eml, eml2 = m.attachments
    assert (pdf.content_type, pdf.data, pdf.inline, pdf.content_id) == (
        "application/pdf",
        b"%PDF-1.4\n",
        False,
        None,
    )
    assert (png.inline, png.content_id, png.data[:4]) == (True, "img1@example", b"\x89PNG")
    assert bad.data == b"data"  # the line break before a boundary belongs to the boundary
    assert eml.content_type == "message/rfc822"
    assert b"Subject: Original / problem report" in eml.data and b"inner body" in eml.data
    assert eml2.filename == "message.eml"


def test_quoted_rfc2231_name_with_8bit() -> None:
    body = """--B
Content-Type: image/jpeg; name*="us-ascii''W%F6lbung.jpg"
Content-Disposition: attachment; filename*="us-ascii''W%F6lbung.jpg"

x
--B--
"""
    m = parse_message(msg('Content-Type: multipart/mixed; boundary="B"', body))
    assert [a.filename for a in m.attachments] == ["Wölbung.jpg"]


def test_unnamed_parts_get_a_typed_name() -> None:
    body = """--B
Content-Type: image/gif
Content-Transfer-Encoding: base64

R0lGODlh
--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com

Final-Recipient: rfc822; x@example.com
Action: failed
--B--
"""
    m = parse_message(msg('Content-Type: multipart/report; boundary="B"', body))
    assert [(a.filename, a.content_type) for a in m.attachments] == [
        ("image.gif", "image/gif"),
        ("delivery-status.txt", "message/delivery-status"),
    ]
    assert b"Action: failed" in m.attachments[1].data


# ------------------------------------------------------------------ limits and junk


def test_too_large() -> None:
    with pytest.raises(MessageRejected) as info:
        parse_message(msg("Subject: big", "x" * 2000), limits=ParseLimits(max_bytes=1000))
    assert info.value.code == "too_large"
    assert "1000" in info.value.reason


def test_header_too_long_and_header_block_too_big() -> None:
    with pytest.raises(MessageRejected) as info:
        parse_message(msg("Subject: " + "a" * 17_000))
    assert info.value.code == "header_too_long"
    assert "'Subject'" in info.value.reason
    folded = "X-Big: start\n" + "".join(f" {'b' * 70}\n" for i in range(300))
    with pytest.raises(MessageRejected) as info:
        parse_message(msg(folded))
    assert info.value.code == "header_too_long"
    many = "".join(f"X-H{i}: {'c' * 100}\n" for i in range(3000))
    with pytest.raises(MessageRejected) as info:
        parse_message(msg(many))
    assert info.value.code == "header_too_long"
    assert "header block" in info.value.reason


def _nested(depth: int) -> bytes:
    head = ""
    tail = ""
    for level in range(depth):
        head += f'Content-Type: multipart/mixed; boundary="b{level}"\n\n--b{level}\n'
        tail = f"\n--b{level}--\n" + tail
    return b"Subject: deep\n" + (head + "Content-Type: text/plain\n\nleaf" + tail).encode()


def test_too_deep() -> None:
    assert parse_message(_nested(5)).text.strip() == "leaf"
    with pytest.raises(MessageRejected) as info:
        parse_message(_nested(25))
    assert info.value.code == "too_deep"
    with pytest.raises(MessageRejected) as info:
        parse_message(_nested(1500), limits=ParseLimits(max_depth=5000))
    assert info.value.code == "too_deep"


def test_too_many_parts() -> None:
    parts = "".join(f"--B\nContent-Type: text/plain\n\npart {i}\n" for i in range(250)) + "--B--\n"
    with pytest.raises(MessageRejected) as info:
        parse_message(msg('Content-Type: multipart/mixed; boundary="B"', parts))
    assert info.value.code == "too_many_parts"
    assert "200" in info.value.reason


@pytest.mark.parametrize(
    "raw",
    [b"", b"\r\n\r\n", b"From nobody\n", b"just some text without headers\n", b"\x00\xff\xfe" * 50],
)
def test_junk_is_unparseable(raw: bytes) -> None:
    with pytest.raises(MessageRejected) as info:
        parse_message(raw)
    assert info.value.code == "unparseable"


# ------------------------------------------------------------------ the corpus


class _RubyLoader(yaml.SafeLoader):  # type: ignore[misc,name-defined]
    """Zammad's expectations: a SafeLoader that reads ``!ruby/...`` and ``!binary`` tags."""


def _ruby(loader: Any, suffix: str, node: Any) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_scalar(node)


_RubyLoader.add_multi_constructor("!ruby/", _ruby)
_RubyLoader.add_constructor(
    "!binary", lambda loader, node: base64.b64decode(loader.construct_scalar(node))
)


def _squash(text: str) -> str:
    return " ".join(text.split())


def test_zammad_subject_and_sender_match_expectations(corpus_dir: Path) -> None:
    """Zammad's own parser output (not ground truth): subject and sender must agree in 98%."""
    boxes = sorted((corpus_dir / "zammad/test/data/mail").glob("*.box"))
    boxes = [b for b in boxes if b.with_suffix(".yml").is_file()]
    assert len(boxes) >= 40
    misses: list[str] = []
    for box in boxes:
        expected = yaml.load(box.with_suffix(".yml").read_text("utf-8"), Loader=_RubyLoader)
        parsed = parse_message(box.read_bytes())
        want_subject = _squash(str(expected.get("subject") or ""))
        if _squash(parsed.subject) != want_subject:
            misses.append(f"{box.name} subject {parsed.subject!r} != {want_subject!r}")
        want_sender = str(expected.get("from_email") or "").lower()
        if parsed.sender != want_sender:
            misses.append(f"{box.name} sender {parsed.sender!r} != {want_sender!r}")
    checks = 2 * len(boxes)
    assert (checks - len(misses)) / checks >= 0.98, "\n".join(misses)


def _corpus_messages(corpus_dir: Path) -> list[Path]:
    found = []
    for folder in (
        "zammad/test/data/mail",
        "redmine/test/fixtures/mail_handler",
        "set-of-emails/maildir",
        "set-of-emails/mailbox",
    ):
        found += [p for p in sorted((corpus_dir / folder).rglob("*")) if p.is_file()]
    return [p for p in found if p.suffix != ".yml"]


def test_corpus_raises_nothing_but_message_rejected(corpus_dir: Path) -> None:
    paths = _corpus_messages(corpus_dir)
    assert len(paths) > 350
    parsed = 0
    for path in paths:
        try:
            parse_message(path.read_bytes())
        except MessageRejected:
            continue
        parsed += 1
    # Only the deliberately empty or header-less mbox samples are refused.
    assert parsed >= len(paths) - 5


def test_corpus_details(corpus_dir: Path) -> None:
    mail = corpus_dir / "zammad/test/data/mail"
    jp = parse_message((mail / "mail093.box").read_bytes())
    assert jp.subject == "ツール"  # 8-bit Shift_JIS header under a 7-bit iso-2022-jp label
    html_only = parse_message(
        (corpus_dir / "redmine/test/fixtures/mail_handler/outlook_2010_html_only.eml").read_bytes()
    )
    assert html_only.html is not None and html_only.text.strip()
    assert "<" not in html_only.text
