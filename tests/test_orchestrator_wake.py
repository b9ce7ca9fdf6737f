"""``AdapterContext.wake``: an adapter with a push channel cuts ``run_forever``'s idle wait short.

The loop runs in a thread with a 60 s poll interval; a pass that follows a wake within a few
seconds can only be the wake's doing. The mailbox here is the Maildir source with a push
channel of its own (a test double that calls ``wake`` when opened, as a webhook receiver does).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from lifecycle_helpers import TEMPLATES

from pixbridge import hookimpl
from pixbridge.adapters import AdapterContext
from pixbridge.builtins.maildir import MaildirSource
from pixbridge.registry import AdapterRegistry
from pixbridge.testing.harness import Harness

POLL = 60.0
SOON = 15.0


class PushingMaildir(MaildirSource):
    """The Maildir source, plus a push channel that asks for a pass when opened."""

    name: ClassVar[str] = "pushing-maildir"
    opened: ClassVar[list[AdapterContext]] = []

    def open(self) -> None:
        super().open()
        PushingMaildir.opened.append(self.context)
        self.context.wake()


class _Plugin:
    @hookimpl
    def register_adapters(self, registry: AdapterRegistry) -> None:
        registry.add(PushingMaildir)


class Passes:
    """A PassWatcher counting passes."""

    def __init__(self) -> None:
        self.count = 0

    def stage_done(self, stage: str, seconds: float, handled: int, error: object) -> None:
        pass

    def pass_done(self, result: object) -> None:
        self.count += 1


def wait_until(condition: Callable[[], Any], timeout: float = SOON) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s")
        time.sleep(0.02)


def start(tmp_path: Path, source: str) -> tuple[Harness, Passes, threading.Thread]:
    PushingMaildir.opened.clear()
    harness = Harness(
        tmp_path,
        templates_dir=TEMPLATES,
        extra_plugins=[("pushing", _Plugin())],
        pipeline={
            "mail_source": source,
            "mail_sender": "maildir-outbox",
            "tracker": "local",
            "license_validators": [],
            "publishers": [],
        },
        lifecycle={"poll_interval": POLL, "wake_check": 0.1},
    )
    passes = Passes()
    harness.orchestrator.watchers.append(passes)

    def serve() -> None:
        try:  # the state store belongs to the loop's thread: close it there
            harness.orchestrator.run_forever()
        finally:
            harness.close()

    loop = threading.Thread(target=serve, daemon=True)
    loop.start()
    return harness, passes, loop


@pytest.fixture
def pushing(tmp_path: Path) -> Iterator[tuple[Harness, Passes]]:
    harness, passes, loop = start(tmp_path, "pushing-maildir")
    yield harness, passes
    harness.orchestrator.stop()
    loop.join(SOON)
    assert not loop.is_alive(), "run_forever did not stop in time"


def test_each_wake_brings_a_pass_at_once(pushing: tuple[Harness, Passes]) -> None:
    _, passes = pushing
    # The wake at open asks for a second pass; then the loop is idle for POLL seconds.
    wait_until(lambda: passes.count >= 2)
    time.sleep(0.5)
    idle = passes.count
    assert idle == 2
    [context] = PushingMaildir.opened
    for n in range(1, 4):
        context.wake()
        wait_until(lambda n=n: passes.count >= idle + n)  # type: ignore[misc]
        time.sleep(0.3)
        assert passes.count == idle + n, "one wake, one pass"


def test_wakes_while_a_pass_runs_are_not_lost(pushing: tuple[Harness, Passes]) -> None:
    _, passes = pushing
    wait_until(lambda: passes.count >= 2)
    [context] = PushingMaildir.opened
    for _ in range(50):  # many wakes, some during passes: coalesced, never dropped
        context.wake()
    wait_until(lambda: passes.count >= 3)
    context.wake()
    seen = passes.count
    wait_until(lambda: passes.count > seen)


def test_stop_ends_a_sliced_wait_promptly(tmp_path: Path) -> None:
    harness, passes, loop = start(tmp_path, "pushing-maildir")
    wait_until(lambda: passes.count >= 2)
    time.sleep(0.3)
    stopped = time.monotonic()
    harness.orchestrator.stop()
    loop.join(SOON)
    assert not loop.is_alive()
    assert time.monotonic() - stopped < POLL / 2


def test_without_a_wake_the_mailbox_wait_is_whole(tmp_path: Path) -> None:
    harness, passes, loop = start(tmp_path, "maildir")
    try:
        wait_until(lambda: passes.count >= 1)
        time.sleep(1.0)
        assert passes.count == 1
        assert harness.orchestrator._wakes_used is False
    finally:
        # A whole 60 s wait ends at the next delivery: stop, then make the inbox change.
        harness.orchestrator.stop()
        time.sleep(0.1)
        harness.deliver(b"From: a@b.example\r\nSubject: bye\r\n\r\nbye\r\n")
        loop.join(SOON)
    assert not loop.is_alive()


def test_an_adapter_context_without_an_orchestrator_wakes_nothing(tmp_path: Path) -> None:
    context = AdapterContext(data_dir=tmp_path)
    assert context.wake() is None
