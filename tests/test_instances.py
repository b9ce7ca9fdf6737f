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
import time
from pathlib import Path
from typing import Any

import pytest
from lifecycle_helpers import REPO, cli_settings, mail

from pixbridge.lifecycle.instance import InstanceTaken, take_instance

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


def test_run_once_with_two_workers_shares_one_backlog(
    tmp_path: Path, store_settings: dict[str, Any]
) -> None:
    settings = _settings(tmp_path, store_settings)
    _deliver(tmp_path, 80)
    done = _pixbridge(settings, "run", "--once", "--workers", "2", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["workers"] == 2
    assert summary["accepted"] == 80 and summary["processed"] == 80 and summary["sent"] == 80
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
