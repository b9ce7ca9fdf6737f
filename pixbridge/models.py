"""Domain objects passed between the core, the hooks and the adapters.

All of them are immutable dataclasses: a hook or an adapter that wants to change something returns
a new value, so no plugin can alter what another plugin sees behind its back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path

__all__ = [
    "AssigneeDecision",
    "Attachment",
    "ChangeBatch",
    "CommentDraft",
    "Completeness",
    "InboundRef",
    "Intake",
    "LicenseQuery",
    "LicenseResult",
    "LicenseVerdict",
    "MailOutcome",
    "OutgoingMail",
    "ParsedMessage",
    "PriorityDecision",
    "PublishedRelease",
    "ReleaseFile",
    "ReleaseManifest",
    "RequestDraft",
    "RequestStatus",
    "Screening",
    "Stage",
    "StageEvent",
    "TrackedRequest",
    "TrackerChange",
    "TrackerComment",
    "Verdict",
]


class RequestStatus(StrEnum):
    """Where a support request stands, in pixbridge's words (trackers map them to their own)."""

    REGISTERED = "registered"
    IN_PROGRESS = "in_progress"
    WAITING_FOR_CUSTOMER = "waiting_for_customer"
    COMPLETED = "completed"


class Stage(StrEnum):
    """The lifecycle stages observers are told about (GUIDE §3)."""

    ACCEPT = "accept"
    PARSE = "parse"
    SCREEN = "screen"
    THREAD = "thread"
    TRIAGE = "triage"
    REGISTER = "register"
    RESPOND = "respond"
    SYNC = "sync"
    DELIVER = "deliver"


class Verdict(StrEnum):
    """What kind of sender wrote a message, as far as screening can tell."""

    HUMAN = "human"
    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"
    BULK = "bulk"
    OWN = "own"
    """Mail we sent ourselves, come back (a loop)."""


class MailOutcome(StrEnum):
    """How a message left the pipeline; tells the mailbox where to move it."""

    PROCESSED = "processed"
    QUARANTINED = "quarantined"


@dataclass(frozen=True)
class Attachment:
    """A file that came with a message or goes to the tracker."""

    filename: str
    content_type: str
    data: bytes = field(repr=False)
    inline: bool = False
    content_id: str | None = None

    @property
    def size(self) -> int:
        """Size in bytes."""
        return len(self.data)


@dataclass(frozen=True)
class ParsedMessage:
    """What pixbridge understood of one raw message. The raw bytes stay stored as received."""

    message_id: str | None
    subject: str
    sender: str
    """The sender's address (addr-spec, lower case); empty when the message has none."""
    sender_name: str
    recipients: tuple[str, ...]
    date: datetime | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    text: str
    """The body as plain text (HTML-only mail converted to text)."""
    html: str | None
    attachments: tuple[Attachment, ...]
    headers: tuple[tuple[str, str], ...]
    """Every header as (lower-case name, decoded value), in order."""
    content_type: str
    return_path: str | None
    language: str
    defects: tuple[str, ...] = ()

    def header(self, name: str) -> str | None:
        """The first value of header *name* (case-insensitive), or ``None``."""
        wanted = name.lower()
        for key, value in self.headers:
            if key == wanted:
                return value
        return None

    def header_all(self, name: str) -> list[str]:
        """Every value of header *name* (case-insensitive), in order."""
        wanted = name.lower()
        return [value for key, value in self.headers if key == wanted]


@dataclass(frozen=True)
class Screening:
    """The screening verdict for one message and the reason for it."""

    verdict: Verdict
    reason: str

    @property
    def automated(self) -> bool:
        """True when no person wrote the message: it is recorded, never registered or answered."""
        return self.verdict is not Verdict.HUMAN


@dataclass(frozen=True)
class Intake:
    """A message on its way to becoming a request or a comment: what triage hooks look at."""

    message: ParsedMessage
    received_at: datetime
    """When the message reached us; every check of time uses this, never the wall clock."""
    customer: str
    language: str
    request_key: str | None = None
    """The request the message belongs to, when it is a reply."""
    known: Mapping[str, str] = field(default_factory=dict)
    """Required items already found in earlier messages of the request (item to what was found);
    a check of a reply counts them as present, so the reply only needs to supply the rest."""


@dataclass(frozen=True)
class PriorityDecision:
    """A priority level (``blocker``, ``high``, ``normal``, ``low``) and why."""

    level: str
    reason: str


@dataclass(frozen=True)
class AssigneeDecision:
    """Who takes the request (``None``: the tracker's default) and why."""

    assignee: str | None
    reason: str


@dataclass(frozen=True)
class Completeness:
    """Which required items a request lacks and what was found."""

    missing: tuple[str, ...] = ()
    found: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StageEvent:
    """What observers are told about a stage: which message or request, and details."""

    stage: Stage
    message_id: int | None = None
    """pixbridge's own number for the accepted message, if the stage concerns one."""
    request_key: str | None = None
    detail: Mapping[str, object] = field(default_factory=dict)


# ---------------------------------------------------------------- mail adapters


@dataclass(frozen=True)
class InboundRef:
    """A message waiting in a mailbox.

    ``ref`` is stable for as long as the message stays in the mailbox (an IMAP ``UIDVALIDITY:UID``,
    a Maildir key, a Graph immutable id), so the orchestrator can tell it has already accepted it.
    """

    ref: str
    size: int | None = None


@dataclass(frozen=True)
class OutgoingMail:
    """A complete RFC 5322 message ready to be sent, with its Message-ID chosen beforehand."""

    message_id: str
    sender: str
    recipients: tuple[str, ...]
    raw: bytes = field(repr=False)


# ---------------------------------------------------------------- tracker adapters


@dataclass(frozen=True)
class RequestDraft:
    """A new request to register in the tracker.

    ``marker`` is deterministic for the message that caused the request: a tracker must never hold
    two requests with the same marker. ``recovering`` is true when an earlier attempt may have
    created the request already (the outcome was unknown): the adapter then looks for the marker
    before creating anything.
    """

    marker: str
    summary: str
    description: str
    customer: str
    language: str
    priority: str
    assignee: str | None = None
    labels: tuple[str, ...] = ()
    fields: Mapping[str, str] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()
    recovering: bool = False


@dataclass(frozen=True)
class CommentDraft:
    """A comment to add to a request; ``marker`` makes the write idempotent like a draft's."""

    marker: str
    body: str
    public: bool
    author: str
    attachments: tuple[Attachment, ...] = ()
    recovering: bool = False


@dataclass(frozen=True)
class TrackerComment:
    """A comment as the tracker holds it."""

    id: str
    body: str
    public: bool
    author: str
    by_pixbridge: bool
    """True for comments pixbridge wrote itself (customer replies); never mailed back."""
    created_at: datetime
    attachments: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrackedRequest:
    """A request as the tracker holds it."""

    key: str
    status: RequestStatus
    summary: str
    description: str
    customer: str
    priority: str
    assignee: str | None
    attachments: tuple[str, ...] = ()
    links: tuple[str, ...] = ()
    comments: tuple[TrackerComment, ...] = ()
    fields: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TrackerChange:
    """Something an agent did in the tracker that the customer may need to hear about.

    ``change_id`` is unique and stable: the same change is never reported with two ids, so the
    orchestrator mails each change at most once.
    """

    change_id: str
    key: str
    at: datetime
    comment: TrackerComment | None = None
    status: RequestStatus | None = None
    answer: str | None = None
    """For a change to ``completed``: the answer given to the customer."""


@dataclass(frozen=True)
class ChangeBatch:
    """Changes since a watermark, and the watermark to ask from next time."""

    changes: tuple[TrackerChange, ...]
    watermark: str


# ---------------------------------------------------------------- licences


class LicenseVerdict(StrEnum):
    """The outcome of a licence check."""

    VALID = "valid"
    INVALID = "invalid"
    INDETERMINATE = "indeterminate"
    """The check could not be made (a server down): a person decides, it is never a refusal."""


@dataclass(frozen=True)
class LicenseQuery:
    """What a licence check is asked about, at the time the message arrived."""

    at: datetime
    serial: str | None = None
    dongle: str | None = None
    customer: str | None = None
    product: str | None = None
    certificates: tuple[bytes, ...] = field(default=(), repr=False)
    """Support certificates that came with the message (raw bytes, exactly as received)."""


@dataclass(frozen=True)
class LicenseResult:
    """The answer of one licence validator."""

    verdict: LicenseVerdict
    source: str
    codes: tuple[str, ...] = ()
    support_allowed: bool = False
    support_until: date | None = None
    evidence: Mapping[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------- releases


@dataclass(frozen=True)
class ReleaseFile:
    """One file of a distribution, with its checksum."""

    name: str
    sha256: str
    size: int
    path: Path


@dataclass(frozen=True)
class ReleaseManifest:
    """A release to publish: product, version ``generation.build`` and its files."""

    product: str
    version: str
    files: tuple[ReleaseFile, ...]
    notes: str = ""


@dataclass(frozen=True)
class PublishedRelease:
    """Where a publisher put a release."""

    publisher: str
    product: str
    version: str
    url: str
    details: Mapping[str, str] = field(default_factory=dict)
