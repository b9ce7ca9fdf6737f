"""``pixbridge plugins``: what is installed, what it provides, what failed to load."""

from __future__ import annotations

import click

from pixbridge.cli.main import CliState, echo_json
from pixbridge.errors import PixbridgeError
from pixbridge.plugins import load_plugins


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def plugins(state: CliState, as_json: bool) -> None:
    """List plugins with their distribution, version, hooks, adapters and load errors."""
    settings = state.settings()
    try:
        loaded = load_plugins(
            disable=settings.plugins.disable,
            required=settings.plugins.required,
            allow=settings.plugins.load,
        )
    except PixbridgeError as exc:
        raise click.ClickException(str(exc)) from None
    kinds = {e.name: e.kind.value for e in loaded.registry.all()}
    rows = []
    for info in loaded.infos:
        row = info.as_dict()
        row["adapters"] = [{"name": n, "kind": kinds.get(n, "?")} for n in info.adapters]
        rows.append(row)
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        status = "disabled" if row["disabled"] else ("ERROR" if row["error"] else "loaded")
        click.echo(f"{row['name']}  ({row['distribution']} {row['version']})  {status}")
        for adapter in row["adapters"]:
            click.echo(f"    adapter  {adapter['name']}  [{adapter['kind']}]")
        if row["hooks"]:
            click.echo(f"    hooks    {', '.join(row['hooks'])}")
        if row["error"]:
            click.echo(f"    error    {row['error']}")
