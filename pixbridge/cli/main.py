"""The ``pixbridge`` command line."""

from __future__ import annotations

import importlib
import json
import logging
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pixbridge import __version__
from pixbridge.errors import ConfigError, PixbridgeError
from pixbridge.hooks import Hooks
from pixbridge.observability.logs import Redactor, configure_logging, secret_values
from pixbridge.plugins import load_plugins
from pixbridge.settings import Settings, load_settings
from pixbridge.store.config import store_secrets

if TYPE_CHECKING:
    from pixbridge.lifecycle.app import App

__all__ = ["BUILTIN_COMMANDS", "CliState", "LazyGroup", "cli", "echo_json", "main"]

log = logging.getLogger("pixbridge.cli")


@dataclass
class CliState:
    """What the global options chose; builds the application on demand."""

    settings_files: tuple[Path, ...] = ()
    data_dir: Path | None = None
    _app: App | None = field(default=None, repr=False)
    redactor: Redactor | None = field(default=None, repr=False)

    def settings(self) -> Settings:
        """Load the settings, turning problems into a clean CLI error."""
        try:
            return load_settings(list(self.settings_files) or None, data_dir=self.data_dir)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None

    def app(self) -> App:
        """The application (plugins loaded, settings validated), built once."""
        if self._app is None:
            # Imported here: commands that need no application (--help, mail inspect) skip it.
            from pixbridge.lifecycle.app import build_app

            try:
                self._app = build_app(self.settings())
            except PixbridgeError as exc:
                raise click.ClickException(str(exc)) from None
            if self.redactor is not None:
                self.redactor.add(secret_values(self._app.adapter_settings.values()))
                self.redactor.add(store_secrets(self._app.store_config))
        return self._app

    def close(self) -> None:
        """Close the application if it was built."""
        if self._app is not None:
            self._app.close()
            self._app = None


class LazyGroup(click.Group):
    """A group whose commands are imported only when they run (click's "LazyGroup" pattern).

    *lazy_subcommands* maps a command's name to ``"module.attribute"``; the module is imported
    when that command is looked up. *lazy_help* gives the help text of such a command, so that
    ``--help`` lists it without importing it (a command missing from it is imported to list).
    A command added with :meth:`add_command` (a plugin's) wins over a lazy one of that name.
    """

    def __init__(
        self,
        *args: Any,
        lazy_subcommands: Mapping[str, str] | None = None,
        lazy_help: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_subcommands = dict(lazy_subcommands or {})
        self.lazy_help = dict(lazy_help or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_subcommands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in self.lazy_subcommands:
            command = self.load_lazy_command(cmd_name)
        return command

    def load_lazy_command(self, cmd_name: str) -> click.Command:
        """Import the lazy command *cmd_name* and return it."""
        module_name, _, attribute = self.lazy_subcommands[cmd_name].rpartition(".")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.lazy_subcommands[cmd_name]} is not a click command")
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            # click >= 8.4 suggests a name ("Did you mean ...?") from the commands added only.
            no_such = getattr(click, "NoSuchCommand", None)
            if no_such is None or not isinstance(exc, no_such):
                raise
            possibilities = self.list_commands(ctx)
            raise no_such(exc.command_name, possibilities=possibilities, ctx=ctx) from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List the commands as click does, a lazy one by its help text, not imported."""
        listed: dict[str, click.Command] = {}
        for name in self.list_commands(ctx):
            if name in self.lazy_help and name not in self.commands:
                listed[name] = click.Command(name, help=self.lazy_help[name])
            elif (command := self.get_command(ctx, name)) is not None:
                listed[name] = command
        click.Group(self.name, commands=listed).format_commands(ctx, formatter)


class _Commands(LazyGroup):
    """The top-level group: an error pixbridge raises on purpose ends any command cleanly."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PixbridgeError as exc:
            # Its message says what to do (the state store unreachable, a setting wrong), so
            # one "Error:" line and exit 1 rather than a traceback; -vv logs the traceback.
            log.debug("%s", exc, exc_info=True)
            text = str(exc)
            state = ctx.find_object(CliState)
            if state is not None and state.redactor is not None:
                text = state.redactor.redact(text)  # a driver's message might quote the URL
            raise click.ClickException(text) from None


# The built-in commands, imported only when one runs: name -> (module.attribute, its help
# text, which `pixbridge --help` lists without importing the command; a test keeps each the
# same as the command's own).
BUILTIN_COMMANDS: dict[str, tuple[str, str]] = {
    "plugins": (
        "pixbridge.cli.plugins_cmd.plugins",
        "List plugins with their distribution, version, hooks, adapters and load errors.",
    ),
    "config": ("pixbridge.cli.config_cmd.config", "Inspect the settings."),
    "doctor": (
        "pixbridge.cli.config_cmd.doctor",
        "Check every configured adapter (connection, credentials, names) and say what is wrong.",
    ),
    "run": (
        "pixbridge.cli.run_cmd.run",
        "Move mail into the tracker and tracker activity back to customers.",
    ),
    "requests": ("pixbridge.cli.requests_cmd.requests", "Requests pixbridge registered."),
    "mail": ("pixbridge.cli.mail_cmd.mail", "Raw mail: what pixbridge understands of it."),
    "release": (
        "pixbridge.cli.release_cmd.release",
        "Publish distributions and see what was published where.",
    ),
    "license": (
        "pixbridge.cli.license_cmd.license_group",
        "Licences: check kits, issue and verify support certificates.",
    ),
    "quarantine": (
        "pixbridge.cli.quarantine_cmd.quarantine",
        "Messages kept aside because they could not be processed (the raw bytes are stored).",
    ),
}


def echo_json(value: Any) -> None:
    """Print *value* as indented JSON (for scripts)."""
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


@click.group(
    cls=_Commands,
    context_settings={"help_option_names": ["-h", "--help"]},
    lazy_subcommands={name: path for name, (path, _) in BUILTIN_COMMANDS.items()},
    lazy_help={name: text for name, (_, text) in BUILTIN_COMMANDS.items()},
)
@click.version_option(__version__, prog_name="pixbridge")
@click.option(
    "--settings",
    "settings_files",
    type=click.Path(path_type=Path),
    multiple=True,
    envvar="PIXBRIDGE_SETTINGS",
    help="Settings file (TOML); repeat to layer files. Default: settings/pixbridge.toml.",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Data directory for all runtime state (default ./var; env PIXBRIDGE_DATA_DIR).",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    envvar="PIXBRIDGE_LOG_FORMAT",
    help="Log lines as text or as one JSON object per line (secrets are masked either way).",
)
@click.pass_context
def cli(
    ctx: click.Context,
    settings_files: tuple[Path, ...],
    data_dir: Path | None,
    verbose: int,
    log_format: str,
) -> None:
    """pixbridge: support mailbox <-> tracker bridge, with licence checks and releases."""
    level = logging.WARNING - 10 * verbose
    redactor = configure_logging(max(level, logging.DEBUG), log_format)
    if isinstance(ctx.obj, CliState):
        return  # a caller (a test) supplied the state
    state = CliState(settings_files, data_dir, redactor=redactor)
    ctx.obj = state
    ctx.call_on_close(state.close)


def _settings_files_from_argv(argv: list[str]) -> list[Path] | None:
    """The ``--settings`` files on the command line, read before click parses it.

    Plugin commands must be registered before parsing, and which plugins load depends on the
    settings the user named.
    """
    files = []
    for n, arg in enumerate(argv):
        if arg == "--settings" and n + 1 < len(argv):
            files.append(Path(argv[n + 1]))
        elif arg.startswith("--settings="):
            files.append(Path(arg.partition("=")[2]))
    return files or None


def _register_plugin_commands(argv: list[str]) -> None:
    """Let plugins add commands, with the plugin selection of the settings in use."""
    try:
        settings = load_settings(_settings_files_from_argv(argv))
        disable, required, allow = (
            settings.plugins.disable,
            settings.plugins.required,
            settings.plugins.load,
        )
    except ConfigError:
        # Broken settings are reported by the command that needs them, not here.
        disable, required, allow = [], [], None
    plugins = load_plugins(disable=disable, required=required, allow=allow)
    Hooks(plugins.manager).register_commands(cli=cli)


def main() -> None:
    """Entry point of the ``pixbridge`` command (a built-in command is imported when it runs)."""
    try:
        _register_plugin_commands(sys.argv[1:])
    except PixbridgeError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    cli(prog_name="pixbridge")
