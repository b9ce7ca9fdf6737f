"""Several pixbridge instances on one state store: names, `run --workers`, and one killed.

Pass criterion everywhere: exactly one request per customer message, exactly one
acknowledgement per request, every message moved out of the inbox, none quarantined.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lifecycle_helpers import REPO, cli_settings, mail

from pixbridge.lifecycle.instance import InstanceTaken, take_instance
from pixbridge.store.claims import mailbox_role
from pixbridge.store.config import SQLITE_FILE
from pixbridge.store.state import StateStore

pytestmark = pytest.mark.slow

CUSTOMERS = [f"customer{n}@client{n}.example" for n in range(40)]


def test_names_are_exclusive_and_come_back_after_release(tmp_path: Path) -> None:
    first = take_instance(tmp_path)
    second = take_instance(tmp_path)
    assert first.name != second.name
    assert first.name.endswith("-0") and second.name.endswith("-1")
    first.release()
    again = take_instance(tmp_path)
    assert again.name == first.name  # a restart carries on with its own claims
    named = take_instance(tmp_path, "edge-a")
    with pytest.raises(InstanceTaken, match="edge-a"):
        take_instance(tmp_path, "edge-a")
    named.release()
    assert take_instance(tmp_path, "edge-a").name == "edge-a"


def test_a_killed_process_frees_its_name(tmp_path: Path) -> None:
    code = (
        "import sys, time; from pathlib import Path;"
        "from pixbridge.lifecycle.instance import take_instance;"
        f"i = take_instance(Path({str(tmp_path)!r}), 'solo'); print('held', flush=True);"
        "time.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    with pytest.raises(InstanceTaken):
        take_instance(tmp_path, "solo")
    proc.kill()
    proc.wait()
    assert take_instance(tmp_path, "solo").name == "solo"


def _settings(root: Path, store: dict[str, Any], claim_ttl: float = 300) -> Path:
    backend = ""
    if store["backend"] == "postgresql":
        secret = root / "store-url"
        secret.write_text(store["url"], encoding="utf-8")
        backend = (
            f'[store]\nbackend = "postgresql"\nurl = {{ "$file" = "{secret}" }}\n'
            f'schema = "{store["schema"]}"\n'
        )
    lifecycle = (
        "retry_delay = 0\npoll_interval = 0.2\nwake_check = 0.1\n"
        f"claim_ttl = {claim_ttl}\nacks_per_sender_per_hour = 100"
    )
    return cli_settings(root, lifecycle, backend)


def _env(settings: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXBRIDGE_")}
    env["PIXBRIDGE_SETTINGS"] = str(settings)
    return env


def _pixbridge(settings: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pixbridge", *args],
        env=_env(settings),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _deliver(root: Path, count: int) -> None:
    inbox = root / "var" / "mail" / "inbox"
    for sub in ("new", "cur", "tmp"):
        (inbox / sub).mkdir(parents=True, exist_ok=True)
    for n in range(count):
        sender = CUSTOMERS[n % len(CUSTOMERS)]
        path = inbox / "new" / f"{n:04d}.multi"
        path.write_bytes(mail(sender=sender, subject=f"Problem {n} of {sender}"))
        os.utime(path, ns=((n + 1) * 10**9, (n + 1) * 10**9))


def _assert_exactly_once(root: Path, settings: Path, count: int) -> None:
    requests = json.loads(_pixbridge(settings, "requests", "list", "--json").stdout)
    assert len(requests) == count
    assert sorted(r["summary"] for r in requests) == sorted(
        f"Problem {n} of {CUSTOMERS[n % len(CUSTOMERS)]}" for n in range(count)
    )
    sent = root / "var" / "mail" / "sent" / "new"
    subjects = [
        p.read_bytes().split(b"\r\nSubject: ", 1)[1].split(b"\r\n", 1)[0] for p in sent.iterdir()
    ]
    keys = sorted(s.split(b"]", 1)[0].lstrip(b"[").decode() for s in subjects)
    assert keys == sorted(r["key"] for r in requests)  # one acknowledgement per request
    processed = root / "var" / "mail" / "processed" / "cur"
    assert len(list(processed.iterdir())) == count
    assert not list((root / "var" / "mail" / "inbox" / "new").iterdir())
    quarantine = root / "var" / "mail" / "quarantine" / "cur"
    assert not quarantine.is_dir() or not list(quarantine.iterdir())


def _gate_store(root: Path, store: dict[str, Any]) -> StateStore:
    """The state store of the settings of :func:`_settings`, opened by the test itself."""
    if store["backend"] == "sqlite":
        return StateStore(root / "var" / SQLITE_FILE)
    from pixbridge_postgres.database import PostgresDatabase

    return StateStore(PostgresDatabase(store["url"], schema=store["schema"]))


class _Log:
    """A process's stderr, read on a thread; tells when a line with some text has appeared."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self.changed = threading.Condition()
        self._proc = proc
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._proc.stderr is not None
        for line in self._proc.stderr:
            with self.changed:
                self.lines.append(line)
                self.changed.notify_all()

    def matching(self, text: str, count: int, timeout: float) -> list[str]:
        """The first *count* lines containing *text*, waiting up to *timeout* seconds."""
        with self.changed:
            self.changed.wait_for(
                lambda: len([ln for ln in self.lines if text in ln]) >= count, timeout
            )
            return [ln for ln in self.lines if text in ln][:count]

    def text(self) -> str:
        self._thread.join(timeout=60)
        return "".join(self.lines)


def test_run_once_with_two_workers_shares_one_backlog(
    tmp_path: Path, store_settings: dict[str, Any]
) -> None:
    settings = _settings(tmp_path, store_settings)
    _deliver(tmp_path, 80)
    # The test stands in for other instances, so that the pass is shared whatever the order
    # the workers start in: it holds this mailbox's role until both workers are up (else the
    # first may finish the backlog before the second looks), and another mailbox's role until
    # a worker has taken over this one (else the other worker could find nothing held by
    # anyone at that moment and end its pass).
    gate, now, ttl = _gate_store(tmp_path, store_settings), datetime.now(UTC), timedelta(hours=1)
    assert gate.acquire_lease(mailbox_role("maildir"), "test", now, ttl)
    assert gate.acquire_lease(mailbox_role("elsewhere"), "test", now, ttl)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pixbridge", "-v", "run", "--once", "--workers", "2", "--json"],
        env=_env(settings),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        log = _Log(proc)  # the supervisor passes the workers' log on line by line
        opened = log.matching("state store open", 2, timeout=120)
        assert len(opened) == 2, log.lines
        names = {line.split("instance ", 1)[1].split(":", 1)[0] for line in opened}
        assert gate.release_lease(mailbox_role("maildir"), "test")
        deadline = time.monotonic() + 120
        while (poller := gate.lease(mailbox_role("maildir"))) is None or poller.holder not in names:
            assert time.monotonic() < deadline, "no worker took the mailbox role"
            time.sleep(0.02)
        assert gate.release_lease(mailbox_role("elsewhere"), "test")
        proc.wait(timeout=300)  # its stdout is one small JSON document: no pipe fills up
        assert proc.stdout is not None
        out = proc.stdout.read()
    finally:
        if proc.poll() is None:  # a failed step above: the workers would wait for the test
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        gate.close()
    assert proc.returncode == 0, log.text()
    summary = json.loads(out)
    assert summary["workers"] == 2
    assert summary["accepted"] == 80 and summary["processed"] == 80 and summary["sent"] == 80
    per_worker = summary["per_worker"]
    assert [w["worker"] for w in per_worker] == [0, 1]
    assert {w["instance"] for w in per_worker} == names
    for field in ("accepted", "processed", "sent"):
        assert sum(w[field] for w in per_worker) == 80
    assert sorted(w["accepted"] for w in per_worker) == [0, 80]  # one poller
    assert all(w["processed"] >= 1 for w in per_worker), per_worker  # both shared the work
    assert all(w["errors"] == 0 for w in per_worker), per_worker
    _assert_exactly_once(tmp_path, settings, 80)


def test_three_instances_one_killed_midway(tmp_path: Path, store_settings: dict[str, Any]) -> None:
    settings = _settings(tmp_path, store_settings, claim_ttl=2)
    _deliver(tmp_path, 120)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "pixbridge", "run", "--as-worker", str(n)],
            env=_env(settings),
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    state = tmp_path / "var" / "mail" / "processed" / "cur"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if state.is_dir() and len(list(state.iterdir())) >= 20:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the instances handled nothing within two minutes")
        procs[0].send_signal(signal.SIGKILL)  # the first to start polls the mailbox
        while time.monotonic() < deadline:
            if len(list(state.iterdir())) == 120:
                sent = tmp_path / "var" / "mail" / "sent" / "new"
                if sent.is_dir() and len(list(sent.iterdir())) >= 120:
                    break
            time.sleep(0.1)
        else:
            pytest.fail(f"only {len(list(state.iterdir()))} of 120 handled after the kill")
    finally:
        for proc in procs[1:]:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=60)
    assert procs[0].returncode == -signal.SIGKILL
    for proc in procs[1:]:
        assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    _assert_exactly_once(tmp_path, settings, 120)
