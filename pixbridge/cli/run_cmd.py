"""``pixbridge run``: the main job."""

from __future__ import annotations

import signal
import sys
from dataclasses import asdict
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from pixbridge.cli.main import CliState, echo_json
from pixbridge.cli.workers import supervise
from pixbridge.lifecycle.instance import InstanceTaken, take_instance
from pixbridge.lifecycle.orchestrator import Orchestrator
from pixbridge.observability.settings import parse_listen

if TYPE_CHECKING:
    from pixbridge.observability.server import MetricsServer


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
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Processes sharing the work (default: [lifecycle] workers).",
)
@click.option("--as-worker", "worker_index", type=int, default=None, hidden=True)
@click.pass_obj
def run(
    state: CliState,
    once: bool,
    as_json: bool,
    listen: str | None,
    workers: int | None,
    worker_index: int | None,
) -> None:
    """Move mail into the tracker and tracker activity back to customers."""
    settings = state.settings()
    workers = settings.lifecycle.workers if workers is None else workers
    if worker_index is None and workers > 1:
        result = supervise(_without_workers(sys.argv[1:]), workers, once=once)
        if once:
            _report(result, as_json)
        return
    app = state.app()
    instance = None
    if worker_index is not None:
        try:
            instance = take_instance(
                settings.data_dir, settings.lifecycle.instance, first=worker_index
            )
        except InstanceTaken as exc:
            raise click.ClickException(str(exc)) from None
    listen = app.settings.observability.listen if listen is None else listen
    if listen and not once:
        try:
            parse_listen(listen)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--metrics") from None
    orchestrator = Orchestrator(app, instance)
    if once:
        try:
            orchestrator.open_store()  # fails fast: the caller (cron, a script) sees exit 1
            outcome = orchestrator.run_once(until_all_idle=worker_index is not None)
        finally:
            orchestrator.close()
        figures = asdict(outcome)
        if worker_index is not None:
            figures["instance"] = orchestrator.instance.name  # for the supervisor's per_worker
        _report(figures, as_json)
        return

    def _stop(signum: int, frame: FrameType | None) -> None:
        orchestrator.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    click.echo(f"pixbridge running (data in {app.settings.data_dir}); Ctrl-C to stop", err=True)
    server: MetricsServer | None = None
    try:
        # The service waits for its database (started before it, restarted under it) with
        # logged retries rather than exiting; a signal still stops it at once.
        if not orchestrator.open_store(wait=True):
            return
        if listen:
            server = _serve_metrics(orchestrator, listen)
        orchestrator.run_forever()
    finally:
        orchestrator.close()
        if server is not None:
            server.stop()


def _serve_metrics(orchestrator: Orchestrator, listen: str) -> MetricsServer:
    """Start /metrics and /healthz on *listen* (they read the store, so it must be open)."""
    # Imported only here: prometheus_client is not needed unless metrics are served.
    from pixbridge.observability.metrics import Metrics
    from pixbridge.observability.server import MetricsServer

    metrics = Metrics.watching(orchestrator)
    try:
        server = MetricsServer(metrics, listen).start()
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {listen} for metrics: {exc}") from None
    where = f"{server.host}:{server.port}"
    click.echo(f"metrics on http://{where}/metrics and http://{where}/healthz", err=True)
    return server


def _without_workers(argv: list[str]) -> list[str]:
    """*argv* without ``--workers N`` / ``--workers=N`` (each worker is one process)."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--workers":
            skip = True
        elif not arg.startswith("--workers="):
            out.append(arg)
    return out


def _report(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        echo_json(result)
        return
    click.echo(_counts(result))
    for worker in result.get("per_worker", ()):
        click.echo(f"  worker {worker['worker']} ({worker['instance']}): {_counts(worker)}")


def _counts(result: dict[str, Any]) -> str:
    return (
        f"accepted {result['accepted']}, processed {result['processed']}, "
        f"tracker changes {result['changes']}, sent {result['sent']}, errors {result['errors']}"
    )
