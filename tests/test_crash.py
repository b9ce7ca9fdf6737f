"""Crash safety: SIGKILL at every named point of the pipeline, then restart until idle.

After the dust settles there must be exactly one request per customer message, exactly one
acknowledgement per request, one mail per agent action, and every message accounted for.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from lifecycle_helpers import REPO, cli_settings, mail

from pixbridge.faults import POINTS

pytestmark = pytest.mark.slow

CUSTOMERS = [f"customer{n}@client{n}.example" for n in range(5)]


def _settings(root: Path) -> Path:
    return cli_settings(root)


def _pixbridge(
    settings: Path, *args: str, crash: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXBRIDGE_")}
    env["PIXBRIDGE_SETTINGS"] = str(settings)
    if crash:
        env["PIXBRIDGE_CRASH_AT"] = crash
    return subprocess.run(
        [sys.executable, "-m", "pixbridge", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _run_until_idle(settings: Path, crash: str) -> int:
    """Run once with the crash armed, then restart without it until a pass exits cleanly."""
    crashes = 0
    first = _pixbridge(settings, "run", "--once", crash=crash)
    if first.returncode == -9:
        crashes += 1
    else:
        assert first.returncode == 0, first.stderr
    for _ in range(2):
        done = _pixbridge(settings, "run", "--once")
        assert done.returncode == 0, done.stderr
    return crashes


def _deliver(root: Path, messages: list[bytes]) -> None:
    inbox = root / "var" / "mail" / "inbox"
    for sub in ("new", "cur", "tmp"):
        (inbox / sub).mkdir(parents=True, exist_ok=True)
    for n, raw in enumerate(messages):
        path = inbox / "new" / f"{n:04d}.crash"
        path.write_bytes(raw)
        os.utime(path, ns=((n + 1) * 10**9, (n + 1) * 10**9))


def _sent(root: Path) -> list[tuple[str, str]]:
    folder = root / "var" / "mail" / "sent" / "new"
    parser = BytesParser(policy=policy.default)
    out = []
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        msg = parser.parsebytes(path.read_bytes())
        out.append((str(msg["To"]), str(msg["Subject"])))
    return out


def _count(root: Path, folder: str) -> int:
    path = root / "var" / "mail" / folder / "cur"
    return len(list(path.iterdir())) if path.is_dir() else 0


@pytest.mark.parametrize("point", [p for p in POINTS if p != "after_sync_change"])
@pytest.mark.parametrize("hit", [1, 4])
def test_inbound_survives_sigkill(tmp_path: Path, point: str, hit: int) -> None:
    settings = _settings(tmp_path)
    batch = [mail(sender=c, subject=f"Problem of {c}") for c in CUSTOMERS]
    batch.append(mail(sender=CUSTOMERS[0], subject="Re: [SUP-1] more", body="details"))
    batch.append(mail(headers={"Auto-Submitted": "auto-replied"}, subject="Out of office"))
    _deliver(tmp_path, batch)
    crashes = _run_until_idle(settings, f"{point}:{hit}")
    # Each point is met once per message, except the comment point (one reply in the batch)
    # and the accept point (once per chunk of accepted messages).
    assert crashes == (1 if hit <= (1 if point in ("after_comment", "after_accept") else 5) else 0)

    listed = _pixbridge(settings, "requests", "list", "--json")
    requests = json.loads(listed.stdout)
    assert sorted(r["customer"] for r in requests) == sorted(CUSTOMERS)
    assert sorted(r["key"] for r in requests) == [f"SUP-{n}" for n in range(1, 6)]
    acks = _sent(tmp_path)
    assert sorted(to for to, _ in acks) == sorted(CUSTOMERS), acks
    shown = json.loads(_pixbridge(settings, "requests", "show", "SUP-1", "--json").stdout)
    assert [c["body"].strip() for c in shown["comments"]] == ["details"]
    # Every message accounted for: all moved out of the inbox, none quarantined.
    assert _count(tmp_path, "processed") == len(batch)
    assert _count(tmp_path, "quarantine") == 0
    assert not list((tmp_path / "var" / "mail" / "inbox" / "new").iterdir())


@pytest.mark.parametrize("point", ["after_sync_change", "before_send", "after_send"])
def test_outbound_survives_sigkill(tmp_path: Path, point: str) -> None:
    settings = _settings(tmp_path)
    _deliver(tmp_path, [mail(sender=c, subject=f"Problem of {c}") for c in CUSTOMERS[:2]])
    _run_until_idle(settings, "none:1")
    assert (
        _pixbridge(settings, "requests", "comment", "SUP-1", "--public", "Try build 13").returncode
        == 0
    )
    assert (
        _pixbridge(settings, "requests", "comment", "SUP-1", "--internal", "secret").returncode == 0
    )
    assert (
        _pixbridge(settings, "requests", "complete", "SUP-2", "--answer", "Fixed").returncode == 0
    )
    assert _run_until_idle(settings, f"{point}:1") == 1
    sent = _sent(tmp_path)
    to_first = [s for to, s in sent if to == CUSTOMERS[0]]
    to_second = [s for to, s in sent if to == CUSTOMERS[1]]
    assert len(to_first) == 2, sent  # acknowledgement + the public comment, not the internal one
    assert len(to_second) == 2, sent  # acknowledgement + completion
    assert any("completed" in s for s in to_second)
