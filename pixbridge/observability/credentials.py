"""Warnings before a client secret, certificate or API token expires and intake stops.

An adapter that knows when its credentials expire says so through
:meth:`pixbridge.adapters.Adapter.credential_expiries`, from its settings (an expiry date the
operator copied from the portal) or a local file (a certificate's notAfter). This module
collects those dates from the configured adapters and judges them against
``[observability] credential_warning_days``:

- :class:`CredentialWatcher` (on the orchestrator) logs a warning once a day per credential
  inside the window, an error once expired;
- :class:`~pixbridge.observability.metrics.Metrics` exports each date as
  ``pixbridge_credential_expiry_timestamp_seconds``, from the watcher's :class:`ExpiryReading`
  (one reading an hour serves both);
- ``pixbridge doctor`` lists them and fails on an expired one.

:data:`ExpiryDate` is the settings type for such a date, so every plugin parses it alike.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

from pydantic import BeforeValidator

from pixbridge.adapters import Adapter, AdapterContext, AdapterKind

if TYPE_CHECKING:
    from pixbridge.errors import AdapterError
    from pixbridge.lifecycle.app import App
    from pixbridge.lifecycle.orchestrator import PassResult
    from pixbridge.store.db import StoreUnavailable

__all__ = [
    "CHECK_EVERY",
    "CredentialExpiry",
    "CredentialWatcher",
    "ExpiryDate",
    "ExpiryReading",
    "Urgency",
    "credential_expiries",
    "describe",
    "expiry_moment",
    "urgency",
]

log = logging.getLogger("pixbridge.credentials")

CHECK_EVERY = timedelta(hours=1)
"""How often the running process reads the expiry dates again (a renewed certificate file)."""


@dataclass(frozen=True)
class CredentialExpiry:
    """When one credential of one adapter stops working."""

    adapter: str
    """The adapter's name, i.e. its settings table ``[adapters.<adapter>]``."""
    credential: str
    """The settings key holding the credential (``client_secret``, ``certificate_file``...)."""
    expires_at: datetime
    """The moment it expires (timezone-aware)."""
    source: str
    """Where the date comes from: ``settings`` (an expiry date set by hand) or ``certificate``."""
    renew: str = ""
    """What to do, naming the settings to change; empty: a generic "renew it" is said."""

    @property
    def where(self) -> str:
        """The setting's full name, ``adapters.<adapter>.<credential>``."""
        return f"adapters.{self.adapter}.{self.credential}"


class Urgency(StrEnum):
    """How close an expiry is, as judged against ``credential_warning_days``."""

    OK = "ok"
    SOON = "soon"
    EXPIRED = "expired"


# ---------------------------------------------------------------------------- settings type


def expiry_moment(value: object) -> datetime:
    """An expiry setting as an aware datetime.

    A date (``2026-03-31``, a TOML date or the same as a string) means the start of that day
    in UTC: portals show the day, and a warning a few hours early is better than one late. A
    date-time keeps its time; one without a zone is taken as UTC.

    :raises ValueError: for anything else, saying how to write it.
    """
    if isinstance(value, str):
        with contextlib.suppress(ValueError):  # left a string: refused below
            value = datetime.fromisoformat(value.strip())  # a bare date gives 00:00
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise ValueError(
        f"{value!r} is not an expiry date; write it as YYYY-MM-DD (e.g. 2026-03-31) or as a "
        "date-time with its zone (2026-03-31T09:30:00Z)"
    )


ExpiryDate = Annotated[datetime, BeforeValidator(expiry_moment)]
"""Settings type of an expiry date: ``secret_expires: ExpiryDate | None = None``."""


# ---------------------------------------------------------------------------- collecting


def _configured(app: App) -> list[tuple[str, AdapterKind]]:
    """Every adapter the pipeline uses, in pipeline order, once."""
    pipeline = app.settings.pipeline
    wanted = [
        (pipeline.mail_source, AdapterKind.MAIL_SOURCE),
        (pipeline.mail_sender, AdapterKind.MAIL_SENDER),
        (pipeline.tracker, AdapterKind.TRACKER),
        *((n, AdapterKind.LICENSE_VALIDATOR) for n in pipeline.license_validators),
        *((n, AdapterKind.RELEASE_PUBLISHER) for n in pipeline.publishers),
    ]
    return list(dict.fromkeys(wanted))


def _fresh(app: App, name: str, kind: AdapterKind) -> Adapter:
    """A new, unopened instance of adapter *name*.

    Unopened on purpose: the adapter whose secret has expired is the one that cannot open,
    and its expiry must still be seen. Adapters do no I/O before :meth:`Adapter.open`.
    """
    context = AdapterContext(
        data_dir=app.settings.data_dir,
        clock=app.clock,
        logger=logging.getLogger(f"pixbridge.adapter.{name}"),
    )
    return app.plugins.registry.get(name, kind).cls(app.adapter_settings[name], context)


def credential_expiries(app: App) -> list[CredentialExpiry]:
    """Every known credential expiry of the adapters the pipeline uses, soonest first.

    Each is asked on a fresh, unopened instance (see :meth:`Adapter.credential_expiries`).
    An adapter that fails to tell is logged and skipped: a broken certificate file is
    reported by its own checks, and must not stop the others' warnings.
    """
    found: dict[tuple[str, str], CredentialExpiry] = {}
    for name, kind in _configured(app):
        try:
            expiries = _fresh(app, name, kind).credential_expiries()
        except Exception as exc:
            log.warning("adapters.%s: cannot tell when its credentials expire: %s", name, exc)
            continue
        for expiry in expiries:
            found.setdefault((expiry.adapter, expiry.credential), expiry)
    return sorted(found.values(), key=lambda e: (e.expires_at, e.adapter, e.credential))


class ExpiryReading:
    """The expiries as last read, read again once :data:`CHECK_EVERY` has passed.

    Shared by whoever needs the dates (the watcher's log, the metric): each asks through
    :meth:`refresh`, and the adapters are built and asked once per interval, whoever asks first.
    """

    def __init__(self, app: App, *, every: timedelta = CHECK_EVERY) -> None:
        self.app = app
        self.every = every
        self.expiries: list[CredentialExpiry] = []
        """What the last reading found."""
        self.read_at: datetime | None = None
        """When that was; ``None``: never yet."""

    def read(self, now: datetime) -> list[CredentialExpiry]:
        """Ask the adapters now."""
        self.read_at = now  # first: a failing reading waits its interval like any other
        self.expiries = credential_expiries(self.app)
        return self.expiries

    def refresh(self, now: datetime) -> list[CredentialExpiry]:
        """The expiries, read again first if never read or :attr:`every` has passed since."""
        if self.read_at is None or now - self.read_at >= self.every:
            self.read(now)
        return self.expiries


# ---------------------------------------------------------------------------- judging


def urgency(expiry: CredentialExpiry, now: datetime, warning_days: int) -> Urgency:
    """Expired, within *warning_days* of expiring, or neither, as of *now*."""
    if expiry.expires_at <= now:
        return Urgency.EXPIRED
    if expiry.expires_at - now <= timedelta(days=warning_days):
        return Urgency.SOON
    return Urgency.OK


def _span(delta: timedelta) -> str:
    if delta >= timedelta(days=2):
        return f"{delta.days} days"
    hours = int(delta.total_seconds() // 3600)
    return {0: "under an hour", 1: "1 hour"}.get(hours, f"{hours} hours")


def describe(expiry: CredentialExpiry, now: datetime, *, advice: bool = True) -> str:
    """One line naming the setting, when it expires or expired, and (with *advice*) what to
    do; never the secret itself."""
    at = expiry.expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    what = f"{expiry.where} ({expiry.source})"
    if expiry.expires_at <= now:
        told = f"{what} expired {at}, {_span(now - expiry.expires_at)} ago"
    else:
        told = f"{what} expires {at}, in {_span(expiry.expires_at - now)}"
    if not advice:
        return told
    return f"{told}: {expiry.renew or f'renew it and update {expiry.where}'}"


class CredentialWatcher:
    """Logs credentials about to expire; a :class:`~pixbridge.lifecycle.orchestrator.PassWatcher`.

    It refreshes its :attr:`reading` at every stage (at most one reading per :data:`CHECK_EVERY`,
    so it costs a clock reading per stage) and judges each new reading, whoever took it. Each
    credential is logged at most once per (UTC) day: a warning within ``[observability]
    credential_warning_days``, an error once expired (at once when a warning turns into an error).
    """

    def __init__(self, app: App, *, every: timedelta = CHECK_EVERY) -> None:
        self.app = app
        self.reading = ExpiryReading(app, every=every)
        """The dates, shared with the metrics (:meth:`~pixbridge.observability.metrics.Metrics.watching`)."""
        self._judged_at: datetime | None = None
        """When the reading last judged was taken."""
        self._told: dict[tuple[str, str], tuple[Urgency, date]] = {}

    def stage_done(
        self,
        stage: str,
        seconds: float,
        handled: int,
        error: AdapterError | StoreUnavailable | None,
    ) -> None:
        """Check if due (the first stage of the first pass is the start)."""
        self._maybe_check()

    def pass_done(self, result: PassResult) -> None:
        """Check if due."""
        self._maybe_check()

    @property
    def expiries(self) -> list[CredentialExpiry]:
        """What the last reading found."""
        return self.reading.expiries

    def _maybe_check(self) -> None:
        try:
            now = self.app.clock.now()
            self.reading.refresh(now)
            if self.reading.read_at != self._judged_at:  # ours, or the metrics' at start
                self._judge(now)
        except Exception:  # a watcher must never break the pass
            log.exception("checking credential expiry failed")

    def check(self, now: datetime) -> list[CredentialExpiry]:
        """Read the expiries now and log those due a warning or error today."""
        self.reading.read(now)
        self._judge(now)
        return self.expiries

    def _judge(self, now: datetime) -> None:
        self._judged_at = self.reading.read_at
        days = self.app.settings.observability.credential_warning_days
        for expiry in self.expiries:
            level = urgency(expiry, now, days)
            key = (expiry.adapter, expiry.credential)
            if level is Urgency.OK:
                self._told.pop(key, None)
                continue
            today = now.astimezone(UTC).date()
            if self._told.get(key) == (level, today):
                continue
            self._told[key] = (level, today)
            if level is Urgency.EXPIRED:
                log.error("%s", describe(expiry, now))
            else:
                log.warning(
                    "%s (warning %d days ahead: [observability] credential_warning_days)",
                    describe(expiry, now),
                    days,
                )
