"""``pixbridge run``: the main job."""

from __future__ import annotations

import signal
from dataclasses import asdict
from types import FrameType

import click

from pixbridge.cli.main import CliState, echo_json
from pixbridge.lifecycle.orchestrator import Orchestrator


@click.command("run")
@click.option(
    "--once", is_flag=True, help="One full pass over inbound and outbound work, then exit."
)
@click.option(
    "--json", "as_json", is_flag=True, help="With --once: print what the pass did as JSON."
)
@click.pass_obj
def run(state: CliState, once: bool, as_json: bool) -> None:
    """Move mail into the tracker and tracker activity back to customers."""
    app = state.app()
    orchestrator = Orchestrator(app)
    if once:
        result = orchestrator.run_once()
        if as_json:
            echo_json(asdict(result))
        else:
            click.echo(
                f"accepted {result.accepted}, processed {result.processed}, "
                f"tracker changes {result.changes}, sent {result.sent}, errors {result.errors}"
            )
        return

    def _stop(signum: int, frame: FrameType | None) -> None:
        orchestrator.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    click.echo(f"pixbridge running (data in {app.settings.data_dir}); Ctrl-C to stop", err=True)
    orchestrator.run_forever()


COMMANDS = [run]
