"""``pixbridge mail``: look at raw messages the way the intake sees them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from pixbridge.cli.main import echo_json
from pixbridge.mail.inspect import OVER_A_LIMIT, inspect_message


@click.group("mail")
def mail() -> None:
    """Raw mail: what pixbridge understands of it."""


@mail.command("inspect")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--own",
    "own_addresses",
    multiple=True,
    metavar="ADDRESS",
    help="An address pixbridge sends from (repeat); mail from it is screened as 'own'.",
)
def inspect(file: Path, as_json: bool, own_addresses: tuple[str, ...]) -> None:
    """Parse, screen and trim one raw message FILE (.eml, .box, mbox) and print the result.

    Needs no settings and no data directory.
    """
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise click.ClickException(f"cannot read {file}: {exc.strerror}") from None
    report = inspect_message(raw, own_addresses=own_addresses)
    if as_json:
        echo_json(report)
        return
    _print(report)


def _print(report: dict[str, Any]) -> None:
    click.echo(f"verdict:     {report['verdict']} ({report['reason']})")
    if report["verdict"] == OVER_A_LIMIT:
        click.echo(f"code:        {report['code']}   size: {report['size']} bytes")
        return
    sender = report["sender"] or "-"
    if report["sender_name"]:
        sender = f"{report['sender_name']} <{sender}>"
    click.echo(f"from:        {sender}")
    click.echo(f"to:          {', '.join(report['recipients']) or '-'}")
    click.echo(f"subject:     {report['subject']}")
    click.echo(f"date:        {report['date'] or '-'}")
    click.echo(f"language:    {report['language'] or '-'}")
    for label, key in (("attachments", "attachments"), ("inline", "inline_images")):
        for item in report[key]:
            click.echo(f"{label + ':':<12} {item['name']} ({item['type']}, {item['size']} bytes)")
            label = ""
    if report["defects"]:
        click.echo(f"defects:     {', '.join(report['defects'])}")
    click.echo("--- text (description or comment)")
    click.echo(report["text"].rstrip())
    if report["trimmed"]:
        click.echo("--- trimmed off")
        click.echo(report["trimmed"].rstrip())
