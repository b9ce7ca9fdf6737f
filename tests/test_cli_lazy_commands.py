"""The command line imports a built-in command only when it runs; ``--help`` imports none.

What a command imports is seen in a fresh interpreter (``python -m pixbridge``, run through
:func:`runpy.run_module`), which writes down ``sys.modules`` however the command ends.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from pixbridge.cli import commands  # noqa: F401 - registers the built-in commands
from pixbridge.cli.main import BUILTIN_COMMANDS, LazyGroup, cli
from pixbridge.testing.imports import command_modules

pytestmark = pytest.mark.usefixtures("clean_environment")

# `pixbridge --help` lists these, in this order (the order click always listed them in).
COMMAND_NAMES = [
    "config",
    "doctor",
    "license",
    "mail",
    "plugins",
    "quarantine",
    "release",
    "requests",
    "run",
]
COMMAND_MODULES = {
    "pixbridge.cli.commands",
    "pixbridge.cli.config_cmd",
    "pixbridge.cli.license_cmd",
    "pixbridge.cli.mail_cmd",
    "pixbridge.cli.plugins_cmd",
    "pixbridge.cli.quarantine_cmd",
    "pixbridge.cli.release_cmd",
    "pixbridge.cli.requests_cmd",
    "pixbridge.cli.run_cmd",
}
METRICS_MODULES = {
    "prometheus_client",
    "pixbridge.observability.metrics",
    "pixbridge.observability.server",
}


def _pixbridge(
    tmp_path: Path, *args: str, columns: int = 80
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run ``pixbridge --data-dir <empty> ARGS`` in a new interpreter: its result and modules."""
    return command_modules(
        tmp_path, "--data-dir", str(tmp_path / "var"), *args, env={"COLUMNS": str(columns)}
    )


def test_requests_list_imports_only_its_own_command(tmp_path: Path) -> None:
    result, modules = _pixbridge(tmp_path, "requests", "list")
    assert result.returncode == 0, result.stderr
    assert "pixbridge.cli.requests_cmd" in modules
    assert modules & (COMMAND_MODULES | METRICS_MODULES) == {"pixbridge.cli.requests_cmd"}


def test_run_once_imports_no_metrics_server(tmp_path: Path) -> None:
    result, modules = _pixbridge(tmp_path, "run", "--once")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("accepted 0, processed 0,")
    assert modules & (COMMAND_MODULES | METRICS_MODULES) == {"pixbridge.cli.run_cmd"}


@pytest.mark.parametrize("columns", [50, 80])
def test_help_lists_every_command_as_before_importing_none(tmp_path: Path, columns: int) -> None:
    result, modules = _pixbridge(tmp_path, "--help", columns=columns)
    assert result.returncode == 0, result.stderr
    assert not modules & (COMMAND_MODULES | METRICS_MODULES)
    listing = result.stdout.partition("\nCommands:\n")[2].splitlines()
    assert [line.split()[0] for line in listing if line[:3].strip()] == COMMAND_NAMES
    # The same text as with every command imported (their own help, shortened by click), in
    # the width click chose for the terminal of the subprocess.
    assert set(COMMAND_NAMES) <= set(cli.commands)
    width = max(min(columns, 80) - 2, 50)
    eager = CliRunner().invoke(cli, ["--help"], prog_name="pixbridge", terminal_width=width)
    assert eager.exit_code == 0, eager.output
    assert result.stdout == eager.stdout


def _lazy_tables() -> list[tuple[str, str, str]]:
    group = cli.commands["requests"]
    assert isinstance(group, LazyGroup)
    top = [(name, path, text) for name, (path, text) in BUILTIN_COMMANDS.items()]
    return top + [
        (name, path, group.lazy_help[name]) for name, path in group.lazy_subcommands.items()
    ]


@pytest.mark.parametrize(("name", "path", "text"), _lazy_tables())
def test_a_listed_help_text_is_the_commands_own(name: str, path: str, text: str) -> None:
    """What ``--help`` shows of a command not imported is what the command itself would show."""
    module, _, attribute = path.rpartition(".")
    command = getattr(sys.modules.get(module) or __import__(module, fromlist=["_"]), attribute)
    assert command.name == name
    assert not command.hidden and not command.deprecated
    stand_in = click.Command(name, help=text)
    for limit in range(10, 130):
        assert stand_in.get_short_help_str(limit) == command.get_short_help_str(limit)


def test_requests_help_lists_wait_build_without_loading_it(tmp_path: Path) -> None:
    result, modules = _pixbridge(tmp_path, "requests", "--help")
    assert result.returncode == 0, result.stderr
    assert "pixbridge.cli.release_cmd" not in modules
    listing = result.stdout.partition("\nCommands:\n")[2].splitlines()
    names = [line.split()[0] for line in listing if line[:3].strip()]
    assert names == ["comment", "complete", "list", "show", "wait-build"]
    assert "  wait-build  Mark request KEY as answered by a build: its customer is..." in listing


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["nosuch"], "Error: No such command 'nosuch'.\n"),
        (["reqests", "list"], "Error: No such command 'reqests'. Did you mean 'requests'?\n"),
        (["requests", "wait-buil"], "No such command 'wait-buil'. Did you mean 'wait-build'?\n"),
    ],
)
def test_an_unknown_command_gets_clicks_error(tmp_path: Path, args: list[str], error: str) -> None:
    if "Did you mean" in error and not hasattr(click, "NoSuchCommand"):
        pytest.skip("click < 8.4 suggests no command name")
    result, _ = _pixbridge(tmp_path, *args)
    assert result.returncode == 2
    assert result.stderr.endswith(error)


def test_a_command_added_to_a_lazy_group_wins_and_is_listed() -> None:
    """As a plugin's command added to ``pixbridge`` replaced a built-in one of its name."""
    group = LazyGroup(
        "g",
        lazy_subcommands={
            "run": "pixbridge.cli.run_cmd.run",
            "mail": "pixbridge.cli.mail_cmd.mail",
        },
        lazy_help={"run": "Built-in run."},
    )

    @group.command("run")
    def plugin_run() -> None:
        """The plugin's run."""
        click.echo("plugin run")

    @group.command("greet")
    def greet() -> None:
        """Say hello."""
        click.echo("hello")

    assert group.list_commands(click.Context(group)) == ["greet", "mail", "run"]
    assert CliRunner().invoke(group, ["run"]).stdout == "plugin run\n"
    assert CliRunner().invoke(group, ["greet"]).stdout == "hello\n"
    listing = CliRunner().invoke(group, ["--help"]).stdout.partition("Commands:\n")[2]
    assert listing.splitlines() == [
        "  greet  Say hello.",
        "  mail   Raw mail: what pixbridge understands of it.",
        "  run    The plugin's run.",
    ]
