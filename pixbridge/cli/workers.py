"""``pixbridge run`` with ``[lifecycle] workers`` > 1: one process per worker, supervised.

Each worker is a complete pixbridge instance (``pixbridge run --as-worker N``) sharing the work
through the state store (see :mod:`pixbridge.lifecycle.instance`); the parent only starts them,
passes on a stop signal, restarts one that dies while running for good, and with ``--once``
adds up what the workers did and keeps each one's figures.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from types import FrameType
from typing import Any

import click

__all__ = ["supervise"]

_RESTART_DELAY = 2.0
_FIELDS = ("accepted", "processed", "mailbox_acknowledged", "changes", "sent", "errors")


def _command(argv: Sequence[str], index: int, once: bool) -> list[str]:
    args = [sys.executable, "-m", "pixbridge", *argv, "--as-worker", str(index)]
    if once:
        args.append("--json")
    if index:
        args += ["--metrics", ""]  # one metrics endpoint, served by worker 0
    return args


class _OnceWorker:
    """One worker of a ``--once`` pass: its JSON result read from stdout, its log passed on
    line by line, and its closing ``Error:`` kept back for the supervisor's own message."""

    def __init__(self, args: list[str]) -> None:
        self.proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self._error: list[str] = []
        self._reader = threading.Thread(target=self._pass_on, daemon=True)
        self._reader.start()

    def _pass_on(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            # click prints a command's error last, starting "Error: "; everything from there
            # on is that error (a settings error lists its problems on the lines after).
            if self._error or line.startswith("Error: "):
                self._error.append(line)
            else:
                sys.stderr.write(line)
                sys.stderr.flush()

    def finish(self) -> tuple[int, str, str]:
        """Wait for the worker: its exit status, its standard output and its error (or "")."""
        assert self.proc.stdout is not None
        out = self.proc.stdout.read()
        code = self.proc.wait()
        self._reader.join()
        error = "".join(self._error).removeprefix("Error: ").strip()
        if not code and error:  # not its closing error after all: show it as it came
            sys.stderr.write("".join(self._error))
            error = ""
        return code, out, error


def supervise(argv: Sequence[str], workers: int, *, once: bool) -> dict[str, Any]:
    """Run *workers* copies of ``pixbridge`` *argv*; with *once*, their pass results.

    :returns: with *once*, the summed counts, ``workers`` (how many) and ``per_worker`` (each
        worker's own counts and instance name); otherwise nothing.
    :raises click.ClickException: with *once*, a worker failed; says why (once, if every
        worker failed for the same reason).
    """
    procs: dict[int, subprocess.Popen[str]] = {}
    stopping = False

    def _stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)

    previous = {s: signal.signal(s, _stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        if once:
            started: dict[int, _OnceWorker] = {}
            for n in range(workers):
                started[n] = _OnceWorker(_command(argv, n, once))
                procs[n] = started[n].proc
            return _collect(started)
        for n in range(workers):
            procs[n] = subprocess.Popen(_command(argv, n, once), text=True)
        while not stopping:
            for n, proc in list(procs.items()):
                code = proc.poll()
                if code is None or stopping:
                    continue
                click.echo(f"worker {n} stopped with exit status {code}; restarting it", err=True)
                time.sleep(_RESTART_DELAY)
                if not stopping:
                    procs[n] = subprocess.Popen(_command(argv, n, once), text=True)
            time.sleep(0.5)
        # The signal may have come between a restart and its entry in *procs*: tell every
        # worker still running (telling one twice is harmless), then wait for them all.
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            proc.wait()
        return {}
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _collect(workers: dict[int, _OnceWorker]) -> dict[str, Any]:
    total: dict[str, Any] = dict.fromkeys(_FIELDS, 0)
    per_worker: list[dict[str, Any]] = []
    failed: dict[int, tuple[int, str]] = {}
    for n, worker in workers.items():
        code, out, error = worker.finish()
        if code:
            failed[n] = (code, error)
            continue
        result = json.loads(out)
        counts = {name: int(result.get(name, 0)) for name in _FIELDS}
        for name in _FIELDS:
            total[name] += counts[name]
        per_worker.append({"worker": n, "instance": result.get("instance"), **counts})
    if failed:
        raise click.ClickException(_failure(failed, len(workers)))
    total["workers"] = len(workers)
    total["per_worker"] = per_worker
    return total


def _failure(failed: dict[int, tuple[int, str]], workers: int) -> str:
    """What went wrong, each reason once: every worker failing alike is one reason, not N."""
    reasons = {error for _, error in failed.values()}
    if len(failed) == workers and len(reasons) == 1 and "" not in reasons:
        return f"all {workers} workers failed: {reasons.pop()}"
    return "; ".join(
        f"worker {n} failed (exit status {code}): {error or 'see the log above'}"
        for n, (code, error) in sorted(failed.items())
    )
