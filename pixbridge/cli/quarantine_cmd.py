"""``pixbridge quarantine``: messages that could not be processed, why, and replaying them."""

from __future__ import annotations

import click

from pixbridge.cli.main import CliState, echo_json
from pixbridge.store.state import MessageRow


def _row(row: MessageRow) -> dict[str, object]:
    return {
        "id": row.id,
        "received_at": row.received_at.isoformat(),
        "sender": row.sender,
        "subject": row.subject,
        "mailbox": row.mailbox,
        "source_ref": row.source_ref,
        "size": row.size,
        "attempts": row.attempts,
        "reason": row.last_error,
    }


@click.group("quarantine")
def quarantine() -> None:
    """Messages kept aside because they could not be processed (the raw bytes are stored)."""


@quarantine.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def list_quarantined(state: CliState, as_json: bool) -> None:
    """List quarantined messages with the reason for each, newest first."""
    rows = [_row(r) for r in state.app().store.messages(state="quarantined")]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("nothing in quarantine")
    for row in rows:
        click.echo(
            f"{row['id']:>6}  {row['received_at']}  {row['sender'] or '?':<30} {row['reason']}"
        )


@quarantine.command("show")
@click.argument("message_id", type=int)
@click.option("--raw", is_flag=True, help="Print the message exactly as received.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def show(state: CliState, message_id: int, raw: bool, as_json: bool) -> None:
    """Show one quarantined message: its reason, history and (with --raw) its bytes."""
    store = state.app().store
    try:
        row = store.message(message_id)
    except KeyError:
        raise click.ClickException(f"no accepted message has id {message_id}") from None
    if raw:
        click.echo(store.raw(message_id).decode("utf-8", "replace"), nl=False)
        return
    events = [e for e in store.events(limit=100_000) if e["message"] == message_id]
    view = _row(row) | {"state": row.state, "events": events}
    if as_json:
        echo_json(view)
        return
    for key, value in view.items():
        if key != "events":
            click.echo(f"{key:>12}: {value}")
    for event in events:
        click.echo(f"  {event['at']}  {event['activity']}  {event['detail']}")


@quarantine.command("replay")
@click.argument("message_id", type=int)
@click.pass_obj
def replay(state: CliState, message_id: int) -> None:
    """Put a quarantined message back into the pipeline (after fixing what was wrong)."""
    app = state.app()
    store = app.store
    try:
        row = store.message(message_id)
    except KeyError:
        raise click.ClickException(f"no accepted message has id {message_id}") from None
    if row.state != "quarantined":
        raise click.ClickException(f"message {message_id} is {row.state}, not quarantined")
    # A message quarantined after its tracker write was attempted keeps its marker and goes back
    # to "registering", so the next attempt looks for that write instead of repeating it.
    next_state = "registering" if row.marker else "accepted"
    with store.db.transaction():
        store.update_message(
            message_id, state=next_state, outcome=None, attempts=0, next_attempt_at=None
        )
        store.log("replayed", at=app.clock.now(), message=message_id, actor="operator")
    click.echo(f"message {message_id} will be processed again on the next pass")
