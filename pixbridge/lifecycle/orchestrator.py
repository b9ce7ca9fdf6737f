"""The orchestrator: one pass over all inbound and outbound work, or a loop of passes."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from pixbridge.errors import AdapterError
from pixbridge.lifecycle.app import App
from pixbridge.lifecycle.delivery import Delivery
from pixbridge.lifecycle.inbound import Inbound
from pixbridge.lifecycle.mailbox import MailboxStage
from pixbridge.lifecycle.mailer import Mailer
from pixbridge.lifecycle.outbound import Outbound

__all__ = ["Orchestrator", "PassResult", "PassWatcher"]

log = logging.getLogger("pixbridge.orchestrator")


@dataclass
class PassResult:
    """What one pass did."""

    accepted: int = 0
    processed: int = 0
    mailbox_acknowledged: int = 0
    changes: int = 0
    sent: int = 0
    errors: int = 0

    @property
    def busy(self) -> bool:
        """Whether the pass found anything to do."""
        return bool(self.accepted or self.processed or self.changes or self.sent)


class PassWatcher(Protocol):
    """Told how each stage of a pass went (metrics, health); must be quick and never raise."""

    def stage_done(
        self, stage: str, seconds: float, handled: int, error: AdapterError | None
    ) -> None:
        """A stage (accept, sync, process, mailbox_acknowledge, deliver) returned or failed."""

    def pass_done(self, result: PassResult) -> None:
        """A full :meth:`Orchestrator.run_once` finished."""


class Orchestrator:
    """Runs the lifecycle stages in order; each stage's outage stops only that stage."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.mailer = Mailer(app)
        self.inbound = Inbound(app, self.mailer)
        self.mailbox = MailboxStage(app, self.inbound.limits, self.inbound.parsed)
        self.outbound = Outbound(app, self.mailer)
        self.delivery = Delivery(app)
        self.stopping = threading.Event()
        self.watchers: list[PassWatcher] = []

    def run_once(self) -> PassResult:
        """One full pass: accept, sync, process, tell the mailbox, deliver; until idle."""
        result = PassResult()
        while not self.stopping.is_set():
            step = PassResult()
            step.accepted = self._guard("accept", self.mailbox.accept, step)
            # Sync before processing so a reply to a request completed in the tracker
            # opens a new request rather than reopening the old one.
            step.changes = self._guard("sync", self.outbound.sync, step)
            step.processed = self._guard("process", self.inbound.process_pending, step)
            step.mailbox_acknowledged = self._guard(
                "mailbox_acknowledge", self.mailbox.acknowledge, step
            )
            step.sent = self._guard("deliver", self.delivery.deliver, step)
            for name in (
                "accepted",
                "processed",
                "mailbox_acknowledged",
                "changes",
                "sent",
                "errors",
            ):
                setattr(result, name, getattr(result, name) + getattr(step, name))
            if not (step.accepted or step.processed):
                break
        for watcher in self.watchers:
            watcher.pass_done(result)
        return result

    def run_forever(self) -> None:
        """Pass after pass until :meth:`stop`; between passes wait for the mailbox to push."""
        interval = self.app.settings.lifecycle.poll_interval
        while not self.stopping.is_set():
            result = self.run_once()
            if result.busy:
                log.info(
                    "pass: %d accepted, %d processed, %d tracker changes, %d sent",
                    result.accepted,
                    result.processed,
                    result.changes,
                    result.sent,
                )
                continue
            try:
                self.app.source.wait(interval)
            except AdapterError as exc:
                log.warning("waiting for mail failed: %s", exc)
                self.stopping.wait(interval)

    def stop(self) -> None:
        """Ask the loop to finish after the current step."""
        self.stopping.set()

    def _guard(self, name: str, stage: Callable[[], int], result: PassResult) -> int:
        started = time.perf_counter()
        error: AdapterError | None = None
        handled = 0
        try:
            handled = stage()
        except AdapterError as exc:
            # One adapter's outage stops its own stage only; the others still run.
            log.warning("%s: %s", getattr(stage, "__name__", "stage"), exc)
            result.errors += 1
            error = exc
        for watcher in self.watchers:
            watcher.stage_done(name, time.perf_counter() - started, handled, error)
        return handled
