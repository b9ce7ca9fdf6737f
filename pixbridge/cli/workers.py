"""``pixbridge run`` with ``[lifecycle] workers`` > 1: one process per worker, supervised.

Each worker is a complete pixbridge instance (``pixbridge run --as-worker N``) sharing the work
through the state store (see :mod:`pixbridge.lifecycle.instance`); the parent only starts them,
passes on a stop signal, restarts one that dies while running for good, and with ``--once``
adds up what the workers did.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
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


def supervise(argv: Sequence[str], workers: int, *, once: bool) -> dict[str, Any]:
    """Run *workers* copies of ``pixbridge`` *argv*; with *once*, their summed pass result."""
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
        for n in range(workers):
            procs[n] = subprocess.Popen(
                _command(argv, n, once), stdout=subprocess.PIPE if once else None, text=True
            )
        if once:
            return _collect(procs)
        while not stopping:
            for n, proc in list(procs.items()):
                code = proc.poll()
                if code is not None and not stopping:
                    click.echo(
                        f"worker {n} stopped with exit status {code}; restarting it", err=True
                    )
                    time.sleep(_RESTART_DELAY)
                    procs[n] = subprocess.Popen(_command(argv, n, once), text=True)
            time.sleep(0.5)
        for proc in procs.values():
            proc.wait()
        return {}
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _collect(procs: dict[int, subprocess.Popen[str]]) -> dict[str, Any]:
    total: dict[str, Any] = dict.fromkeys(_FIELDS, 0)
    failed = []
    for n, proc in procs.items():
        out, _ = proc.communicate()
        if proc.returncode:
            failed.append(f"worker {n} (exit status {proc.returncode})")
            continue
        result = json.loads(out)
        for name in _FIELDS:
            total[name] += int(result.get(name, 0))
    if failed:
        raise click.ClickException("failed: " + ", ".join(failed) + "; see the log above")
    total["workers"] = len(procs)
    return total
