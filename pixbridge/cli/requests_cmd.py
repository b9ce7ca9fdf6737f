"""``pixbridge requests``: list and show requests; the agent's interface to the local tracker."""

from __future__ import annotations

import click

from pixbridge.cli.main import CliState, LazyGroup, echo_json
from pixbridge.errors import PixbridgeError
from pixbridge.lifecycle.views import request_summary, request_view


@click.group(
    "requests",
    cls=LazyGroup,
    # The agent's `wait-build` is a release command (pixbridge.cli.release_cmd), loaded when used.
    lazy_subcommands={"wait-build": "pixbridge.cli.release_cmd.wait_build"},
    lazy_help={
        "wait-build": "Mark request KEY as answered by a build: "
        "its customer is mailed when it is published."
    },
)
def requests() -> None:
    """Requests pixbridge registered."""


@requests.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def list_requests(state: CliState, as_json: bool) -> None:
    """List requests, newest first."""
    rows = [request_summary(r) for r in state.app().store.requests()]
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        click.echo(
            f"{row['key']:<10} {row['status']:<21} {row['priority']:<8} {row['customer']:<30} {row['summary']}"
        )


@requests.command("show")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def show(state: CliState, key: str, as_json: bool) -> None:
    """Show one request with its comments, attachments, links and mail."""
    view = request_view(state.app(), key)
    if view is None:
        raise click.ClickException(f"no request {key!r} was registered by pixbridge")
    if as_json:
        echo_json(view)
        return
    click.echo(f"{view['key']}  [{view['status']}]  {view['summary']}")
    click.echo(
        f"customer: {view['customer']}   priority: {view['priority']} ({view['priority_reason']})"
    )
    click.echo(f"assignee: {view['assignee'] or '-'} ({view['assignee_reason']})")
    if view["links"]:
        click.echo(f"linked:   {', '.join(view['links'])}")
    if view["attachments"]:
        click.echo(f"files:    {', '.join(view['attachments'])}")
    for comment in view["comments"]:
        scope = "public" if comment["public"] else "internal"
        click.echo(f"--- {comment['created_at']} {comment['author']} ({scope})")
        click.echo(comment["body"].rstrip())
    for mail in view["mail"]:
        click.echo(f">>> {mail['purpose']} to {mail['to']}: {mail['state']}")


@requests.command("comment")
@click.argument("key")
@click.argument("text")
@click.option(
    "--public/--internal", required=True, help="Mail it to the customer, or keep it internal."
)
@click.option("--author", default="agent", show_default=True, help="Who writes it.")
@click.pass_obj
def comment(state: CliState, key: str, text: str, public: bool, author: str) -> None:
    """Add an agent's comment in the local tracker (public ones are mailed on the next pass)."""
    try:
        state.app().tracker.comment(key, text, public=public, author=author)
    except (PixbridgeError, NotImplementedError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{'public' if public else 'internal'} comment added to {key}")


@requests.command("complete")
@click.argument("key")
@click.option("--answer", required=True, help="The answer mailed to the customer.")
@click.option("--author", default="agent", show_default=True, help="Who completes it.")
@click.pass_obj
def complete(state: CliState, key: str, answer: str, author: str) -> None:
    """Complete a request in the local tracker with an answer (mailed on the next pass)."""
    try:
        state.app().tracker.complete(key, answer, author=author)
    except (PixbridgeError, NotImplementedError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{key} completed")
