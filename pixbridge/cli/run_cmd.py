"""``pixbridge run``: the main job."""

from __future__ import annotations

import signal
from dataclasses import asdict
from types import FrameType

import click

from pixbridge.cli.main import CliState, echo_json
from pixbridge.lifecycle.orchestrator import Orchestrator
from pixbridge.observability.metrics import Metrics
from pixbridge.observability.server import MetricsServer
from pixbridge.observability.settings import parse_listen


@click.command("run")
@click.option(
    "--once", is_flag=True, help="One full pass over inbound and outbound work, then exit."
)
@click.option(
    "--json", "as_json", is_flag=True, help="With --once: print what the pass did as JSON."
)
@click.option(
    "--metrics",
    "listen",
    metavar="ADDRESS:PORT",
    default=None,
    help="Serve /metrics and /healthz there, e.g. 127.0.0.1:9464 "
    "(default: [observability] listen; empty: off).",
)
@click.pass_obj
def run(state: CliState, once: bool, as_json: bool, listen: str | None) -> None:
    """Move mail into the tracker and tracker activity back to customers."""
    app = state.app()
    orchestrator = Orchestrator(app)
    listen = app.settings.observability.listen if listen is None else listen
    if listen and not once:
        try:
            parse_listen(listen)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--metrics") from None
        metrics = Metrics(app)
        orchestrator.watchers.append(metrics)
        app.plugins.manager.register(metrics, name="pixbridge-metrics")
        try:
            server = MetricsServer(metrics, listen).start()
        except OSError as exc:
            raise click.ClickException(f"cannot listen on {listen} for metrics: {exc}") from None
        where = f"{server.host}:{server.port}"
        click.echo(f"metrics on http://{where}/metrics and http://{where}/healthz", err=True)
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
    try:
        orchestrator.run_forever()
    finally:
        if listen:
            server.stop()


COMMANDS = [run]
