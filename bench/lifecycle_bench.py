"""Benchmark: a backlog of 2,000 messages through one `pixbridge run --once` pass.

The embedded default as shipped: ``settings/pixbridge.toml`` (Maildir in, local tracker, Maildir
out, the licence registry checking each new request), with only the per-sender acknowledgement
cap raised. Mixed sizes, a tenth with attachments. Prints messages per second, p50/p99 time per
message (parse -> register -> acknowledgement queued: the first look at accept time, which parses
and ranks by urgency, plus processing) and the peak RSS of the process that ran the pass. The
figures are printed only if every message was registered and acknowledged.

    .venv/bin/python bench/lifecycle_bench.py [--messages 2000] [--workers N]
        [--store sqlite|postgresql] [--url URL] [--command]

With --command the pass is the real command, ``pixbridge run --once --workers N`` on the shipped
settings (only the per-sender acknowledgement cap raised), timed from outside from process start
to exit: the rate includes start-up, and there are no per-message times.

Targets (2-core machine): >= 200 messages/s, p99 < 50 ms, peak RSS < 200 MB.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def make_backlog(inbox: Path, count: int, seed: int = 7) -> int:
    """Write *count* customer messages into the Maildir *inbox*; returns total bytes."""
    rng = random.Random(seed)
    for sub in ("new", "cur", "tmp"):
        (inbox / sub).mkdir(parents=True, exist_ok=True)
    words = [
        "export",
        "crash",
        "licence",
        "dongle",
        "window",
        "process",
        "map",
        "lane",
        "project",
        "error",
        "log",
        "build",
    ]
    total = 0
    for n in range(count):
        msg = EmailMessage()
        msg["From"] = f"customer{n % 400}@client{n % 97}.example"
        msg["To"] = "support@pix.example"
        msg["Subject"] = f"Problem {n}: " + " ".join(rng.choices(words, k=5))
        msg["Date"] = "Mon, 12 Jan 2026 09:14:05 +0000"
        msg["Message-ID"] = f"<bench-{n}@client.example>"
        size = rng.choice([300, 1_000, 3_000, 10_000, 40_000])
        body = " ".join(rng.choices(words, k=size // 6))
        msg.set_content("Hello,\n\n" + body + "\n\nWindows 11 Pro 23H2\n")
        if n % 10 == 0:
            log = os.urandom(rng.choice([2_000, 20_000, 200_000]))
            msg.add_attachment(
                log, maintype="application", subtype="octet-stream", filename=f"log-{n}.bin"
            )
        raw = msg.as_bytes(policy=SMTP)
        total += len(raw)
        path = inbox / "new" / f"{n:06d}.bench"
        path.write_bytes(raw)
        os.utime(path, ns=((n + 1) * 10**6, (n + 1) * 10**6))
    return total


SETTINGS = REPO / "settings" / "pixbridge.toml"
"""The shipped settings: its relative paths (templates, licence registry) are read from REPO."""


def bench_settings(root: Path, workers: int, store: dict[str, str]) -> Any:
    """The shipped settings with the data in *root*: what ``pixbridge run`` reads there."""
    from pixbridge.settings import load_settings

    return load_settings(
        [SETTINGS],
        data_dir=root / "var",
        # The cap would suppress most acknowledgements in a synthetic backlog from 400 senders.
        lifecycle={"acks_per_sender_per_hour": ACK_CAP, "workers": workers},
        store=store,
    )


ACK_CAP = 1000


def check_outcome(root: Path, store: dict[str, str], messages: int) -> str:
    """What became of the backlog, from the state store; exits if any message is unfinished.

    A pass whose messages failed (a missing template, an unreadable registry) would otherwise
    print a fine rate for work it did not do.
    """
    from pixbridge.lifecycle.app import build_app

    app = build_app(bench_settings(root, 1, store), autoload=store["backend"] != "sqlite")
    try:
        db = app.store.db
        states = dict(db.execute("SELECT state, count(*) FROM messages GROUP BY state").fetchall())
        requests = db.execute("SELECT count(*) FROM requests").fetchone()[0]
        unsent = db.execute("SELECT count(*) FROM outbox WHERE state != 'sent'").fetchone()[0]
        acks = db.execute(
            "SELECT count(*) FROM outbox WHERE purpose = 'acknowledgement' AND state = 'sent'"
        ).fetchone()[0]
        told = db.execute("SELECT count(*) FROM messages WHERE mailbox_acked = 1").fetchone()[0]
    finally:
        app.close()
    # What a customer and the mailbox see: a file per mail in the sent Maildir, the inbox empty.
    mail = root / "var" / "mail"
    files = sum(1 for sub in ("new", "cur") for _ in (mail / "sent" / sub).iterdir())
    left = sum(1 for sub in ("new", "cur") for _ in (mail / "inbox" / sub).iterdir())
    summary = (
        f"{states.get('done', 0)} of {messages} messages done, {requests} requests, "
        f"{acks} acknowledgements sent ({files} files in the sent Maildir), {unsent} mails "
        f"unsent, {told} messages moved out of the inbox ({left} left)"
    )
    finished = states.get("done", 0) == requests == acks == files == told == messages
    if not finished or unsent or left:
        raise SystemExit(f"the pass did not finish its work: {summary}; states {states}")
    return summary


def worker(
    root: Path, index: int, workers: int, store: dict[str, str], profile: Path | None = None
) -> None:
    """Run one pass in this process as instance *index*, timing each message; print JSON.

    With *profile*, the pass runs under cProfile and its statistics go to ``profile/worker-N``.
    """
    from pixbridge.lifecycle.app import build_app
    from pixbridge.lifecycle.inbound import Inbound
    from pixbridge.lifecycle.instance import take_instance
    from pixbridge.lifecycle.mailbox import MailboxStage
    from pixbridge.lifecycle.orchestrator import Orchestrator

    settings = bench_settings(root, workers, store)
    # The PostgreSQL backend is a plugin; the embedded default needs none.
    app = build_app(settings, autoload=store["backend"] != "sqlite")
    # Seconds per message by Message-ID: the accept stage parses each message and decides its
    # priority (the first look), processing does the rest; with several workers the two parts
    # of one message may be timed in different processes.
    looks: dict[str, float] = {}
    durations: dict[str, float] = {}
    original_look, original_process = MailboxStage._first_look, Inbound.process

    def timed_look(self: MailboxStage, raw: bytes, now: Any) -> Any:
        start = time.perf_counter()
        look = original_look(self, raw, now)
        if look.message is not None and look.message.message_id:
            looks[look.message.message_id] = time.perf_counter() - start
        return look

    def timed_process(self: Inbound, row: Any) -> None:
        start = time.perf_counter()
        original_process(self, row)
        durations[row.message_id or f"#{row.id}"] = time.perf_counter() - start

    # Parses per message: one at accept time, another where a worker that did not accept the
    # message processes it (the accepting worker keeps its parse only in its own memory).
    from pixbridge.lifecycle import inbound as inbound_module
    from pixbridge.lifecycle import mailbox as mailbox_module

    parses = [0]
    real_parse = inbound_module.parse_message

    def counted_parse(raw: bytes, **kwargs: Any) -> Any:
        parses[0] += 1
        return real_parse(raw, **kwargs)

    inbound_module.parse_message = counted_parse  # type: ignore[assignment]
    mailbox_module.parse_message = counted_parse  # type: ignore[assignment]
    MailboxStage._first_look = timed_look  # type: ignore[method-assign]
    Inbound.process = timed_process  # type: ignore[method-assign]
    # As `pixbridge run --once` with [lifecycle] workers = N: one instance per process.
    orchestrator = Orchestrator(app, take_instance(settings.data_dir, first=index))
    profiler = cProfile.Profile() if profile else None
    cpu_start = time.process_time()
    usage_start = resource.getrusage(resource.RUSAGE_SELF)
    start = time.time()
    if profiler:
        profiler.enable()
    result = orchestrator.run_once(until_all_idle=workers > 1)
    if profiler:
        profiler.disable()
    end = time.time()
    cpu = time.process_time() - cpu_start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    system_cpu = usage.ru_stime - usage_start.ru_stime
    if profiler and profile:
        profile.mkdir(parents=True, exist_ok=True)
        profiler.dump_stats(profile / f"worker-{index}")
    orchestrator.close()
    app.close()
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "accepted": result.accepted,
                "processed": result.processed,
                "sent": result.sent,
                "start": start,
                "end": end,
                "cpu_s": cpu,
                "system_cpu_s": system_cpu,
                "looks": looks,
                "durations": durations,
                "peak_rss_mb": rss_kb / 1024,
                "parses": parses[0],
            }
        )
    )


def reference_loop() -> float:
    """Seconds for ten million iterations of a plain Python loop: the machine's speed, so figures
    from different machines, or one virtual machine on different days, can be compared."""
    start = time.perf_counter()
    total = 0
    for n in range(10_000_000):
        total += n
    return time.perf_counter() - start


def percentile(ordered: list[float], p: int) -> float:
    """The nearest-rank *p*-th percentile of the sorted, non-empty *ordered*: the smallest value
    that at least *p* percent of the values do not exceed."""
    rank = -(-len(ordered) * p // 100)  # ceil, in integers
    return ordered[max(1, rank) - 1]


def run_pass(
    root: Path, workers: int, store: dict[str, str], profile: Path | None = None
) -> dict[str, float]:
    """Start *workers* instances over the backlog in *root* at once; their combined figures."""
    extra = ["--profile", str(profile.resolve())] if profile else []
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--worker",
                str(root),
                "--index",
                str(i),
                "--workers",
                str(workers),
                "--store-json",
                json.dumps(store),
                *extra,
            ],
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        for i in range(workers)
    ]
    reports = []
    for proc in procs:
        out, _ = proc.communicate()
        if proc.returncode:
            raise SystemExit(f"a benchmark worker failed with exit status {proc.returncode}")
        reports.append(json.loads(out.strip().splitlines()[-1]))
    per_message: dict[str, float] = {}
    for report in reports:
        for key in ("looks", "durations"):
            for message_id, seconds in report[key].items():
                per_message[message_id] = per_message.get(message_id, 0.0) + seconds
    durations = sorted(per_message.values())
    return {
        "accepted": sum(r["accepted"] for r in reports),
        "cpu_s": sum(r["cpu_s"] for r in reports),
        "system_cpu_s": sum(r["system_cpu_s"] for r in reports),
        "parses": sum(r["parses"] for r in reports),
        "processed": sum(r["processed"] for r in reports),
        "sent": sum(r["sent"] for r in reports),
        "wall_s": max(r["end"] for r in reports) - min(r["start"] for r in reports),
        "p50_ms": 1000 * percentile(durations, 50),
        "p99_ms": 1000 * percentile(durations, 99),
        "max_ms": 1000 * durations[-1],
        "peak_rss_mb": max(r["peak_rss_mb"] for r in reports),
        "total_rss_mb": sum(r["peak_rss_mb"] for r in reports),
    }


def run_command(root: Path, workers: int) -> dict[str, float]:
    """``pixbridge run --once`` over the backlog in *root*, as an operator runs it; its figures."""
    # The shipped settings alone: a PIXBRIDGE_* variable of the caller's would change the run.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXBRIDGE_")}
    # The cap would suppress most acknowledgements in a synthetic backlog from 400 senders.
    env["PIXBRIDGE_LIFECYCLE__ACKS_PER_SENDER_PER_HOUR"] = str(ACK_CAP)
    command = [
        sys.executable,
        "-m",
        "pixbridge",
        "--data-dir",
        str(root / "var"),
        "run",
        "--once",
        "--json",
        "--workers",
        str(workers),
    ]
    start = time.time()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.time() - start
    if done.returncode:
        raise SystemExit(f"pixbridge run --once failed ({done.returncode}):\n{done.stderr}")
    result = json.loads(done.stdout)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "accepted": result["accepted"],
        "processed": result["processed"],
        "sent": result["sent"],
        "wall_s": wall,
        # Every process of the pass (the supervisor and its workers) was a descendant of this
        # one: their CPU is summed here, their largest RSS kept.
        "cpu_s": children.ru_utime + children.ru_stime,
        "system_cpu_s": children.ru_stime,
        "peak_rss_mb": children.ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="instances, as [lifecycle] workers (default: the number of cores)",
    )
    parser.add_argument(
        "--store",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="state store backend (postgresql: a fresh schema, dropped afterwards)",
    )
    parser.add_argument("--url", help="PostgreSQL URL (default: the test server on 127.0.0.1)")
    parser.add_argument(
        "--profile",
        type=Path,
        help="write each worker's cProfile statistics to this directory (worker-0, ...)",
    )
    parser.add_argument(
        "--command",
        action="store_true",
        help="time the real `pixbridge run --once` end to end (sqlite only; no latencies)",
    )
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--index", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--store-json", default='{"backend": "sqlite"}', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.index, args.workers, json.loads(args.store_json), args.profile)
        return
    if args.command:
        if args.store != "sqlite" or args.profile:
            parser.error("--command runs the shipped settings: no --store or --profile with it")
        command_main(args.messages, args.workers)
        return
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        root = Path(tmp)
        store = {"backend": "sqlite"}
        if args.store == "postgresql":
            from pixbridge_postgres.testing import fresh_schema

            url, schema = stack.enter_context(fresh_schema(args.url))
            store = {"backend": "postgresql", "url": url, "schema": schema}
        total = make_backlog(root / "var" / "mail" / "inbox", args.messages)
        figures = run_pass(root, args.workers, store, args.profile)
        outcome = check_outcome(root, store, args.messages)
    rate = figures["processed"] / figures["wall_s"]
    print(f"backlog: {args.messages} messages, {total / 1e6:.1f} MB, a tenth with attachments")
    print(
        f"pass:    {args.workers} worker(s) on {args.store}: accepted {figures['accepted']}, processed "
        f"{figures['processed']}, acknowledgements sent {figures['sent']} in "
        f"{figures['wall_s']:.2f} s"
    )
    print(f"outcome: {outcome}")
    print(f"rate:    {rate:.0f} messages/s (accept + process + mailbox + delivery; target >= 200)")
    per_message = 1000 / figures["processed"]
    print(
        f"cpu:     {figures['cpu_s'] * per_message:.1f} ms of CPU per message (all workers; "
        f"{figures['system_cpu_s'] * per_message:.1f} ms of it in the kernel); this machine's "
        f"reference loop: {reference_loop():.2f} s"
    )
    # Below 100%, the workers waited (for the disk, for each other's write lock, for work).
    busy = figures["cpu_s"] / (figures["wall_s"] * args.workers)
    print(f"busy:    the workers used {100 * busy:.0f}% of {args.workers} core(s) of CPU")
    print(f"parses:  {figures['parses'] / figures['processed']:.2f} per message (all workers)")
    print(
        f"latency: p50 {figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms, "
        f"max {figures['max_ms']:.1f} ms per message (target p99 < 50 ms)"
    )
    print(
        f"memory:  peak RSS {figures['peak_rss_mb']:.0f} MB per process, "
        f"{figures['total_rss_mb']:.0f} MB for all (target < 200 MB)"
    )


def command_main(messages: int, workers: int) -> None:
    """The --command figures: the real command over a fresh backlog."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        total = make_backlog(root / "var" / "mail" / "inbox", messages)
        figures = run_command(root, workers)
        outcome = check_outcome(root, {"backend": "sqlite"}, messages)
    rate = figures["processed"] / figures["wall_s"]
    per_message = 1000 / figures["processed"]
    print(f"backlog: {messages} messages, {total / 1e6:.1f} MB, a tenth with attachments")
    print(
        f"command: pixbridge run --once --workers {workers}: accepted {figures['accepted']}, "
        f"processed {figures['processed']}, sent {figures['sent']} in {figures['wall_s']:.2f} s "
        "(from process start to exit)"
    )
    print(f"outcome: {outcome}")
    print(f"rate:    {rate:.0f} messages/s (target >= 200)")
    print(
        f"cpu:     {figures['cpu_s'] * per_message:.1f} ms of CPU per message (all processes; "
        f"{figures['system_cpu_s'] * per_message:.1f} ms of it in the kernel); this machine's "
        f"reference loop: {reference_loop():.2f} s"
    )
    print(
        f"memory:  peak RSS {figures['peak_rss_mb']:.0f} MB (the largest process; target < 200 MB)"
    )


if __name__ == "__main__":
    main()
