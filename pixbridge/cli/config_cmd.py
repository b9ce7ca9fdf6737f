"""``pixbridge config check`` and ``pixbridge doctor``."""

from __future__ import annotations

import sys

import click

from pixbridge.adapters import AdapterKind
from pixbridge.cli.main import CliState, echo_json
from pixbridge.errors import AdapterError, ConfigError, PixbridgeError
from pixbridge.lifecycle.app import App, check_configuration
from pixbridge.observability.credentials import Urgency, credential_expiries, describe, urgency
from pixbridge.plugins import load_plugins
from pixbridge.settings import load_settings


@click.group("config")
def config() -> None:
    """Inspect the settings."""


@config.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def check(state: CliState, as_json: bool) -> None:
    """Report every problem in the settings at once, with the file and key of each."""
    problems = []
    files: list[str] = []
    try:
        settings = load_settings(list(state.settings_files) or None, data_dir=state.data_dir)
        files = [str(f) for f in settings.settings_files]
        loaded = load_plugins(
            disable=settings.plugins.disable,
            required=settings.plugins.required,
            allow=settings.plugins.load,
        )
        problems = check_configuration(settings, loaded)[1]
    except ConfigError as exc:
        problems = exc.problems
    except PixbridgeError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        echo_json(
            {
                "ok": not problems,
                "files": files,
                "problems": [{"where": p.where, "message": p.message} for p in problems],
            }
        )
    elif problems:
        click.echo(f"{len(problems)} problem(s) in the settings:", err=True)
        for problem in problems:
            click.echo(f"  - {problem}", err=True)
    else:
        click.echo(f"settings OK ({', '.join(files) or 'defaults only'})")
    if problems:
        sys.exit(1)


@click.command("doctor")
@click.pass_obj
def doctor(state: CliState) -> None:
    """Check every configured adapter (connection, credentials, names) and say what is wrong."""
    app = state.app()
    failures = 0
    pipeline = app.settings.pipeline
    wanted: list[tuple[str, str, AdapterKind]] = [
        ("mail source", pipeline.mail_source, AdapterKind.MAIL_SOURCE),
        ("mail sender", pipeline.mail_sender, AdapterKind.MAIL_SENDER),
        ("tracker", pipeline.tracker, AdapterKind.TRACKER),
    ]
    wanted += [
        ("licence validator", n, AdapterKind.LICENSE_VALIDATOR) for n in pipeline.license_validators
    ]
    wanted += [("publisher", n, AdapterKind.RELEASE_PUBLISHER) for n in pipeline.publishers]
    try:
        db = app.store.db
        click.echo(f"ok   store {db.describe()} (schema version {db.schema_version})")
    except PixbridgeError as exc:
        failures += 1
        click.echo(f"FAIL store {app.settings.store.backend}:")
        click.echo(f"       {exc}")
    for label, name, kind in wanted:
        try:
            problems = app.adapter(name, kind).check()
        except AdapterError as exc:
            problems = [str(exc)]
        if problems:
            failures += 1
            click.echo(f"FAIL {label} {name}:")
            for problem in problems:
                click.echo(f"       {problem}")
        else:
            click.echo(f"ok   {label} {name}")
    failures += _credentials(app)
    if failures:
        sys.exit(1)


def _credentials(app: App) -> int:
    """List the known credential expiries; warn within the window; the number expired."""
    now = app.clock.now()
    days = app.settings.observability.credential_warning_days
    expired = 0
    for expiry in credential_expiries(app):
        level = urgency(expiry, now, days)
        prefix = {Urgency.OK: "ok  ", Urgency.SOON: "WARN", Urgency.EXPIRED: "FAIL"}[level]
        expired += level is Urgency.EXPIRED
        line = describe(expiry, now, advice=level is not Urgency.OK)
        click.echo(f"{prefix} credential {line}")
    return expired
