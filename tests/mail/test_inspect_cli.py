"""``pixbridge mail inspect``: needs no settings or data directory."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from lifecycle_helpers import mail

from pixbridge.cli import commands  # noqa: F401 - registers the built-in commands
from pixbridge.cli.main import cli


def test_inspect_prints_what_the_intake_understands(tmp_path: Path, monkeypatch: object) -> None:
    body = "It works now.\n\nOn Mon, 12 Jan 2026, PIX Support wrote:\n> old question\n"
    path = tmp_path / "m.eml"
    path.write_bytes(mail(body=body, attachments=(("robot.log", b"ERROR"),)))
    result = CliRunner().invoke(
        cli, ["--data-dir", str(tmp_path / "none"), "mail", "inspect", "--json", str(path)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["verdict"] == "human"
    assert report["sender"] == "john.smith@customer.example"
    assert report["text"] == "It works now."
    assert "old question" in report["trimmed"]
    assert report["attachments"][0]["name"] == "robot.log"
    assert not (tmp_path / "none").exists()
    text = CliRunner().invoke(
        cli, ["mail", "inspect", "--own", "john.smith@customer.example", str(path)]
    )
    assert text.exit_code == 0 and text.output.startswith("verdict:     own")


def test_inspect_names_the_limit_a_message_is_over(tmp_path: Path) -> None:
    path = tmp_path / "big.eml"
    path.write_bytes(b"Subject: " + b"a" * 20_000 + b"\n\nbody\n")
    result = CliRunner().invoke(cli, ["mail", "inspect", str(path)])
    assert result.exit_code == 0
    assert "over a limit" in result.output and "header_too_long" in result.output
