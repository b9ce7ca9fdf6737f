"""Decoding gaps: TNEF wrappers, attached messages, mbox framing, charsets real mail uses."""

from __future__ import annotations

import base64
import struct
from pathlib import Path

import pytest

from pixbridge.errors import MessageRejected
from pixbridge.mail.parse import ParseLimits, parse_message


def _attr(level: int, name: int, kind: int, data: bytes) -> bytes:
    checksum = sum(data) & 0xFFFF
    return struct.pack("<BHHI", level, name, kind, len(data)) + data + struct.pack("<H", checksum)


def tnef(files: list[tuple[bytes, bytes]], body: bytes | None = None) -> bytes:
    """A minimal TNEF stream as Outlook writes it: body, then per file rendering, title, data."""
    out = struct.pack("<IH", 0x223E9F78, 0x1234)
    out += _attr(1, 0x9006, 0x0008, struct.pack("<I", 0x00010000))  # TNEF version
    if body is not None:
        out += _attr(1, 0x800C, 0x0002, body)
    for name, data in files:
        out += _attr(2, 0x9002, 0x0006, b"\x01\x00" + b"\xff" * 12)
        out += _attr(2, 0x8010, 0x0001, name + b"\x00")
        out += _attr(2, 0x800F, 0x0006, data)
    return out


def _with_winmail(payload: bytes, text: str = "") -> bytes:
    encoded = base64.encodebytes(payload).decode()
    text_part = f"--B\nContent-Type: text/plain\n\n{text}\n" if text else ""
    return (
        'From: a@example.com\nSubject: tnef\nContent-Type: multipart/mixed; boundary="B"\n\n'
        f"{text_part}--B\nContent-Type: application/ms-tnef; name=winmail.dat\n"
        "Content-Disposition: attachment; filename=winmail.dat\n"
        f"Content-Transfer-Encoding: base64\n\n{encoded}--B--\n"
    ).encode()


def test_tnef_is_unpacked_into_files_and_body() -> None:
    payload = tnef([(b"robot.log", b"ERROR 42\n"), (b"screen.png", b"\x89PNG....")], b"Body!")
    m = parse_message(_with_winmail(payload))
    assert [(a.filename, a.content_type, a.data) for a in m.attachments] == [
        ("robot.log", "application/octet-stream", b"ERROR 42\n"),
        ("screen.png", "image/png", b"\x89PNG...."),
    ]
    assert m.text == "Body!"  # no MIME text part: the wrapper's body is the text


def test_tnef_body_does_not_replace_the_mime_text() -> None:
    m = parse_message(_with_winmail(tnef([(b"a.txt", b"x")], b"copy"), text="The real text"))
    assert m.text == "The real text"
    assert [a.filename for a in m.attachments] == ["a.txt"]


def test_tnef_file_names_are_made_safe() -> None:
    m = parse_message(_with_winmail(tnef([(b"..\\..\\evil\xe2\x80\xae.txt", b"x")])))
    assert [a.filename for a in m.attachments] == ["evil.txt"]


def test_broken_tnef_is_kept_as_it_came() -> None:
    broken = tnef([(b"a.txt", b"x")])[:30]
    m = parse_message(_with_winmail(broken))
    assert [a.filename for a in m.attachments] == ["winmail.dat"]
    assert "bad-tnef" in m.defects


def test_tnef_files_count_towards_the_part_limit() -> None:
    payload = tnef([(f"f{i}.txt".encode(), b"x") for i in range(10)])
    m = parse_message(_with_winmail(payload), limits=ParseLimits(max_parts=5))
    assert [a.filename for a in m.attachments] == ["winmail.dat"]  # kept unopened


def test_attached_message_is_an_eml_attachment() -> None:
    raw = (
        b'From: a@example.com\nSubject: fwd\nContent-Type: multipart/mixed; boundary="B"\n\n'
        b"--B\nContent-Type: text/plain\n\nsee attached\n"
        b"--B\nContent-Type: message/rfc822\n\n"
        b"From: b@example.com\nSubject: =?utf-8?b?0J7RiNC40LHQutCw?=\nMessage-ID: <inner@x>\n\ninner body\n"
        b"--B--\n"
    )
    m = parse_message(raw)
    assert m.text == "see attached"
    (eml,) = m.attachments
    assert (eml.filename, eml.content_type) == ("Ошибка.eml", "message/rfc822")
    assert b"Message-ID: <inner@x>" in eml.data and b"inner body" in eml.data


@pytest.mark.parametrize(
    ("charset", "text"),
    [
        ("windows-1251", "Привет, робот не запускается"),
        ("koi8-r", "Привет, робот не запускается"),
        ("gb2312", "机器人无法启动"),
        ("iso-2022-jp", "ロボットが起動しません"),
        ("utf-7", "Привет"),
        ("iso-8859-15", "Größe 5 €"),
        ("shift_jis", "ロボット"),
        ("big5", "機器人"),
        ("euc-kr", "로봇"),
    ],
)
def test_charsets_real_mail_uses(charset: str, text: str) -> None:
    body = text.encode(charset)
    raw = (
        f"From: a@example.com\nSubject: x\nContent-Type: text/plain; charset={charset}\n"
        "Content-Transfer-Encoding: 8bit\n\n"
    ).encode() + body
    assert parse_message(raw).text == text


def test_mbox_file_with_from_line_and_mixed_endings() -> None:
    raw = (
        b"From MAILER-DAEMON Fri Jul  8 12:08:34 2011\r\n"
        b"From: a@example.com\r\nSubject: mixed\nTo: b@example.com\r\n\nline1\r\nline2\n"
    )
    m = parse_message(raw)
    assert (m.subject, m.sender, m.text) == ("mixed", "a@example.com", "line1\nline2")


def test_every_charset_in_the_corpus_decodes(corpus_dir: Path) -> None:
    """No part of any corpus message is left in an unknown charset or with replacement marks."""
    unknown = []
    for path in sorted(corpus_dir.rglob("*")):
        if not path.is_file() or path.suffix in (".yml", ".txt", ".md"):
            continue
        try:
            m = parse_message(path.read_bytes())
        except MessageRejected:
            continue
        unknown += [f"{path.name}: {d}" for d in m.defects if d.startswith("unknown-charset")]
    assert not unknown, unknown
