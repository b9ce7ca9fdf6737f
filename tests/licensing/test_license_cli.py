"""``pixbridge license``: keygen, issue, verify, check."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from lifecycle_helpers import REPO

from pixbridge.cli import commands  # noqa: F401 - registers the built-in commands
from pixbridge.cli.license_cmd import parse_at
from pixbridge.cli.main import cli


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIXBRIDGE_SETTINGS", raising=False)


def _keygen(tmp_path: Path, kid: str) -> tuple[Path, str]:
    result = CliRunner().invoke(cli, ["license", "keygen", "--out", str(tmp_path), "--key-id", kid])
    assert result.exit_code == 0, result.output
    hex_key = (tmp_path / f"{kid}.pub").read_text().split()[1]
    return tmp_path / f"{kid}.key", hex_key


def _issue(tmp_path: Path, key: Path, kid: str, out: str, *extra: str) -> Path:
    args = ["license", "issue", "--key", str(key), "--key-id", kid, "--serial", "PTM-2024-0017"]
    args += ["--product", "PIX Task Mining", "--customer", "Northwind", "--from", "2025-01-01"]
    args += ["--until", "2099-12-31", "--out", str(tmp_path / out), *extra]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "PRIVATE" not in result.output
    return tmp_path / out


def test_keygen_issue_verify(tmp_path: Path) -> None:
    key, hex_key = _keygen(tmp_path, "vendor-2026a")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert hex_key in (tmp_path / "vendor-2026a.pub").read_text()
    cert = _issue(tmp_path, key, "vendor-2026a", "kit.pixcert", "--dongle", "guardant:0x1A2B3C4D")
    assert b"PRIVATE" not in cert.read_bytes()
    pub = str(tmp_path / "vendor-2026a.pub")
    runner = CliRunner()
    ok = runner.invoke(cli, ["license", "verify", str(cert), "--public-key", pub, "--json"])
    assert ok.exit_code == 0, ok.output
    answer = json.loads(ok.stdout)
    assert answer["verdict"] == "valid" and answer["support_until"] == "2099-12-31"
    assert answer["evidence"]["dongle"] == "guardant:0x1A2B3C4D"
    late = runner.invoke(
        cli, ["license", "verify", str(cert), "--public-key", pub, "--at", "2100-01-01"]
    )
    assert late.exit_code == 1 and "support_expired" in late.output
    _keygen(tmp_path / "other", "vendor-2027a")
    untrusted = runner.invoke(
        cli,
        [
            "license",
            "verify",
            str(cert),
            "--public-key",
            str(tmp_path / "other" / "vendor-2027a.pub"),
        ],
    )
    assert untrusted.exit_code == 1 and "cert_untrusted_key" in untrusted.output


def test_keygen_never_overwrites(tmp_path: Path) -> None:
    _keygen(tmp_path, "k1")
    again = CliRunner().invoke(cli, ["license", "keygen", "--out", str(tmp_path), "--key-id", "k1"])
    assert again.exit_code == 1 and "exists" in again.output


def test_issue_refuses_bad_input_clearly(tmp_path: Path) -> None:
    key, _ = _keygen(tmp_path, "k1")
    runner = CliRunner()
    base = [
        "license",
        "issue",
        "--key",
        str(key),
        "--key-id",
        "k1",
        "--serial",
        "S",
        "--product",
        "P",
    ]
    base += ["--customer", "C", "--out", str(tmp_path / "x.pixcert")]
    bad_day = runner.invoke(cli, [*base, "--until", "31.12.2026"])
    assert bad_day.exit_code == 2 and "YYYY-MM-DD" in bad_day.output
    backwards = runner.invoke(cli, [*base, "--until", "2024-01-01", "--from", "2025-01-01"])
    assert backwards.exit_code == 1 and "before it starts" in backwards.output
    (tmp_path / "junk.key").write_text("not a key")
    junk = runner.invoke(
        cli, [*base[:2], "--key", str(tmp_path / "junk.key"), *base[4:], "--until", "2026-01-01"]
    )
    assert junk.exit_code == 1 and "keygen" in junk.output and "not a key" not in junk.output


def test_check_runs_the_configured_chain(tmp_path: Path) -> None:
    key, hex_key = _keygen(tmp_path, "vendor-2026a")
    folder = tmp_path / "certs"
    folder.mkdir()
    _issue(folder, key, "vendor-2026a", "a.pixcert", "--dongle", "guardant:0x1A2B3C4D")
    settings = tmp_path / "pixbridge.toml"
    settings.write_text(
        f"""
[pipeline]
license_validators = ["registry", "certificate"]

[adapters.registry]
path = "{REPO / "settings" / "licenses.toml"}"

[adapters.certificate]
directory = "{folder}"

[adapters.certificate.trusted_keys]
"vendor-2026a" = "{hex_key}"
"""
    )
    runner = CliRunner()
    base = ["--settings", str(settings), "--data-dir", str(tmp_path / "var"), "license", "check"]
    expired = runner.invoke(cli, [*base, "PPS-2022-0042", "--json"])
    assert expired.exit_code == 1, expired.output
    assert json.loads(expired.stdout)["codes"] == ["support_expired"]
    valid = runner.invoke(cli, [*base, "PTM-2024-0017"])
    assert valid.exit_code == 0 and "allowed" in valid.output
    unknown = runner.invoke(cli, [*base, "NOPE-1", "--json"])
    assert unknown.exit_code == 1 and json.loads(unknown.stdout)["rule"] == "unknown"
    mismatch = runner.invoke(cli, [*base, "PTM-2024-0017", "--key", "guardant:0x1"])
    assert mismatch.exit_code == 1 and "key_mismatch" in mismatch.output


def test_parse_at() -> None:
    assert parse_at("2026-01-15").isoformat() == "2026-01-15T12:00:00+00:00"
    assert parse_at("2026-01-15T09:00:00+03:00").utcoffset() is not None
    assert parse_at("2026-01-15T09:00:00").tzinfo is not None
