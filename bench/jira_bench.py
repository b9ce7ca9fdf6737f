"""Benchmark: registering new requests in Jira (the fake, with latency added to every call).

    .venv/bin/python bench/jira_bench.py [--requests 1000] [--concurrency 8] [--latency 0.05]

Registers N new requests (every tenth with an attachment) through JiraTracker.create_requests,
which runs ``concurrency`` creates at once (the orchestrator itself registers one message at a
time). Prints requests per second, HTTP calls per request, and the ratio to the bound the
configured concurrency allows: concurrency / (mean time the work of one request needs), where
that time is (HTTP calls the request needs) x latency + the per-issue pacing it must wait.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from pixbridge_jira import JiraTracker
from pixbridge_jira.settings import JiraSettings
from pixbridge_jira.testing import FakeJira, settings_for

from pixbridge.adapters import AdapterContext
from pixbridge.models import Attachment, RequestDraft


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added to every call")
    parser.add_argument("--interval", type=float, default=1.0, help="issue_write_interval")
    parser.add_argument("--deployment", choices=["datacenter", "cloud"], default="datacenter")
    args = parser.parse_args()

    drafts = [
        RequestDraft(
            marker=f"pb-bench-{n:06d}",
            summary=f"Request {n}",
            description="It crashes.\n" * 5,
            customer=f"c{n}@example.com",
            language="en",
            priority="normal",
            attachments=(Attachment("trace.log", "text/plain", b"x" * 2048),)
            if n % 10 == 0
            else (),
        )
        for n in range(args.requests)
    ]
    with FakeJira(cloud=args.deployment == "cloud", latency=args.latency) as fake:
        settings = settings_for(
            fake, concurrency=args.concurrency, issue_write_interval=args.interval
        )
        with tempfile.TemporaryDirectory() as tmp:
            tracker = JiraTracker(JiraSettings(**settings), AdapterContext(data_dir=Path(tmp)))
            tracker.open()
            started = time.perf_counter()
            keys = tracker.create_requests(drafts)
            elapsed = time.perf_counter() - started
        assert len(set(keys)) == len(drafts) == len(fake.state.issues)
        calls = len(fake.received)

    needed_calls = sum(1 + len(d.attachments) for d in drafts)
    # A request with files waits for the pacing interval between its create and each upload.
    needed_time = sum(
        (1 + len(d.attachments)) * args.latency
        + len(d.attachments) * max(0.0, args.interval - args.latency)
        for d in drafts
    )
    bound = args.concurrency * len(drafts) / needed_time
    rate = len(drafts) / elapsed
    print(f"deployment            {args.deployment}")
    print(
        f"requests              {len(drafts)} ({sum(1 for d in drafts if d.attachments)} with an attachment)"
    )
    print(f"concurrency           {args.concurrency}")
    print(
        f"latency per call      {args.latency * 1000:.0f} ms; issue_write_interval {args.interval:g} s"
    )
    print(f"elapsed               {elapsed:.2f} s")
    print(f"requests/s            {rate:.1f}")
    print(f"HTTP calls/request    {calls / len(drafts):.3f} (the work needs {needed_calls / len(drafts):.3f}; "
          f"{calls - needed_calls} extra: one serverInfo per worker thread)")  # fmt: skip
    print(f"bound (requests/s)    {bound:.1f}")
    print(f"ratio to bound        {rate / bound:.2f}")


if __name__ == "__main__":
    main()
