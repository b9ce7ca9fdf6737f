"""The orchestrator: one pass over all inbound and outbound work, or a loop of passes."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from pixbridge.errors import AdapterError
from pixbridge.lifecycle.app import App
from pixbridge.lifecycle.delivery import Delivery
from pixbridge.lifecycle.inbound import Inbound
from pixbridge.lifecycle.instance import Claims, Instance, take_instance
from pixbridge.lifecycle.mailbox import MailboxStage
from pixbridge.lifecycle.mailer import Mailer
from pixbridge.lifecycle.outbound import Outbound
from pixbridge.lifecycle.retry import PassStopped
from pixbridge.observability.credentials import CredentialWatcher
from pixbridge.store.claims import mailbox_role
from pixbridge.store.db import StoreUnavailable

__all__ = ["Orchestrator", "PassResult", "PassWatcher"]

log = logging.getLogger("pixbridge.orchestrator")

_OTHERS_POLL = 0.05
"""Seconds between looks at the store while other instances finish their part of a pass."""

STORE_RETRY_FIRST = 1.0
"""Seconds before the service tries an unreachable state store again at start-up ..."""
STORE_RETRY_MAX = 60.0
"""... doubling each time up to this."""


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
        self,
        stage: str,
        seconds: float,
        handled: int,
        error: AdapterError | StoreUnavailable | None,
    ) -> None:
        """A stage (accept, sync, process, mailbox_acknowledge, deliver) returned or failed."""

    def pass_done(self, result: PassResult) -> None:
        """A full :meth:`Orchestrator.run_once` finished."""


class Orchestrator:
    """Runs the lifecycle stages in order; each stage's outage stops only that stage."""

    def __init__(self, app: App, instance: Instance | None = None) -> None:
        self.app = app
        life = app.settings.lifecycle
        self.instance = instance or take_instance(app.settings.data_dir, life.instance)
        """This process's name among the instances sharing the store (it holds the claims)."""
        self.claims = Claims(self.instance.name, timedelta(seconds=life.claim_ttl))
        self.mailer = Mailer(app)
        self.inbound = Inbound(app, self.mailer, self.claims)
        self.mailbox = MailboxStage(app, self.inbound.limits, self.inbound.parsed)
        self.outbound = Outbound(app, self.mailer)
        self.delivery = Delivery(app, self.claims)
        self.stopping = threading.Event()
        self.polling = False
        """Whether this instance held the mailbox role in the last pass."""
        self.watchers: list[PassWatcher] = [CredentialWatcher(app)]
        """Told of every stage and pass; the first logs credentials about to expire."""
        self._wakes_used = False
        """Whether an adapter has woken the loop (``AdapterContext.wake``) at least once."""
        # Role names come from the settings (an adapter's name is its settings key), so that
        # taking or giving back a role never opens an adapter: a tracker down at start-up
        # must stop only the sync stage.
        pipeline = app.settings.pipeline
        self._mailbox_role = mailbox_role(pipeline.mail_source)
        self._sync_role = f"sync:{pipeline.tracker}"

    def open_store(self, *, wait: bool = False) -> bool:
        """Open the state store before the first pass; True once it is open.

        Without *wait* (``pixbridge run --once``, a command) a store that cannot be opened
        raises at once. With *wait* (the service) it is tried again after
        :data:`STORE_RETRY_FIRST` seconds, doubling up to :data:`STORE_RETRY_MAX`, with one
        warning per failed attempt, until it opens or :meth:`stop` is called (then False): a
        service started before its database comes up waits for it rather than exiting.

        :raises StoreUnavailable: without *wait*, the store cannot be opened.
        """
        delay, attempt = STORE_RETRY_FIRST, 0
        while not self.stopping.is_set():
            try:
                store = self.app.store
            except StoreUnavailable as exc:
                if not wait:
                    raise
                attempt += 1
                log.warning(
                    "state store unavailable (attempt %d, next in %g s): %s", attempt, delay, exc
                )
                self.stopping.wait(delay)
                delay = min(delay * 2, STORE_RETRY_MAX)
                continue
            log.info("instance %s: state store open: %s", self.instance.name, store.db.describe())
            return True
        return False

    def run_once(self, *, until_all_idle: bool = False) -> PassResult:
        """One full pass: accept, sync, process, tell the mailbox, deliver; until idle.

        Instances share the store: only the holder of the mailbox role accepts and
        acknowledges, only the holder of the sync role reads the tracker, and messages and
        mail are claimed. With *until_all_idle* (``pixbridge run --once`` beside other
        instances) the pass also waits while other instances still hold work or a role.
        """
        result = PassResult()
        while not self.stopping.is_set():
            step = PassResult()
            self.polling = self._role(self._mailbox_role, step)
            if self.polling:
                step.accepted = self._guard("accept", self.mailbox.accept, step)
            if self._role(self._sync_role, step):
                # Sync before processing so a reply to a request completed in the tracker
                # opens a new request rather than reopening the old one.
                step.changes = self._guard("sync", self.outbound.sync, step)
            step.processed = self._guard("process", self.inbound.process_pending, step)
            if self.polling:
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
            if step.accepted or step.processed:
                continue
            if until_all_idle and not step.errors and self._others_working():
                self.stopping.wait(_OTHERS_POLL)
                continue
            break
        if until_all_idle:
            self._let_go()
        for watcher in self.watchers:
            watcher.pass_done(result)
        return result

    def close(self) -> None:
        """Give back every claim and role at once (rather than when they expire), and the name.

        Never raises for the store: one that never opened holds nothing of ours (and is not
        connected to now), and one that is lost keeps our claims until they expire.
        """
        try:
            self._let_go()
        finally:
            self.instance.release()

    def _role(self, name: str, result: PassResult) -> bool:
        """Take or renew role *name* (one holder at a time); True if this instance has it.

        False while the store is unavailable (counted in *result*): the stages that need no
        role still run, and fail on the store each on its own, as they would without roles.
        """
        try:
            store = self.app.store
            return store.acquire_lease(
                name, self.claims.holder, self.app.clock.now(), self.claims.ttl
            )
        except StoreUnavailable as exc:
            log.warning("cannot take role %s: %s", name, exc)
            result.errors += 1
            return False

    def _let_go(self) -> None:
        """Release this instance's claims and roles, if the store was ever opened."""
        self.polling = False
        if not self.app.store_open:
            return
        store, holder = self.app.store, self.claims.holder
        try:
            store.release_claims(holder)
            for role in (self._mailbox_role, self._sync_role):
                store.release_lease(role, holder)
        except StoreUnavailable as exc:
            log.warning(
                "could not give back the claims and roles of %s; they expire after "
                "[lifecycle] claim_ttl: %s",
                holder,
                exc,
            )

    def _others_working(self) -> bool:
        """Whether another instance holds unexpired claims or a role (its pass is not over)."""
        return self.app.store.held_by_others(self.claims.holder, self.app.clock.now())

    def run_forever(self) -> None:
        """Pass after pass until :meth:`stop`; between passes wait for the mailbox to push.

        Once an adapter has asked for a pass through ``AdapterContext.wake`` (a tracker's
        webhook, say), the wait is cut into slices of ``[lifecycle] wake_check`` seconds and a
        wake ends it early; until then the mail source's own wait is used whole.
        """
        wakeup = self.app.wakeup
        while not self.stopping.is_set():
            if wakeup.is_set():
                self._wakes_used = True
                wakeup.clear()  # cleared before the pass: a wake during it asks for another
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
            if not wakeup.is_set():
                self._idle()

    def _idle(self) -> None:
        """Wait for mail for up to ``poll_interval``; in slices watching for a wake if in use."""
        settings = self.app.settings.lifecycle
        interval = settings.poll_interval
        if not self.polling:
            # Another instance polls the mailbox; the work it accepts shows up in the store.
            self.stopping.wait(min(interval, settings.wake_check))
            return
        if not self._wakes_used:
            try:
                self.app.source.wait(interval)
            except AdapterError as exc:
                log.warning("waiting for mail failed: %s", exc)
                self.stopping.wait(interval)
            return
        deadline = time.monotonic() + interval
        source_failed = False
        while not (self.stopping.is_set() or self.app.wakeup.is_set()):
            piece = min(settings.wake_check, deadline - time.monotonic())
            if piece <= 0:
                return
            if source_failed:  # sit the interval out without a warning every slice
                self.stopping.wait(piece)
                continue
            try:
                if self.app.source.wait(piece):
                    return
            except AdapterError as exc:
                log.warning("waiting for mail failed: %s", exc)
                source_failed = True

    def stop(self) -> None:
        """Ask the loop to finish after the current step."""
        self.stopping.set()

    def _guard(self, name: str, stage: Callable[[], int], result: PassResult) -> int:
        started = time.perf_counter()
        error: AdapterError | StoreUnavailable | None = None
        handled = 0
        try:
            handled = stage()
        except PassStopped as stopped:
            # An outage stopped the stage part way; the item it stopped on logged it.
            handled = stopped.handled
            cause = stopped.__cause__
            error = cause if isinstance(cause, AdapterError | StoreUnavailable) else None
            result.errors += 1
        except (AdapterError, StoreUnavailable) as exc:
            # One adapter's outage stops its own stage only; the others still run. A store
            # outage fails every stage until the database is back, and loses nothing.
            log.warning("%s: %s", getattr(stage, "__name__", "stage"), exc)
            result.errors += 1
            error = exc
        for watcher in self.watchers:
            watcher.stage_done(name, time.perf_counter() - started, handled, error)
        return handled
