"""Prometheus metrics of one pixbridge process, and the health verdict built from them.

Counters and the stage histogram are fed by the orchestrator (:class:`Metrics` is a
:class:`~pixbridge.lifecycle.orchestrator.PassWatcher`) and by the ``on_stage_error`` observer
hook; the backlog gauges are read from the state store on every scrape, the credential expiry
dates from the adapters at start and then hourly (in the loop), in one reading with the
orchestrator's :class:`~pixbridge.observability.credentials.CredentialWatcher`. Each
:class:`Metrics` has its own :class:`~prometheus_client.CollectorRegistry`, never the global
default one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from pixbridge import hookimpl
from pixbridge.errors import AdapterError, NeedsCredentials, TransientAdapterError
from pixbridge.models import StageEvent
from pixbridge.observability.credentials import CredentialWatcher, ExpiryReading
from pixbridge.observability.probe import Backlog, StoreBacklogProbe, StoreProbe
from pixbridge.store.db import StoreUnavailable

if TYPE_CHECKING:
    from pixbridge.adapters import Clock
    from pixbridge.context import RunContext
    from pixbridge.lifecycle.app import App
    from pixbridge.lifecycle.orchestrator import Orchestrator, PassResult

__all__ = ["Health", "Metrics"]

STAGE_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
"""Seconds; a stage handles a whole batch, so the buckets reach minutes."""


def _kind(error: BaseException) -> str:
    if isinstance(error, NeedsCredentials):
        return "credentials"
    if isinstance(error, TransientAdapterError):
        return "transient"
    if isinstance(error, AdapterError):
        return "permanent"
    return "bug"


@dataclass(frozen=True)
class Health:
    """The health verdict: ``ok`` or the reasons it is not."""

    ok: bool
    reasons: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)


class Metrics:
    """The metrics of one process over one application.

    :param probe: Reads the backlog; default: a read-only connection to the state store.
    :param credentials: The credential expiries to export, refreshed at start and after each
        pass; default: a reading of their own (the service hands over its watcher's instead,
        see :meth:`watching`).
    """

    def __init__(
        self, app: App, *, probe: StoreProbe | None = None, credentials: ExpiryReading | None = None
    ) -> None:
        self.app = app
        self.clock: Clock = app.clock
        self.settings = app.settings
        self.probe: StoreProbe = probe or StoreBacklogProbe(app.store)
        pipeline = app.settings.pipeline
        # Which adapter a stage failure points at; processing uses several, so it names none.
        self.stage_adapter = {
            "accept": pipeline.mail_source,
            "mailbox_acknowledge": pipeline.mail_source,
            "sync": pipeline.tracker,
            "deliver": pipeline.mail_sender,
        }
        self.started_at = self.clock.now()
        self.last_pass_at: datetime | None = None
        self.last_accept_at: datetime | None = None
        """When intake was last up to date: an accept stage without error, or a pass in which
        this instance did not hold the mailbox role (another instance reads it)."""
        self._accept_ran = False
        self.credentials = credentials or ExpiryReading(app)
        """The adapters' credential expiries, refreshed at start and by :meth:`pass_done`."""
        self.credentials.refresh(self.started_at)
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.accepted = Counter(
            "pixbridge_messages_accepted", "Messages stored from the mailbox.", registry=r
        )
        self.processed = Counter(
            "pixbridge_messages_processed",
            "Messages taken through the pipeline (any outcome, retries included).",
            registry=r,
        )
        self.sent = Counter("pixbridge_mail_sent", "Mail handed to the mail sender.", registry=r)
        self.tracker_changes = Counter(
            "pixbridge_tracker_changes", "Tracker changes synchronised.", registry=r
        )
        self.stage_failures = Counter(
            "pixbridge_stage_failures",
            "Stages stopped by an adapter error (the stage is retried next pass).",
            ["stage", "adapter"],
            registry=r,
        )
        self.adapter_errors = Counter(
            "pixbridge_adapter_errors",
            "Errors reported by on_stage_error, by stage and kind"
            " (transient, permanent, credentials, bug).",
            ["stage", "kind"],
            registry=r,
        )
        self.retries = Counter(
            "pixbridge_retries",
            "Work put back for a later attempt after a transient error.",
            ["stage"],
            registry=r,
        )
        self.stage_seconds = Histogram(
            "pixbridge_stage_seconds",
            "Time per orchestrator stage call.",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=r,
        )
        r.register(_BacklogCollector(self))

    @classmethod
    def watching(cls, orchestrator: Orchestrator) -> Metrics:
        """Metrics told of *orchestrator*'s stages and passes and of every stage error, as
        ``pixbridge run --metrics`` sets them up.

        They export what the orchestrator's credential watcher reads, so the adapters are
        asked for their expiry dates once an hour for both.
        """
        app = orchestrator.app
        reading = next(
            (w.reading for w in orchestrator.watchers if isinstance(w, CredentialWatcher)), None
        )
        metrics = cls(app, credentials=reading)
        orchestrator.watchers.append(metrics)
        app.plugins.manager.register(metrics, name="pixbridge-metrics")
        return metrics

    # ------------------------------------------------------------ PassWatcher

    def stage_done(
        self,
        stage: str,
        seconds: float,
        handled: int,
        error: AdapterError | StoreUnavailable | None,
    ) -> None:
        """Count and time one stage call of the orchestrator."""
        self.stage_seconds.labels(stage).observe(seconds)
        if stage == "accept":
            self._accept_ran = True
        if error is not None:
            failed = "store" if isinstance(error, StoreUnavailable) else None
            adapter = failed or self.stage_adapter.get(stage, "pipeline")
            self.stage_failures.labels(stage, adapter).inc()
            # A message put back reports its retry itself, through on_stage_error.
            if isinstance(error, TransientAdapterError) and stage != "process":
                self.retries.labels(stage).inc()
        counter = {
            "accept": self.accepted,
            "process": self.processed,
            "sync": self.tracker_changes,
            "deliver": self.sent,
        }.get(stage)
        if counter is not None:
            counter.inc(handled)  # also what a stage finished before an outage stopped it
        if stage == "accept" and error is None:
            self.last_accept_at = self.clock.now()

    def pass_done(self, result: PassResult) -> None:
        """Remember when the last pass completed (the health endpoint's heartbeat); read the
        credential expiries again if an hour has passed since anyone read them (in the loop,
        not at scrape time)."""
        self.last_pass_at = self.clock.now()
        if not self._accept_ran:  # not the mailbox role's holder: no intake of ours to lag
            self.last_accept_at = self.last_pass_at
        self._accept_ran = False
        self.credentials.refresh(self.last_pass_at)

    # ------------------------------------------------------------ observer hook

    @hookimpl
    def on_stage_error(self, event: StageEvent, error: BaseException, ctx: RunContext) -> None:
        """Count a failed stage of one message or mail, by kind."""
        self.adapter_errors.labels(event.stage.value, _kind(error)).inc()
        if isinstance(error, TransientAdapterError):
            self.retries.labels(event.stage.value).inc()

    # ------------------------------------------------------------ derived values

    def ages(self, backlog: Backlog) -> dict[str, float]:
        """Seconds since each heartbeat, as of the clock now (see the gauges' help)."""
        now = self.clock.now()

        def since(at: datetime | None, fallback: datetime | None = None) -> float:
            at = at or fallback
            return max(0.0, (now - at).total_seconds()) if at else 0.0

        return {
            "last_pass": since(self.last_pass_at, self.started_at),
            "intake_lag": since(self.last_accept_at, self.started_at),
            "oldest_waiting": since(backlog.oldest_waiting_at),
            "newest_message": since(backlog.newest_received_at),
            "oldest_outbox": since(backlog.oldest_outbox_at),
        }

    def health(self) -> Health:
        """Unhealthy when intake stalls or the outbox is stuck (see ``[observability]``)."""
        limit = self.settings.observability.stall_after
        backlog = self.probe.backlog()
        ages = self.ages(backlog)
        reasons = []
        if ages["last_pass"] > limit:
            reasons.append(f"no pass completed for {ages['last_pass']:.0f}s (limit {limit:.0f}s)")
        # The mailbox is read again every poll interval, so a healthy lag reaches one interval.
        intake_limit = limit + self.settings.lifecycle.poll_interval
        if ages["intake_lag"] > intake_limit:
            reasons.append(
                f"no mail taken from the mailbox for {ages['intake_lag']:.0f}s"
                f" (limit {intake_limit:.0f}s)"
            )
        if ages["oldest_waiting"] > limit:
            reasons.append(
                f"a message has waited {ages['oldest_waiting']:.0f}s to be processed"
                f" (limit {limit:.0f}s)"
            )
        # A mail backed off to the longest retry delay still gets one more try before alarm.
        outbox_limit = limit + self.settings.lifecycle.retry_delay_max
        if ages["oldest_outbox"] > outbox_limit:
            reasons.append(
                f"mail has waited {ages['oldest_outbox']:.0f}s in the outbox"
                f" (limit {outbox_limit:.0f}s)"
            )
        detail = {
            "waiting": backlog.waiting,
            "outbox_depth": backlog.outbox_depth,
            **{f"{k}_seconds": round(v, 3) for k, v in ages.items()},
        }
        return Health(not reasons, reasons, detail)


class _BacklogCollector:
    """Gauges and outcome totals read from the state store at scrape time."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def describe(self) -> list[Metric]:
        # Declared without reading the store, so registering never touches the database.
        return list(self._families(None))

    def collect(self) -> list[Metric]:
        return list(self._families(self.metrics.probe.backlog()))

    def _families(self, backlog: Backlog | None) -> Iterator[Metric]:
        ages = self.metrics.ages(backlog) if backlog else {}

        def gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
            family = GaugeMetricFamily(name, doc)
            if backlog is not None:
                family.add_metric([], value)
            return family

        b = backlog or Backlog()
        yield gauge("pixbridge_outbox_depth", "Mail queued and not yet sent.", b.outbox_depth)
        yield gauge("pixbridge_messages_waiting", "Accepted messages not yet processed.", b.waiting)
        yield gauge(
            "pixbridge_oldest_waiting_message_age_seconds",
            "Age of the oldest message not yet processed (0 when none waits).",
            ages.get("oldest_waiting", 0.0),
        )
        yield gauge(
            "pixbridge_intake_lag_seconds",
            "Seconds since this process last completed a mailbox accept stage without error, or a"
            " pass without the mailbox role (another instance reads it); since start if neither.",
            ages.get("intake_lag", 0.0),
        )
        yield gauge(
            "pixbridge_last_message_age_seconds",
            "Seconds since the newest message was accepted (by any instance): quiet mailbox.",
            ages.get("newest_message", 0.0),
        )
        yield gauge(
            "pixbridge_last_pass_age_seconds",
            "Seconds since this process last completed a pass (since start if it never has).",
            ages.get("last_pass", 0.0),
        )
        yield gauge(
            "pixbridge_oldest_outbox_age_seconds",
            "Age of the oldest mail still queued (0 when the outbox is empty).",
            ages.get("oldest_outbox", 0.0),
        )
        handled = CounterMetricFamily(
            "pixbridge_messages_handled",
            "Messages finished, by outcome (new_request, followup, comment, automated,"
            " duplicate, quarantined); totals of the state store, shared by all instances.",
            labels=["outcome"],
        )
        for outcome, count in sorted(b.outcomes.items()):
            handled.add_metric([outcome], count)
        yield handled
        expiry = GaugeMetricFamily(
            "pixbridge_credential_expiry_timestamp_seconds",
            "Unix time at which an adapter's credential (the settings key) expires; alert on"
            " expiry - time() < N days.",
            labels=["adapter", "credential"],
        )
        if backlog is not None:
            for e in self.metrics.credentials.expiries:
                expiry.add_metric([e.adapter, e.credential], e.expires_at.timestamp())
        yield expiry
