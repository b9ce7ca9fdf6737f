"""Adapter contracts: the abstract classes every mailbox, tracker, licence and release adapter implements.

The core calls adapters only through these methods. An adapter:

- has a unique ``name`` (the key of its settings table, ``[adapters.<name>]``) and a ``kind``;
- declares its settings as a nested ``Settings`` model (``extra="forbid"``), which the core
  validates at start-up and hands to the constructor;
- does no I/O in ``__init__``; it connects in :meth:`Adapter.open` and lets go in
  :meth:`Adapter.close`;
- raises only :class:`pixbridge.errors.AdapterError` subclasses;
- may bring the next pass forward with :attr:`AdapterContext.wake` when it learns of work by
  push (a tracker's webhook, say), from any thread; it still finds the work itself in that
  pass through its usual methods, so a missed or forged wake costs nothing but a pass.

``pixbridge.testing.contracts`` holds a test suite per kind that every adapter runs against itself.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict

from pixbridge.models import (
    Attachment,
    ChangeBatch,
    CommentDraft,
    InboundRef,
    LicenseQuery,
    LicenseResult,
    MailOutcome,
    OutgoingMail,
    PublishedRelease,
    ReleaseManifest,
    RequestDraft,
    RequestStatus,
    TrackedRequest,
)

if TYPE_CHECKING:  # that module imports this one at run time
    from pixbridge.observability.credentials import CredentialExpiry

__all__ = [
    "Adapter",
    "AdapterContext",
    "AdapterKind",
    "AdapterSettings",
    "Clock",
    "LicenseValidator",
    "MailSender",
    "MailSource",
    "ReleasePublisher",
    "SystemClock",
    "Tracker",
]


class AdapterKind(StrEnum):
    """The five kinds of adapter the lifecycle uses."""

    MAIL_SOURCE = "mail_source"
    MAIL_SENDER = "mail_sender"
    TRACKER = "tracker"
    LICENSE_VALIDATOR = "license_validator"
    RELEASE_PUBLISHER = "release_publisher"


class AdapterSettings(BaseModel):
    """Base of every adapter's settings model: unknown keys are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Clock(Protocol):
    """Where time comes from; injected so that tests and replays control it."""

    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...


class SystemClock:
    """The real clock (UTC)."""

    def now(self) -> datetime:
        """The current time in UTC."""
        return datetime.now(UTC)


@dataclass(frozen=True)
class AdapterContext:
    """What the core gives every adapter besides its settings."""

    data_dir: Path
    """The deployment's data directory; an adapter keeps any state of its own under it."""
    clock: Clock = field(default_factory=SystemClock)
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("pixbridge.adapter"))
    wake: Callable[[], None] = field(default=lambda: None)
    """Ask for a pass now rather than after the idle wait; returns at once, safe from any thread.

    While idle the orchestrator waits for mail in one ``poll_interval`` call; once an adapter
    has called ``wake`` it waits in slices of ``[lifecycle] wake_check`` seconds and starts a
    pass when woken. So an adapter with a push channel calls it once when the channel opens
    (in :meth:`Adapter.open`), then whenever the channel says there is work. Outside the
    orchestrator (``pixbridge doctor``, tests) it does nothing."""


class Adapter(ABC):
    """Base class of all adapters."""

    name: ClassVar[str]
    """Unique name; also the settings table ``[adapters.<name>]``."""
    kind: ClassVar[AdapterKind]
    Settings: ClassVar[type[AdapterSettings]] = AdapterSettings
    """The adapter's settings model; override with a subclass of :class:`AdapterSettings`."""
    secret_fields: ClassVar[tuple[str, ...]] = ()
    """Settings keys that hold credentials, reported by ``pixbridge plugins`` when unset."""

    def __init__(self, settings: Any, context: AdapterContext) -> None:
        self.settings = settings
        self.context = context

    def open(self) -> None:  # noqa: B027 - optional by design
        """Connect or prepare resources. Called once before first use."""

    def close(self) -> None:  # noqa: B027 - optional by design
        """Release resources. Safe to call more than once."""

    def check(self) -> list[str]:
        """Problems ``pixbridge doctor`` should report (empty when all is well). May do I/O."""
        return []

    def credential_expiries(self) -> list[CredentialExpiry]:
        """When this adapter's credentials (client secret, certificate, API token) expire.

        Optional; empty by default. Read from the settings or local files only, never over
        the network: it is called on instances that were never opened (the adapter whose
        secret expired cannot open), hourly by ``pixbridge run`` and by ``pixbridge doctor``.
        See :mod:`pixbridge.observability.credentials` for the warnings it drives and
        :data:`~pixbridge.observability.credentials.ExpiryDate` for an expiry setting.
        """
        return []


class MailSource(Adapter):
    """A mailbox customers write to."""

    kind: ClassVar[AdapterKind] = AdapterKind.MAIL_SOURCE

    @abstractmethod
    def pending(self) -> Iterable[InboundRef]:
        """The messages waiting in the mailbox, oldest first. Must not change the mailbox."""

    @abstractmethod
    def read(self, ref: str) -> bytes:
        """The raw bytes of one waiting message, exactly as stored.

        Raises :class:`pixbridge.errors.PermanentAdapterError` if *ref* is no longer there.
        """

    @abstractmethod
    def acknowledge(self, ref: str, outcome: MailOutcome, reason: str = "") -> None:
        """Move the message out of the waiting set (never delete it).

        Called only after pixbridge has stored the message durably and finished with it. Must be
        idempotent: acknowledging a message that was already moved is not an error.
        """

    def wait(self, timeout: float) -> bool:
        """Block until new mail may have arrived or *timeout* seconds passed.

        Returns True if woken by the server (push). The default polls, i.e. just sleeps.
        """
        import time

        time.sleep(timeout)
        return False


class MailSender(Adapter):
    """Delivers outgoing mail."""

    kind: ClassVar[AdapterKind] = AdapterKind.MAIL_SENDER
    batches_durability: ClassVar[bool] = False
    """True when :meth:`send` may return before the mail would survive a power cut, or before
    it is delivered at all, and :meth:`flush` delivers every mail sent since the last flush
    durably (the Maildir sender syncs a batch's files together and moves them into ``new/``
    then, instead of syncing each mail on its own).

    Delivery then records a batch as sent only after :meth:`flush`, so a crash sends the whole
    batch again: declare it only where :meth:`send` writes nothing for a Message-ID it already
    has. Leave it false where a second send is a second copy (SMTP)."""

    @abstractmethod
    def send(self, mail: OutgoingMail) -> None:
        """Deliver *mail* to its recipients.

        Sending the same ``message_id`` again after a crash must not produce a second copy where
        the transport allows it to be avoided. Raises ``TransientAdapterError`` when delivery may
        succeed later, ``PermanentAdapterError`` when it cannot.
        """

    def flush(self) -> None:
        """Deliver every mail :meth:`send` returned for since the last flush, durably.

        Called by delivery after each batch when :attr:`batches_durability` is true; the default
        does nothing. Raises ``TransientAdapterError`` when the mails may not be on disk (they
        are sent again later).
        """


class Tracker(Adapter):
    """The registration system (Jira, or the built-in local tracker)."""

    kind: ClassVar[AdapterKind] = AdapterKind.TRACKER
    markers_always_checked: ClassVar[bool] = False
    """True when :meth:`create_request` and :meth:`add_comment` look for the marker on every
    call, ``recovering`` or not (the local tracker: a unique column).

    The lifecycle then records its intent before a tracker write without waiting for the disk:
    an intent lost to a power cut only makes the next attempt call without ``recovering``, which
    such a tracker answers with the request it already has. Leave it false where the lookup is a
    search (Jira): there the intent must be durable so that only a retry pays for it.
    """

    @abstractmethod
    def create_request(self, draft: RequestDraft) -> str:
        """Register a new request and return its key (its registration number).

        Idempotent by ``draft.marker``: when ``draft.recovering`` is true the adapter must first
        look for a request carrying the marker (patiently, if its search lags) and return that
        one's key instead of creating a second.
        """

    @abstractmethod
    def add_comment(self, key: str, draft: CommentDraft) -> str:
        """Add a comment (with attachments) to request *key*; return the comment id.

        Idempotent by ``draft.marker`` in the same way as :meth:`create_request`.
        """

    @abstractmethod
    def add_attachments(self, key: str, attachments: Sequence[Attachment]) -> None:
        """Attach files to request *key*. A file already attached (same name and size) is skipped."""

    @abstractmethod
    def set_status(self, key: str, status: RequestStatus) -> None:
        """Move request *key* to *status*; setting the status it already has is not an error."""

    @abstractmethod
    def link(self, key: str, follows: str) -> None:
        """Record that request *key* follows the (completed) request *follows*."""

    @abstractmethod
    def get_request(self, key: str) -> TrackedRequest:
        """The request *key* with its comments; ``PermanentAdapterError`` if there is none."""

    @abstractmethod
    def changes_since(self, watermark: str | None) -> ChangeBatch:
        """Comments and status changes made after *watermark* (``None``: from the beginning).

        Changes made by pixbridge itself are included with ``by_pixbridge`` set, or left out.
        """

    def grouped(self) -> AbstractContextManager[None]:
        """A block whose writes belong together: the registration of one request.

        An adapter that can commit several writes at once (the local tracker: one database
        transaction, one disk sync instead of one per write) does so when the block ends; the
        default writes each at once. Nothing may rely on the group being atomic: a crash inside
        it leaves any prefix of its writes, which the markers make safe to repeat.
        """
        return nullcontext()

    def comment(self, key: str, body: str, *, public: bool, author: str) -> str:
        """Add an agent's comment (the local tracker's agent interface); optional."""
        raise NotImplementedError(f"the {self.name} tracker takes agents' comments in its own UI")

    def complete(self, key: str, answer: str, *, author: str) -> None:
        """Complete *key* with *answer* (the local tracker's agent interface); optional."""
        raise NotImplementedError(f"the {self.name} tracker completes requests in its own UI")

    def set_fix_version(self, key: str, product: str, version: str) -> None:
        """Record that *key* is answered by build *version* of *product* (Jira: the fix version).

        Optional: pixbridge keeps the mark in its state store either way. Setting the same
        version again is not an error.
        """
        raise NotImplementedError(f"the {self.name} tracker keeps no fix version")


class LicenseValidator(Adapter):
    """Checks a customer's entitlement: serial number, hardware key, support certificate."""

    kind: ClassVar[AdapterKind] = AdapterKind.LICENSE_VALIDATOR

    @abstractmethod
    def validate(self, query: LicenseQuery) -> LicenseResult:
        """Check *query* as of ``query.at``. Never raises for a bad licence: that is a verdict.

        An unreachable backend is reported as an ``indeterminate`` result, not an exception.
        """


class ReleasePublisher(Adapter):
    """Publishes a distribution somewhere customers can download it."""

    kind: ClassVar[AdapterKind] = AdapterKind.RELEASE_PUBLISHER

    @abstractmethod
    def publish(self, manifest: ReleaseManifest) -> PublishedRelease:
        """Publish *manifest*; publishing the identical manifest again finishes or repeats nothing."""

    @abstractmethod
    def find(self, product: str, version: str) -> PublishedRelease | None:
        """The published release, or ``None`` if this publisher has not published it."""
