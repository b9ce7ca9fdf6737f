"""The ``pixbridge`` command line."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from pixbridge import __version__
from pixbridge.errors import ConfigError, PixbridgeError
from pixbridge.hooks import Hooks
from pixbridge.lifecycle.app import App, build_app
from pixbridge.observability.logs import Redactor, configure_logging, secret_values
from pixbridge.plugins import load_plugins
from pixbridge.settings import Settings, load_settings
from pixbridge.store.config import store_secrets

__all__ = ["CliState", "cli", "echo_json", "main"]

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


class _Commands(click.Group):
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


def echo_json(value: Any) -> None:
    """Print *value* as indented JSON (for scripts)."""
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
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
    """Entry point of the ``pixbridge`` command."""
    from pixbridge.cli import commands  # noqa: F401 - registers the built-in commands

    try:
        _register_plugin_commands(sys.argv[1:])
    except PixbridgeError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    cli(prog_name="pixbridge")
