"""The command line: version, the plugin listing, commands added by plugins."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import pixbridge
from pixbridge import hookimpl
from pixbridge.cli import commands  # noqa: F401 - registers the built-in commands
from pixbridge.cli.main import cli
from pixbridge.hooks import Hooks
from pixbridge.plugins import load_plugins


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No PIXBRIDGE_* variable leaks in, and the cwd has no settings file."""
    for name in list(os.environ):
        if name.startswith("PIXBRIDGE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"pixbridge, version {pixbridge.__version__}\n"


def test_python_dash_m_runs_the_cli(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXBRIDGE_")}
    result = subprocess.run(
        [sys.executable, "-m", "pixbridge", "--version"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"pixbridge, version {pixbridge.__version__}\n"


def test_builtin_commands_are_registered() -> None:
    assert {"plugins", "config", "doctor"} <= set(cli.commands)
    config = cli.commands["config"]
    assert isinstance(config, click.Group)
    assert "check" in config.commands


def test_plugins_json_lists_the_builtins_with_their_adapters() -> None:
    result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    builtins = {name: row for name, row in rows.items() if row["builtin"]}
    assert {name: row["adapters"] for name, row in builtins.items()} == {
        "pixbridge.builtins.defaults": [],
        "pixbridge.builtins.triage": [],
        "pixbridge.builtins.maildir": [
            {"name": "maildir", "kind": "mail_source"},
            {"name": "maildir-outbox", "kind": "mail_sender"},
        ],
        "pixbridge.builtins.local_tracker": [{"name": "local", "kind": "tracker"}],
        "pixbridge.builtins.registry_license": [{"name": "registry", "kind": "license_validator"}],
        "pixbridge.builtins.certificate_license": [
            {"name": "certificate", "kind": "license_validator"}
        ],
        "pixbridge.builtins.directory_publisher": [
            {"name": "directory", "kind": "release_publisher"}
        ],
    }
    for row in builtins.values():
        assert (row["distribution"], row["version"]) == ("pixbridge", pixbridge.__version__)
        assert row["error"] is None
        assert row["disabled"] is False
    assert "decide_priority" in builtins["pixbridge.builtins.triage"]["hooks"]
    assert builtins["pixbridge.builtins.maildir"]["hooks"] == ["register_adapters"]


def test_plugins_text_output_and_disable_from_settings(tmp_path: Path) -> None:
    settings = tmp_path / "pixbridge.toml"
    settings.write_text(
        '[plugins]\ndisable = ["pixbridge.builtins.directory_publisher"]\n', encoding="utf-8"
    )
    result = CliRunner().invoke(cli, ["--settings", str(settings), "plugins"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    version = pixbridge.__version__
    assert f"pixbridge.builtins.local_tracker  (pixbridge {version})  loaded" in lines
    assert "    adapter  local  [tracker]" in lines
    assert f"pixbridge.builtins.directory_publisher  (pixbridge {version})  disabled" in lines
    assert "    adapter  directory  [release_publisher]" not in lines


def test_plugins_reports_broken_settings_as_a_clean_error(tmp_path: Path) -> None:
    settings = tmp_path / "pixbridge.toml"
    settings.write_text("[plugins]\ndisable = 3\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--settings", str(settings), "plugins"])
    assert result.exit_code == 1
    assert f"{settings}:2 plugins.disable" in result.stderr
    assert "Traceback" not in result.output


class _GreetingPlugin:
    @hookimpl
    def register_commands(self, cli: click.Group) -> None:
        @cli.command("greet")
        @click.argument("name")
        def greet(name: str) -> None:
            """Say hello."""
            click.echo(f"hello, {name}")


def test_a_plugin_can_add_a_command() -> None:
    loaded = load_plugins(autoload=False, extra=[("greeting", _GreetingPlugin())])
    group = click.Group("test-cli")
    Hooks(loaded.manager).register_commands(cli=group)
    assert list(group.commands) == ["greet"]
    result = CliRunner().invoke(group, ["greet", "world"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "hello, world\n"
    # The global group is untouched.
    assert "greet" not in cli.commands


def test_a_worker_restarted_as_the_stop_signal_comes_is_stopped_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``run --workers``: SIGTERM ends every worker, one being restarted at that moment too."""
    from pixbridge.cli import workers

    sleeper = [sys.executable, "-c", "import time; time.sleep(20)"]
    started: list[list[str]] = []

    def command(argv: object, index: int, once: bool) -> list[str]:
        if len(started) == 2:  # worker 1 is being restarted: the stop signal comes now
            os.kill(os.getpid(), signal.SIGTERM)
        started.append(sleeper if len(started) != 1 else [sys.executable, "-c", "exit(3)"])
        return started[-1]

    monkeypatch.setattr(workers, "_command", command)
    monkeypatch.setattr(workers, "_RESTART_DELAY", 0.01)
    began = time.monotonic()
    assert workers.supervise(["run"], 2, once=False) == {}
    assert len(started) == 3  # worker 0, worker 1, worker 1 again
    assert time.monotonic() - began < 15, "the restarted worker was not told to stop"
