"""Benchmark: the lifecycle benchmark's backlog through one pass, state on PostgreSQL vs SQLite.

One instance (one process), embedded default otherwise (Maildir in, local tracker, Maildir out),
the same synthetic backlog as ``bench/lifecycle_bench.py``. Prints messages per second and p50/p99
per message for each store backend. PostgreSQL runs in a fresh schema that is dropped afterwards.

    .venv/bin/python bench/postgres_bench.py [--messages 2000] [--store both|sqlite|postgresql]
        [--url postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

from lifecycle_bench import make_backlog  # noqa: E402 - the same backlog as the SQLite bench


def worker(root: Path, store: dict[str, Any]) -> None:
    """One pass in this process on *store*, timing each message; prints JSON figures."""
    import pixbridge_postgres

    from pixbridge.lifecycle.inbound import Inbound
    from pixbridge.testing.harness import Harness

    durations: list[float] = []
    original = Inbound.process

    def timed(self: Inbound, row: Any) -> None:
        start = time.perf_counter()
        original(self, row)
        durations.append(time.perf_counter() - start)

    Inbound.process = timed  # type: ignore[method-assign]
    h = Harness(
        root,
        templates_dir=REPO / "settings" / "templates",
        extra_plugins=[("postgres", pixbridge_postgres)],
        store=store,
        # The cap would suppress most acknowledgements in a synthetic backlog from 400 senders.
        lifecycle={"acks_per_sender_per_hour": 1000},
    )
    try:
        start = time.perf_counter()
        result = h.run()
        wall = time.perf_counter() - start
        dialect = h.app.store.db.dialect
    finally:
        h.close()
    durations.sort()
    print(
        json.dumps(
            {
                "dialect": dialect,
                "accepted": result.accepted,
                "processed": result.processed,
                "sent": result.sent,
                "wall_s": wall,
                "p50_ms": 1000 * durations[len(durations) // 2],
                "p99_ms": 1000 * durations[int(len(durations) * 0.99) - 1],
            }
        )
    )


def run(messages: int, store: dict[str, Any]) -> dict[str, Any]:
    """A fresh backlog and data directory, one pass in a new process; its figures."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_backlog(root / "var" / "mail" / "inbox", messages)
        out = subprocess.run(
            [sys.executable, __file__, "--worker", str(root), "--store-json", json.dumps(store)],
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode:
            raise SystemExit(f"the benchmark pass failed:\n{out.stderr[-3000:]}")
        figures: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
        return figures


def main() -> None:
    from pixbridge_postgres.testing import fresh_schema, server_url

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--store", choices=["both", "sqlite", "postgresql"], default="both")
    parser.add_argument("--url", default=None, help="PostgreSQL server (default: the tests' one)")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--store-json", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, json.loads(args.store_json))
        return
    print(f"backlog: {args.messages} messages (bench/lifecycle_bench.py's), one instance")
    backends = ["sqlite", "postgresql"] if args.store == "both" else [args.store]
    for backend in backends:
        if backend == "sqlite":
            figures = run(args.messages, {"backend": "sqlite"})
        else:
            with fresh_schema(args.url or server_url()) as (url, schema):
                figures = run(
                    args.messages, {"backend": "postgresql", "url": url, "schema": schema}
                )
        assert figures["dialect"] == backend
        rate = figures["processed"] / figures["wall_s"]
        print(
            f"{backend:<10}  {rate:5.0f} messages/s  (processed {figures['processed']}, sent "
            f"{figures['sent']}, {figures['wall_s']:.2f} s; p50 {figures['p50_ms']:.1f} ms, "
            f"p99 {figures['p99_ms']:.1f} ms per message)"
        )


if __name__ == "__main__":
    main()
